//! What the shared suite (tests/suite.rs) cannot see from outside, for the
//! backends built on rwsgi-futures-io (smol, async-std): which threads run
//! requests, the connection limit, adopted listeners, refused engines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi::{Body, Config, Engine, Environ, Listener, Server, ServerHandle, StartResponse};

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
    server: impl Server,
    app: impl rwsgi::Application,
) -> (
    SocketAddr,
    ServerHandle,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let addr = match &server.local_addrs()[0] {
        rwsgi::Addr::Tcp(addr) => *addr,
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
fn thread_name(_: &mut Environ, sr: &StartResponse) -> rwsgi::Result<Body> {
    sr.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(
        std::thread::current().name().unwrap_or("?").to_owned(),
    ))
}

fn io_threads_is_the_number_of_threads_that_run_requests<S: Server>() {
    for engine in S::ENGINES {
        for threads in [1, 3] {
            let mut config = config(*engine);
            config.io_threads = threads;
            let (addr, handle, thread) = start(S::bind(config).unwrap(), thread_name);
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
                .chain((1..threads).map(|i| format!("rwsgi-{}-{i}", S::NAME)))
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

fn max_connections_leaves_the_next_one_in_the_backlog<S: Server>() {
    for engine in S::ENGINES {
        let mut config = config(*engine);
        config.max_connections = 1;
        let (addr, handle, thread) = start(S::bind(config).unwrap(), thread_name);
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

fn adopts_a_listener<S: Server>() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut one_loop = config(Engine::AsyncH1);
    one_loop.io_threads = 1;
    let server = S::from_listeners(one_loop, vec![Listener::Tcp(listener)]).unwrap();
    let (addr, handle, thread) = start(server, thread_name);
    assert_eq!(get(addr), "runner");
    stop(&handle, thread);
}

/// Each test, for backend `S`.
macro_rules! backend_tests {
    ($module:ident, $server:ty) => {
        mod $module {
            #[test]
            fn io_threads_is_the_number_of_threads_that_run_requests() {
                super::io_threads_is_the_number_of_threads_that_run_requests::<$server>();
            }

            #[test]
            fn max_connections_leaves_the_next_one_in_the_backlog() {
                super::max_connections_leaves_the_next_one_in_the_backlog::<$server>();
            }

            #[test]
            fn adopts_a_listener() {
                super::adopts_a_listener::<$server>();
            }
        }
    };
}

#[cfg(feature = "smol-backend")]
backend_tests!(smol, rwsgi::SmolServer);
#[cfg(feature = "async-std-backend")]
backend_tests!(async_std, rwsgi::AsyncStdServer);

/// smol drives every engine there is, so there is none to refuse there.
#[cfg(feature = "smol-backend")]
#[test]
fn smol_drives_every_engine() {
    assert_eq!(
        rwsgi::SmolServer::ENGINES,
        &[Engine::Hyper, Engine::AsyncH1, Engine::H1]
    );
}

#[cfg(feature = "async-std-backend")]
#[test]
fn async_std_refuses_an_engine_it_lacks() {
    let err = rwsgi::AsyncStdServer::bind(config(Engine::Hyper)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "the async-std backend cannot drive the hyper engine; it drives: async-h1, h1"
    );
}
