//! The gevent personality: `WsgiServer` as pywsgi's `WSGIServer` (listener
//! forms, `spawn`, `start`/`serve_forever`/`stop`, drop = stop), pywsgi's
//! environ, limits and access-log line, `Pool(n)` backpressure, TLS
//! (`keyfile=`/`certfile=`), and `rwsgi gevent`. Servers run on 127.0.0.1, in this process or as a child
//! process.

#![cfg(feature = "gevent")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::raw::{Conn, get};
use common::{ChildServer, DEADLINE, wait_until};
use rwsgi::backends::Compiled;
use rwsgi::{Application, Body, BoxError, Engine, Environ, ErrorBuffer, Errors, StartResponse, demo};
use rwsgi_gevent::{Pool, Spawn, WsgiServer};

/// The application: the demo apps by path, plus `/hold`, which enters (the
/// test sees it), counts itself as in flight and answers only once the
/// test releases one.
#[derive(Clone)]
struct App {
    entered: async_channel::Sender<()>,
    release: async_channel::Receiver<()>,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl App {
    fn new() -> (Self, async_channel::Receiver<()>, async_channel::Sender<()>) {
        let (entered_tx, entered) = async_channel::unbounded();
        let (release, release_rx) = async_channel::unbounded();
        let app = App {
            entered: entered_tx,
            release: release_rx,
            in_flight: Arc::default(),
            most: Arc::default(),
        };
        (app, entered, release)
    }
}

impl Application for App {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        match environ.path_info.as_str() {
            "/hello" => demo::hello(environ, start_response),
            "/environ" => demo::environ(environ, start_response),
            "/sleep" => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                let in_flight = Arc::clone(&self.in_flight);
                Ok(demo::sleep(environ, start_response)?.on_close(move || {
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }))
            }
            "/hold" => {
                self.entered.send_blocking(()).unwrap();
                start_response.start("200 OK", [("Content-Type", "text/plain")])?;
                let release = self.release.clone();
                Ok(Body::stream(futures_lite::stream::once_future(async move {
                    release.recv().await?;
                    Ok::<_, async_channel::RecvError>("released\n")
                })))
            }
            _ => {
                start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
                Ok(Body::from("not found\n"))
            }
        }
    }
}

fn started(server: WsgiServer, backend: &'static str, engine: Engine) -> WsgiServer {
    server
        .start_with(Arc::new(Compiled), Some(backend), Some(engine))
        .expect("the server starts");
    server
}

fn default_backend() -> (&'static str, Engine) {
    rwsgi::backends::combinations()[0]
}

fn request_close(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").into_bytes()
}

/// `WSGIServer(("127.0.0.1", 0), app)`: pywsgi's environ extras, header
/// names with `_` dropped, no `Server` header; `stop()` closes the
/// listener — on every backend and engine.
#[test]
fn wsgi_server_environ_on_every_backend() {
    for (backend, engine) in rwsgi::backends::combinations() {
        let (app, _, _) = App::new();
        let server = started(WsgiServer::new(("127.0.0.1", 0), app).log(None), backend, engine);
        assert!(server.started());
        let addr = server.address().unwrap();
        assert_eq!(server.server_port(), Some(addr.port()));
        let mut conn = Conn::connect(addr);
        let local_port = conn.stream.local_addr().unwrap().port();
        conn.send(
            b"GET /environ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 1.1.1.1\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n",
        );
        let response = conn.response(false).unwrap();
        assert_eq!(
            response.header("server"),
            None,
            "{backend}/{engine}: pywsgi sends no Server header"
        );
        assert!(response.header("date").is_some());
        let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(env["GATEWAY_INTERFACE"], "CGI/1.1");
        assert!(
            env["SERVER_SOFTWARE"].as_str().unwrap().starts_with("gevent/"),
            "{env}"
        );
        assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
        assert_eq!(env["REMOTE_PORT"], local_port.to_string());
        assert_eq!(env["wsgi.input_terminated"], "True");
        assert_eq!(env["wsgi.multithread"], "False");
        assert_eq!(
            env["HTTP_X_FORWARDED_FOR"], "1.1.1.1",
            "the _ spelling is dropped"
        );
        server.stop(None);
        assert!(!server.started());
        assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    }
}

/// The `listener` argument: a tuple, a string, a `SocketAddr`, or an
/// already-bound socket; a bad string is refused when starting.
#[test]
fn listener_forms() {
    let (backend, engine) = default_backend();
    let bound = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bound_addr = bound.local_addr().unwrap();
    let forms: Vec<rwsgi_gevent::Address> = vec![
        ("127.0.0.1", 0).into(),
        "127.0.0.1:0".into(),
        SocketAddr::from(([127, 0, 0, 1], 0)).into(),
        bound.into(),
    ];
    for form in forms {
        let (app, _, _) = App::new();
        let server = started(WsgiServer::new(form, app).log(None), backend, engine);
        let addr = server.address().unwrap();
        assert!(addr.ip().is_loopback());
        let mut conn = Conn::connect(addr);
        conn.send(&get("/hello"));
        assert_eq!(conn.response(false).unwrap().status, 200);
        server.stop(None);
    }
    let (app, _, _) = App::new();
    let server = WsgiServer::new("127.0.0.1:http", app);
    let err = server
        .start_with(Arc::new(Compiled), Some(backend), Some(engine))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("Failed to parse address"), "{err}");
    let _ = bound_addr;
}

/// `spawn=Pool(2)`: with two connections busy, a third is not served (not
/// even accepted) until one finishes; then it is, and nothing is dropped —
/// on every backend and engine.
#[test]
fn pool_backpressure_on_every_backend() {
    for (backend, engine) in rwsgi::backends::combinations() {
        let (app, entered, release) = App::new();
        let server = started(
            WsgiServer::new(("127.0.0.1", 0), app)
                .spawn(Pool::new(2))
                .log(None),
            backend,
            engine,
        );
        let addr = server.address().unwrap();
        let handle = server.handle().unwrap();
        let mut busy: Vec<Conn> = (0..2)
            .map(|_| {
                let mut conn = Conn::connect(addr);
                conn.send(&request_close("/hold"));
                conn
            })
            .collect();
        for _ in 0..2 {
            entered.recv_blocking().unwrap();
        }
        assert_eq!(handle.connections(), 2);
        // The third connects (the kernel's backlog takes it) but is not
        // accepted, so its request is not answered.
        let mut third = Conn::connect(addr);
        third.send(&request_close("/hello"));
        third
            .stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0u8; 1];
        let early = third.stream.read(&mut byte);
        assert!(
            early.as_ref().is_err_and(|e| matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )),
            "{backend}/{engine}: the third connection was served while the pool was full: {early:?}"
        );
        assert_eq!(handle.connections(), 2, "not accepted");
        third.stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // One finishes (and its client closes, as clients do after
        // `Connection: close`; until then the server's lingering close
        // keeps the slot): its slot goes to the third.
        release.send_blocking(()).unwrap();
        let mut first = busy.remove(0);
        assert_eq!(first.response(false).unwrap().body_text(), "released\n");
        drop(first);
        let response = third.response(false).expect("served once a slot freed");
        assert_eq!(
            (response.status, response.body_text().as_str()),
            (200, "Hello, World!\n")
        );
        release.send_blocking(()).unwrap();
        assert_eq!(busy[0].response(false).unwrap().body_text(), "released\n");
        // Closed clients: the server's lingering closes end at once.
        busy.clear();
        drop(third);
        server.stop(None);
        assert_eq!(handle.requests(), 3, "{backend}/{engine}: every request served");
    }
}

/// Many clients at once against `Pool(3)`: never more than three handled
/// at a time, every request answered.
#[test]
fn a_full_pool_queues_and_drops_nothing() {
    let (backend, engine) = default_backend();
    let (app, _, _) = App::new();
    let most = Arc::clone(&app.most);
    let server = started(
        WsgiServer::new(("127.0.0.1", 0), app).spawn(3usize).log(None),
        backend,
        engine,
    );
    let addr = server.address().unwrap();
    let clients: Vec<_> = (0..24)
        .map(|_| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(addr);
                conn.send(&request_close("/sleep?ms=50"));
                conn.response(false).map(|r| r.status)
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), Some(200));
    }
    let most = most.load(Ordering::SeqCst);
    assert!((1..=3).contains(&most), "at most 3 at once, saw {most}");
    server.stop(None);
}

/// pywsgi's `MAX_REQUEST_LINE`: a line of 8 192 bytes or more, CRLF
/// included, is answered 414.
#[test]
fn request_line_limit_is_8192_with_the_crlf() {
    let (backend, engine) = default_backend();
    let (app, _, _) = App::new();
    let server = started(WsgiServer::new(("127.0.0.1", 0), app).log(None), backend, engine);
    let addr = server.address().unwrap();
    let line = |len: usize| {
        // "GET /xxx HTTP/1.1" of `len` bytes
        let path = format!("/{}", "a".repeat(len - "GET / HTTP/1.1".len()));
        let line = format!("GET {path} HTTP/1.1");
        assert_eq!(line.len(), len);
        format!("{line}\r\nHost: t\r\n\r\n")
    };
    let mut conn = Conn::connect(addr);
    conn.send(line(8189).as_bytes());
    assert_eq!(
        conn.response(false).unwrap().status,
        404,
        "8 191 bytes with CRLF: served"
    );
    let mut conn = Conn::connect(addr);
    conn.send(line(8190).as_bytes());
    assert_eq!(
        conn.response(false).unwrap().status,
        414,
        "8 192 bytes with CRLF: too long"
    );
    server.stop(None);
}

/// pywsgi's access-log line: `client - - [YYYY-MM-DD HH:MM:SS] "request
/// line" status length seconds`, the length being every byte of a
/// `Content-Length` response; `log=None` writes nothing.
#[test]
fn access_log_line_is_pywsgis_on_every_backend() {
    for (backend, engine) in rwsgi::backends::combinations() {
        let log = ErrorBuffer::new();
        let (app, _, _) = App::new();
        let server = started(
            WsgiServer::new(("127.0.0.1", 0), app).log(Some(Errors::new(log.clone()))),
            backend,
            engine,
        );
        let addr = server.address().unwrap();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.write_all(&request_close("/hello?x=1")).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let mut conn = Conn::connect(addr);
        conn.send(b"GET /missing HTTP/1.0\r\n\r\n");
        assert_eq!(conn.response(false).unwrap().status, 404);
        wait_until(DEADLINE, "two lines", || log.contents().lines().count() == 2);
        let contents = log.contents();
        let lines: Vec<&str> = contents.lines().collect();
        let length = check_line(lines[0], "GET /hello?x=1 HTTP/1.1", 200);
        assert_eq!(
            length,
            response.len().to_string(),
            "{backend}/{engine}: the length is every byte sent: {:?}",
            String::from_utf8_lossy(&response)
        );
        check_line(lines[1], "GET /missing HTTP/1.0", 404);
        drop((stream, conn));
        server.stop(None);
    }
    let log = ErrorBuffer::new();
    let (app, _, _) = App::new();
    let (backend, engine) = default_backend();
    let server = started(WsgiServer::new(("127.0.0.1", 0), app).log(None), backend, engine);
    let mut conn = Conn::connect(server.address().unwrap());
    conn.send(&get("/hello"));
    conn.response(false).unwrap();
    server.stop(None);
    assert_eq!(log.contents(), "", "log=None");
}

/// Checks one line; returns its length field.
fn check_line(line: &str, request_line: &str, status: u16) -> String {
    let rest = line
        .strip_prefix("127.0.0.1 - - [")
        .unwrap_or_else(|| panic!("{line:?}"));
    let (stamp, rest) = rest.split_once("] ").unwrap();
    let b = stamp.as_bytes();
    assert!(
        stamp.len() == 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':',
        "YYYY-MM-DD HH:MM:SS: {line:?}"
    );
    let rest = rest
        .strip_prefix(&format!("\"{request_line}\" {status} "))
        .unwrap_or_else(|| panic!("{request_line:?} {status} in {line:?}"));
    let (length, seconds) = rest.split_once(' ').unwrap();
    assert!(length.parse::<u64>().is_ok(), "{line:?}");
    let (whole, fraction) = seconds.split_once('.').unwrap();
    assert!(
        whole.parse::<u64>().is_ok() && fraction.len() == 6,
        "%.6f: {line:?}"
    );
    length.to_owned()
}

/// `stop(timeout)`: the listener closes, a request in flight gets
/// `timeout` to finish, then its connection is closed.
#[test]
fn stop_waits_for_the_timeout_then_cancels() {
    let (backend, engine) = default_backend();
    let (app, entered, _release) = App::new();
    let server = started(WsgiServer::new(("127.0.0.1", 0), app).log(None), backend, engine);
    let addr = server.address().unwrap();
    let mut held = Conn::connect(addr);
    held.send(&get("/hold"));
    entered.recv_blocking().unwrap();
    let asked = Instant::now();
    server.stop(Some(Duration::from_millis(300)));
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "waited for the timeout: {took:?}"
    );
    assert!(took < DEADLINE, "{took:?}");
    assert!(TcpStream::connect(addr).is_err());
    // The held request was cancelled: its connection ends.
    let rest = held.read_to_close();
    assert!(!String::from_utf8_lossy(&rest).contains("released"), "{rest:?}");
}

/// Dropping the last handle of a started server stops it (the
/// `with WSGIServer(...)` analogue); `serve_forever` blocks until `stop`.
#[test]
fn drop_stops_and_serve_forever_blocks() {
    let (backend, engine) = default_backend();
    let (app, _, _) = App::new();
    let server = started(WsgiServer::new(("127.0.0.1", 0), app).log(None), backend, engine);
    let addr = server.address().unwrap();
    let mut conn = Conn::connect(addr);
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "dropped: stopped");

    let (app, _, _) = App::new();
    let server = WsgiServer::new(("127.0.0.1", 0), app)
        .log(None)
        .spawn(Spawn::Default);
    server.init_socket().unwrap();
    let addr = server.address().unwrap();
    let serving = server.clone();
    let thread =
        std::thread::spawn(move || serving.serve_forever_with(&Compiled, Some(backend), Some(engine)));
    let mut conn = Conn::connect(addr);
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    assert!(!thread.is_finished());
    server.stop(None);
    wait_until(DEADLINE, "serve_forever to return", || thread.is_finished());
    thread.join().unwrap().expect("serve_forever returns Ok");
}

/// `rwsgi_gevent::configure` installs the backends for `start()`.
#[test]
fn configure_installs_the_backends() {
    rwsgi_gevent::configure(Compiled);
    let (app, _, _) = App::new();
    let server = WsgiServer::new(("127.0.0.1", 0), app).log(None);
    server.start().unwrap();
    let mut conn = Conn::connect(server.address().unwrap());
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
}

/// `rwsgi gevent --bind 127.0.0.1:0 --pool 2 APP`: pywsgi's log line on
/// standard error, the pool holding a third request back until a slot
/// frees, SIGTERM stopping with exit status 0.
#[test]
fn subcommand_binds_pools_and_logs() {
    let mut server = ChildServer::start(&["gevent", "--bind", "127.0.0.1:0", "--pool", "2", "demo:sleep"]);
    let addr = server.addr();
    let slow: Vec<Conn> = (0..2)
        .map(|_| {
            let mut conn = Conn::connect(addr);
            conn.send(&request_close("/?ms=1000"));
            conn
        })
        .collect();
    // The third's request cannot be accepted before a slow one ends.
    let asked = Instant::now();
    let mut third = Conn::connect(addr);
    third.send(&request_close("/?ms=1"));
    assert_eq!(third.response(false).unwrap().body_text(), "slept 1 ms\n");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "queued behind the pool: {waited:?}"
    );
    for mut conn in slow {
        assert_eq!(conn.response(false).unwrap().body_text(), "slept 1000 ms\n");
    }
    wait_until(DEADLINE, "three log lines", || {
        server.stderr().lines().count() >= 3
    });
    let stderr = server.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("127.0.0.1 - - [") && l.contains("\"GET /?ms=1 HTTP/1.1\" 200 ")),
        "{stderr}"
    );
    let status = server.signal_and_wait(15);
    assert!(status.success(), "{status:?}");

    let output = common::output_within_deadline(Command::new(env!("CARGO_BIN_EXE_rwsgi")).args([
        "gevent",
        "--bind",
        "127.0.0.1:0",
        "--pool",
        "0",
        "demo:hello",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let mut server = ChildServer::start(&["gevent", "--bind", "127.0.0.1:0", "--no-log", "demo:hello"]);
    let mut conn = Conn::connect(server.addr());
    conn.send(&get("/"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    let status = server.signal_and_wait(2);
    assert!(status.success());
    assert!(
        !server.stderr().contains(" - - ["),
        "--no-log: {}",
        server.stderr()
    );
}

/// `WSGIServer(listener, app, keyfile=..., certfile=...)` serves https on
/// every backend and engine: the environ says `https` and `HTTPS=on`, and
/// the port refuses plain HTTP. `ca_certs` with
/// `cert_reqs=CERT_REQUIRED` refuses a client without a certificate.
#[cfg(feature = "tls")]
#[test]
fn keyfile_and_certfile_serve_https() {
    use common::nginx::TempDir;
    use common::tls::{Ca, client};

    let dir = TempDir::new("gevent-ssl-args");
    let ca = Ca::new(&dir, "gevent");
    let leaf = ca.server(&dir, "server");
    let member = ca.issue(&dir, "member", &["member.test"]);
    let tls_server = || {
        let (app, _, _) = App::new();
        WsgiServer::new(("127.0.0.1", 0), app)
            .log(None)
            .keyfile(&leaf.key_file)
            .certfile(&leaf.cert_file)
    };
    let environ = |server: &WsgiServer, identity| -> serde_json::Value {
        let response = client(&ca, identity)
            .get(format!("https://{}/environ", server.address().unwrap()))
            .send()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.bytes().unwrap()).unwrap()
    };
    for (backend, engine) in rwsgi::backends::combinations() {
        let server = tls_server();
        assert!(server.ssl_enabled());
        let server = started(server, backend, engine);
        let env = environ(&server, None);
        assert_eq!(env["wsgi.url_scheme"], "https", "{backend}/{engine}");
        assert_eq!(env["HTTPS"], "on", "{backend}/{engine}");
        assert_eq!(env["GATEWAY_INTERFACE"], "CGI/1.1", "{backend}/{engine}");
        let mut plain = TcpStream::connect(server.address().unwrap()).unwrap();
        plain.set_read_timeout(Some(DEADLINE)).unwrap();
        plain.write_all(&get("/environ")).unwrap();
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer);
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{backend}/{engine}: plain HTTP is answered on the TLS port"
        );
        server.stop(None);
    }

    let (backend, engine) = default_backend();
    let server = started(tls_server().ca_certs(&ca.file).cert_reqs(2), backend, engine);
    assert_eq!(environ(&server, Some(&member))["HTTPS"], "on");
    assert!(
        client(&ca, None)
            .get(format!("https://{}/environ", server.address().unwrap()))
            .send()
            .is_err(),
        "cert_reqs=2: a client without a certificate is served"
    );
    server.stop(None);
}

/// Wrong TLS arguments are refused by `start` before it binds, the error
/// naming the file; the server is not left started.
#[cfg(feature = "tls")]
#[test]
fn wrong_tls_arguments_are_refused_before_binding() {
    use common::nginx::TempDir;
    use common::tls::Ca;

    let dir = TempDir::new("gevent-ssl-refused");
    let ca = Ca::new(&dir, "refused");
    let leaf = ca.server(&dir, "server");
    let other = ca.server(&dir, "other");
    let missing = dir.path("missing-key.pem");
    let (backend, engine) = default_backend();
    for (key, named) in [(&missing, &missing), (&other.key_file, &other.key_file)] {
        let (app, _, _) = App::new();
        let server = WsgiServer::new(("127.0.0.1", 0), app)
            .log(None)
            .keyfile(key)
            .certfile(&leaf.cert_file);
        let err = server
            .start_with(Arc::new(Compiled), Some(backend), Some(engine))
            .expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(
            err.to_string().contains(named.to_str().unwrap()),
            "the error does not name {}: {err}",
            named.display()
        );
        assert!(!server.started());
        assert_eq!(server.address(), None, "bound before refusing");
        let err = server
            .serve_forever_with(&Compiled, Some(backend), Some(engine))
            .expect_err("serve_forever refuses too");
        assert!(err.to_string().contains(named.to_str().unwrap()), "{err}");
    }
}
