//! What the shared suite (tests/suite.rs at the workspace root) cannot see
//! from outside: which threads run requests, the connection limit, adopted
//! listeners, refused engines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi_core::{Body, Config, Engine, Environ, Listener, Server, ServerHandle, StartResponse};
use rwsgi_smol::SmolServer;

const DEADLINE: Duration = Duration::from_secs(20);

fn config(engine: Engine) -> Config {
    let mut config = Config::default();
    config.binds = vec!["127.0.0.1:0".parse().unwrap()];
    config.engine = Some(engine);
    config
}

/// Starts `server` on a thread named `runner`; returns its address and
/// handle, and the thread to join.
fn start(
    server: SmolServer,
    app: impl rwsgi_core::Application,
) -> (
    SocketAddr,
    ServerHandle,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let addr = match &server.local_addrs()[0] {
        rwsgi_core::Addr::Tcp(addr) => *addr,
        other => panic!("{other}"),
    };
    let handle = server.handle();
    let thread = std::thread::Builder::new()
        .name("runner".into())
        .spawn(move || server.run(app))
        .unwrap();
    (addr, handle, thread)
}

fn stop(handle: &ServerHandle, thread: std::thread::JoinHandle<std::io::Result<()>>) {
    handle.shutdown(Duration::ZERO);
    let start = Instant::now();
    while !thread.is_finished() {
        assert!(start.elapsed() < DEADLINE, "the server did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap().unwrap();
}

/// One request on a connection of its own; the body of the answer.
fn get(addr: SocketAddr) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let sent = Instant::now();
    conn.read_to_string(&mut response).unwrap();
    // The close shuts down the sending side at once; a stream whose close
    // only flushed would end only after the 2 s lingering close.
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "the connection ended after {:?}",
        sent.elapsed()
    );
    let (_, body) = response.split_once("\r\n\r\n").expect("a response");
    body.to_owned()
}

/// The name of the thread the application ran on.
fn thread_name(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
    sr.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(
        std::thread::current().name().unwrap_or("?").to_owned(),
    ))
}

#[test]
fn io_threads_is_the_number_of_threads_that_run_requests() {
    for engine in SmolServer::ENGINES {
        for threads in [1, 3] {
            let mut config = config(*engine);
            config.io_threads = threads;
            let (addr, handle, thread) = start(SmolServer::bind(config).unwrap(), thread_name);
            let seen: Arc<Mutex<Vec<String>>> = Arc::default();
            let clients: Vec<_> = (0..24)
                .map(|_| {
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || seen.lock().unwrap().push(get(addr)))
                })
                .collect();
            for client in clients {
                client.join().unwrap();
            }
            let mut names = seen.lock().unwrap().clone();
            names.sort();
            names.dedup();
            let allowed: Vec<String> = std::iter::once("runner".to_owned())
                .chain((1..threads).map(|i| format!("rwsgi-smol-{i}")))
                .collect();
            assert!(
                names.iter().all(|n| allowed.contains(n)),
                "{engine}, io_threads {threads}: requests ran on {names:?}"
            );
            if threads == 1 {
                assert_eq!(names, ["runner"], "{engine}: one event loop, the caller's thread");
            }
            stop(&handle, thread);
        }
    }
}

#[test]
fn max_connections_leaves_the_next_one_in_the_backlog() {
    for engine in SmolServer::ENGINES {
        let mut config = config(*engine);
        config.max_connections = 1;
        let (addr, handle, thread) = start(SmolServer::bind(config).unwrap(), thread_name);
        let mut first = TcpStream::connect(addr).unwrap();
        first.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        first.set_read_timeout(Some(DEADLINE)).unwrap();
        assert!(
            first.read(&mut buf).unwrap() > 0,
            "the first connection is served"
        );
        let mut second = TcpStream::connect(addr).unwrap();
        second.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        // A negative: nothing may come while the first is open. Waiting a
        // while is the only way to see that.
        second.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let err = second
            .read(&mut buf)
            .expect_err("not served while the first is open");
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
        assert_eq!(handle.connections(), 1);
        drop(first);
        second.set_read_timeout(Some(DEADLINE)).unwrap();
        assert!(
            second.read(&mut buf).unwrap() > 0,
            "served once the first has closed"
        );
        drop(second);
        stop(&handle, thread);
    }
}

#[test]
fn adopts_a_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut one_loop = config(Engine::AsyncH1);
    one_loop.io_threads = 1;
    let server = SmolServer::from_listeners(one_loop, vec![Listener::Tcp(listener)]).unwrap();
    let (addr, handle, thread) = start(server, thread_name);
    assert_eq!(get(addr), "runner");
    stop(&handle, thread);
    // smol drives every engine there is, so there is none to refuse here;
    // the async-std and tokio backends test their refusals.
    assert_eq!(SmolServer::ENGINES, &[Engine::Hyper, Engine::AsyncH1, Engine::H1]);
}
