//! The tornado personality: the shapes users type (`HttpServer`,
//! `WsgiContainer`, `IoLoop`), `HTTPServer`'s options, `WSGIContainer`'s
//! log line and response defaults, and `rwsgi tornado` (including
//! `--processes`, bind + start(n)), and `ssl_options` (TLS). Servers run
//! on 127.0.0.1, in this process on a loop thread of their own or as a
//! child process.

#![cfg(feature = "tornado")]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::raw::{Conn, get, post};
use common::{ChildServer, DEADLINE, wait_until};
use rwsgi::backends::Compiled;
use rwsgi::{Addr, Body, Engine, Environ, ErrorBuffer, Errors, StartResponse, demo};
use rwsgi_tornado::{
    AccessLogger, HttpServer, IoLoop, Listen, LogLevel, SslOptions, ThreadPoolExecutor, WsgiContainer,
    bind_sockets,
};

/// The application the in-process tests serve.
fn app(environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    let path = environ.path_info.clone();
    match path.as_str() {
        "/hello" => demo::hello(environ, start_response),
        "/environ" => demo::environ(environ, start_response),
        "/echo" => demo::echo(environ, start_response),
        "/sleep" => demo::sleep(environ, start_response),
        "/sse" => demo::sse(environ, start_response),
        "/untyped" => {
            start_response.start("200 OK", Vec::<(String, String)>::new())?;
            Ok(Body::from("no content type"))
        }
        "/thread" => {
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from(
                std::thread::current().name().unwrap_or("unnamed").to_owned(),
            ))
        }
        "/fail" => Err("failed on purpose".into()),
        _ => {
            start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
            Ok(Body::from("not found\n"))
        }
    }
}

/// A server on its own loop thread (named `tornado-loop`), as a tornado
/// program runs: `listen`, then `IOLoop.current().start()` on that thread.
struct Running {
    addr: SocketAddr,
    ioloop: IoLoop,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn start(server: HttpServer, backend: &'static str, engine: Engine) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tornado-loop".into())
            .spawn(move || {
                server.listen((0, "127.0.0.1"))?;
                tx.send((server.local_addrs(), IoLoop::current())).unwrap();
                IoLoop::current().start_with(&Compiled, Some(backend), Some(engine))
            })
            .unwrap();
        let (addrs, ioloop) = rx.recv_timeout(DEADLINE).expect("the server listens");
        let addr = match addrs[0] {
            Addr::Tcp(addr) => addr,
            Addr::Unix(_) => unreachable!("a TCP listen"),
        };
        Running {
            addr,
            ioloop,
            thread: Some(thread),
        }
    }

    fn default_backend(server: HttpServer) -> Self {
        let (backend, engine) = rwsgi::backends::combinations()[0];
        Running::start(server, backend, engine)
    }

    /// `IOLoop.stop()`, and `start()` returns.
    fn stop(mut self) {
        self.ioloop.stop();
        let thread = self.thread.take().unwrap();
        wait_until(DEADLINE, "IoLoop::start to return", || thread.is_finished());
        thread.join().unwrap().expect("start returns Ok");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.ioloop.stop();
            let _ = thread.join();
        }
    }
}

fn environ_of(conn: &mut Conn, request: &[u8]) -> serde_json::Value {
    conn.send(request);
    let response = conn.response(false).expect("a response");
    assert_eq!(response.status, 200, "{}", response.body_text());
    serde_json::from_slice(&response.body).unwrap()
}

fn logger(buffer: &ErrorBuffer, level: LogLevel) -> Option<AccessLogger> {
    Some(AccessLogger::new(Errors::new(buffer.clone())).level(level))
}

/// `HttpServer::new(WsgiContainer::new(app)).listen(port)` and
/// `IoLoop::current().start()`, on every backend and engine: tornado's
/// Server header and default Content-Type, and one log line per request
/// at the level of its status class.
#[test]
fn the_tornado_shape_serves_on_every_backend() {
    for (backend, engine) in rwsgi::backends::combinations() {
        let log = ErrorBuffer::new();
        let container = WsgiContainer::new(app).access_log(logger(&log, LogLevel::Info));
        let running = Running::start(HttpServer::new(container), backend, engine);
        let mut conn = Conn::connect(running.addr);
        conn.send(&get("/hello"));
        let response = conn.response(false).unwrap();
        assert_eq!(response.status, 200, "{backend}/{engine}");
        assert_eq!(response.header("server"), Some("TornadoServer/6.5"));
        assert_eq!(response.body_text(), "Hello, World!\n");
        conn.send(&get("/untyped"));
        let response = conn.response(false).unwrap();
        assert_eq!(response.header("content-type"), Some("text/html; charset=UTF-8"));
        conn.send(&get("/nowhere?x=1"));
        assert_eq!(conn.response(false).unwrap().status, 404);
        conn.send(&get("/fail"));
        assert_eq!(conn.response(false).unwrap().status, 500);
        wait_until(DEADLINE, "four log lines", || log.contents().lines().count() == 4);
        let lines: Vec<String> = log.contents().lines().map(str::to_owned).collect();
        check_line(&lines[0], 'I', "200 GET /hello (127.0.0.1)");
        check_line(&lines[1], 'I', "200 GET /untyped (127.0.0.1)");
        check_line(&lines[2], 'W', "404 GET /nowhere?x=1 (127.0.0.1)");
        check_line(&lines[3], 'E', "500 GET /fail (127.0.0.1)");
        running.stop();
    }
}

/// `[L yymmdd HH:MM:SS wsgi] STATUS METHOD URI (IP) N.NNms`.
fn check_line(line: &str, level: char, summary: &str) {
    let rest = line
        .strip_prefix(&format!("[{level} "))
        .unwrap_or_else(|| panic!("level {level}: {line:?}"));
    let (stamp, message) = rest.split_once(" wsgi] ").unwrap_or_else(|| panic!("{line:?}"));
    let (date, time) = stamp.split_once(' ').unwrap();
    assert!(
        date.len() == 6 && date.bytes().all(|b| b.is_ascii_digit()),
        "{line:?}"
    );
    assert!(time.len() == 8 && time.as_bytes()[2] == b':', "{line:?}");
    let millis = message
        .strip_prefix(summary)
        .and_then(|m| m.strip_prefix(' '))
        .and_then(|m| m.strip_suffix("ms"))
        .unwrap_or_else(|| panic!("{summary:?} in {line:?}"));
    let (whole, fraction) = millis.split_once('.').unwrap();
    assert!(
        whole.parse::<u64>().is_ok() && fraction.len() == 2,
        "%.2f: {line:?}"
    );
}

#[test]
fn logging_level_filters_by_status_class() {
    let log = ErrorBuffer::new();
    let container = WsgiContainer::new(app).access_log(logger(&log, LogLevel::Warning));
    let running = Running::default_backend(HttpServer::new(container));
    let mut conn = Conn::connect(running.addr);
    for path in ["/hello", "/nowhere", "/hello"] {
        conn.send(&get(path));
        conn.response(false).unwrap();
    }
    wait_until(DEADLINE, "the warning", || !log.contents().is_empty());
    // A later line would have been written before the next response.
    conn.send(&get("/nowhere"));
    conn.response(false).unwrap();
    wait_until(DEADLINE, "the second warning", || {
        log.contents().lines().count() == 2
    });
    assert!(
        log.contents().lines().all(|l| l.starts_with("[W ")),
        "{}",
        log.contents()
    );
    running.stop();
}

/// `xheaders`: the client's address from `X-Real-Ip` or `X-Forwarded-For`
/// (skipping `trusted_downstream`), the scheme from `X-Scheme` or
/// `X-Forwarded-Proto` if it is http or https; the log shows that address.
#[test]
fn xheaders_and_trusted_downstream() {
    let log = ErrorBuffer::new();
    let container = WsgiContainer::new(app).access_log(logger(&log, LogLevel::Info));
    let server = HttpServer::new(container)
        .xheaders(true)
        .trusted_downstream(["10.0.0.2"]);
    let running = Running::default_backend(server);
    let mut conn = Conn::connect(running.addr);
    let env = environ_of(
        &mut conn,
        b"GET /environ HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.2\r\n\
          X-Forwarded-Proto: https\r\n\r\n",
    );
    assert_eq!(env["REMOTE_ADDR"], "1.2.3.4");
    assert_eq!(env["wsgi.url_scheme"], "https");
    assert_eq!(env["SERVER_PORT"], "443", "no port in Host: the scheme's");
    assert!(
        env.get("REMOTE_PORT").is_none(),
        "the proxy's port is not the client's"
    );
    let env = environ_of(
        &mut conn,
        b"GET /environ HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 1.2.3.4\r\nX-Real-Ip: 5.6.7.8\r\n\
          X-Scheme: gopher\r\n\r\n",
    );
    assert_eq!(env["REMOTE_ADDR"], "5.6.7.8");
    assert_eq!(env["wsgi.url_scheme"], "http", "only http and https are believed");
    let env = environ_of(
        &mut conn,
        b"GET /environ HTTP/1.1\r\nHost: t\r\nX-Real-Ip: <script>\r\n\r\n",
    );
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1", "not an IP address: ignored");
    wait_until(DEADLINE, "three lines", || log.contents().lines().count() == 3);
    assert!(
        log.contents().contains("200 GET /environ (1.2.3.4)"),
        "{}",
        log.contents()
    );
    running.stop();

    // Without xheaders nothing is believed; `protocol` sets the scheme.
    let running =
        Running::default_backend(HttpServer::new(WsgiContainer::new(app).access_log(None)).protocol("https"));
    let mut conn = Conn::connect(running.addr);
    let env = environ_of(
        &mut conn,
        b"GET /environ HTTP/1.1\r\nHost: t:8080\r\nX-Real-Ip: 5.6.7.8\r\n\r\n",
    );
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["wsgi.url_scheme"], "https");
    assert_eq!(env["SERVER_PORT"], "8080");
    running.stop();
}

#[test]
fn header_and_body_limits_and_no_keep_alive() {
    let server = HttpServer::new(WsgiContainer::new(app).access_log(None))
        .max_header_size(1024)
        .max_body_size(100)
        .no_keep_alive(true);
    let running = Running::default_backend(server);
    let mut conn = Conn::connect(running.addr);
    conn.send(
        format!(
            "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
            "v".repeat(2000)
        )
        .as_bytes(),
    );
    assert_eq!(conn.response(false).unwrap().status, 431);
    let mut conn = Conn::connect(running.addr);
    conn.send(&post("/echo", &[b'x'; 101]));
    assert_eq!(conn.response(false).unwrap().status, 413);
    let mut conn = Conn::connect(running.addr);
    conn.send(&post("/echo", &[b'x'; 100]));
    let response = conn.response(false).unwrap();
    assert_eq!((response.status, response.body.len()), (200, 100));
    assert_eq!(response.header("connection"), Some("close"), "no_keep_alive");
    assert!(conn.closed_quietly());
    running.stop();
}

#[test]
fn idle_connection_timeout_closes_idle_connections() {
    let server = HttpServer::new(WsgiContainer::new(app).access_log(None))
        .idle_connection_timeout(Duration::from_millis(300));
    let running = Running::default_backend(server);
    let mut conn = Conn::connect(running.addr);
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    let idle = Instant::now();
    assert!(conn.closed_quietly());
    assert!(
        idle.elapsed() >= Duration::from_millis(250),
        "{:?}",
        idle.elapsed()
    );
    running.stop();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) deflate block inside a gzip member: enough
    // for the server to inflate, without a compressor in the tests.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    assert!(bytes.len() < 65_536);
    let len = bytes.len() as u16;
    out.push(1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(&crc32(bytes).to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn decompress_request_inflates_gzip_bodies() {
    let body = b"the quick brown fox jumps over the lazy dog".repeat(20);
    let compressed = gzip(&body);
    let request = |path: &str| {
        let mut r = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            compressed.len()
        )
        .into_bytes();
        r.extend_from_slice(&compressed);
        r
    };
    let server = HttpServer::new(WsgiContainer::new(app).access_log(None)).decompress_request(true);
    let running = Running::default_backend(server);
    let mut conn = Conn::connect(running.addr);
    conn.send(&request("/echo"));
    let response = conn.response(false).unwrap();
    assert_eq!(response.body, body, "inflated");
    let env = environ_of(&mut conn, &request("/environ"));
    assert_eq!(env["HTTP_X_CONSUMED_CONTENT_ENCODING"], "gzip");
    assert!(env.get("HTTP_CONTENT_ENCODING").is_none());
    assert_eq!(env["CONTENT_LENGTH"], body.len().to_string());
    running.stop();

    // Off (tornado's default): the body arrives as sent.
    let running = Running::default_backend(HttpServer::new(WsgiContainer::new(app).access_log(None)));
    let mut conn = Conn::connect(running.addr);
    conn.send(&request("/echo"));
    assert_eq!(conn.response(false).unwrap().body, compressed);
    running.stop();
}

/// `WSGIContainer(app)` runs the application on the loop's thread;
/// `WSGIContainer(app, executor=ThreadPoolExecutor(n))` on the executor.
#[test]
fn the_app_runs_on_the_loop_unless_given_an_executor() {
    let running = Running::default_backend(HttpServer::new(WsgiContainer::new(app).access_log(None)));
    let mut conn = Conn::connect(running.addr);
    conn.send(&get("/thread"));
    assert_eq!(conn.response(false).unwrap().body_text(), "tornado-loop");
    let env = environ_of(&mut conn, &get("/environ"));
    assert_eq!(env["wsgi.multithread"], "False");
    running.stop();

    let container = WsgiContainer::with_executor(app, ThreadPoolExecutor::new(2)).access_log(None);
    let running = Running::default_backend(HttpServer::new(container));
    let mut conn = Conn::connect(running.addr);
    conn.send(&get("/thread"));
    let thread = conn.response(false).unwrap().body_text();
    assert_ne!(thread, "tornado-loop");
    let env = environ_of(&mut conn, &get("/environ"));
    assert_eq!(env["wsgi.multithread"], "True");
    running.stop();
}

/// `listen(port, reuse_port=True)` lets a second socket bind the port;
/// without it the second bind fails.
#[test]
fn listen_with_reuse_port() {
    let first = bind_sockets(&Listen::new(0).address("127.0.0.1").reuse_port(true)).unwrap();
    let Addr::Tcp(addr) = first[0].local_addr().unwrap() else {
        unreachable!()
    };
    let second = bind_sockets(&Listen::new(addr.port()).address("127.0.0.1").reuse_port(true));
    assert!(second.is_ok(), "{second:?}");
    let third = bind_sockets(&Listen::new(addr.port()).address("127.0.0.1"));
    assert!(third.is_err(), "without SO_REUSEPORT the port is taken");
    // HttpServer::listen takes the same arguments.
    let server = HttpServer::new(WsgiContainer::new(app));
    server
        .listen(Listen::new(addr.port()).address("127.0.0.1").reuse_port(true))
        .unwrap();
    assert_eq!(server.local_addrs(), vec![Addr::Tcp(addr)]);
}

/// `bind` + `start(n)` forks, which a threaded process must not do.
#[test]
fn start_n_refuses_to_fork_a_threaded_process() {
    let server = HttpServer::new(WsgiContainer::new(app));
    server.bind((0, "127.0.0.1")).unwrap();
    let err = server.start(2).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported, "{err}");
}

/// `IoLoop::start` without a configured backend says what to do;
/// configured, it serves.
#[test]
fn ioloop_configure_installs_the_backends() {
    std::thread::spawn(|| {
        let server = HttpServer::new(WsgiContainer::new(app).access_log(None));
        server.listen((0, "127.0.0.1")).unwrap();
        IoLoop::configure(Compiled);
        let ioloop = IoLoop::current();
        ioloop.stop(); // before start: start returns at once
        ioloop.start().unwrap();
    })
    .join()
    .unwrap();
}

fn run_rwsgi(args: &[&str]) -> (ExitStatus, String) {
    let output = common::output_within_deadline(Command::new(env!("CARGO_BIN_EXE_rwsgi")).args(args));
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn subcommand_serves_with_tornados_defaults() {
    let mut server =
        ChildServer::start(&["tornado", "--port", "0", "--address", "127.0.0.1", "demo:environ"]);
    let mut conn = Conn::connect(server.addr());
    let env = environ_of(&mut conn, &get("/x?y=1"));
    assert_eq!(env["wsgi.multithread"], "False", "the app runs on the one loop");
    conn.send(&get("/x"));
    let response = conn.response(false).unwrap();
    assert_eq!(response.header("server"), Some("TornadoServer/6.5"));
    wait_until(DEADLINE, "the access log", || {
        server.stderr().contains("200 GET /x?y=1 (127.0.0.1)")
    });
    assert!(
        server.stderr().contains("wsgi] 200 GET /x (127.0.0.1) "),
        "{}",
        server.stderr()
    );
    let status = server.signal_and_wait(15);
    assert!(status.success(), "{status:?}");

    let (status, stderr) = run_rwsgi(&["tornado", "--port", "0", "--address", "127.0.0.1", "no:such"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("demo:hello"), "known specs are listed: {stderr}");
    let (status, stderr) = run_rwsgi(&["tornado", "--protocol", "ftp", "demo:hello"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
}

/// The children of `pid`, from `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found.sort_unstable();
    found
}

fn answering_pid(addr: SocketAddr) -> u32 {
    let mut conn = Conn::connect(addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = conn.response(false).unwrap().body_text();
    text.trim().strip_prefix("pid ").unwrap().parse().unwrap()
}

/// `rwsgi tornado --processes 2` is `bind` + `start(2)`: two forked
/// children serve the shared socket; one killed is restarted (tornado
/// restarts children that die by a signal); SIGTERM to the parent stops
/// them all and the parent exits 0.
#[test]
fn processes_fork_share_the_socket_and_restart() {
    let mut server = ChildServer::start(&[
        "tornado",
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--processes",
        "2",
        "--logging",
        "none",
        "demo:pid",
    ]);
    let parent = server.child.id();
    let addr = server.addr();
    let mut children = Vec::new();
    wait_until(DEADLINE, "two children", || {
        children = children_of(parent);
        children.len() == 2
    });
    for _ in 0..20 {
        let pid = answering_pid(addr);
        assert!(children.contains(&pid), "{pid} is not one of {children:?}");
    }
    let killed = children[0];
    let sent = Command::new("kill")
        .args(["-KILL", &killed.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    wait_until(DEADLINE, "the killed child to be replaced", || {
        let now = children_of(parent);
        now.len() == 2 && !now.contains(&killed)
    });
    wait_until(DEADLINE, "the restart to be logged", || {
        server
            .stderr()
            .contains(&format!("(pid {killed}) killed by signal 9, restarting"))
    });
    let now = children_of(parent);
    for _ in 0..20 {
        assert!(now.contains(&answering_pid(addr)));
    }
    let status = server.signal_and_wait(15);
    assert!(status.success(), "{status:?}: {}", server.stderr());
    wait_until(DEADLINE, "the children to exit", || {
        now.iter()
            .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    });
}

/// A standing (async-stream) response holds its connection but not the
/// loop: its events reach the client as they are produced, and plain
/// requests on the same single-threaded loop are answered while it waits —
/// on every backend and engine. (The 2 000-connection version is
/// tests/tornado_standing.rs.)
#[test]
fn a_waiting_body_streams_and_does_not_hold_the_loop() {
    for (backend, engine) in rwsgi::backends::combinations() {
        let running = Running::start(
            HttpServer::new(WsgiContainer::new(app).access_log(None)),
            backend,
            engine,
        );
        let mut events = Conn::connect(running.addr);
        events.send(&get("/sse?interval_ms=60000&n=2"));
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains("data: tick 0") {
            let n = events.stream.read(&mut buf).unwrap_or_else(|err| {
                panic!("{backend}/{engine}: the first event arrives before the body ends: {err}")
            });
            assert!(n > 0, "{backend}/{engine}: closed early");
            seen.extend_from_slice(&buf[..n]);
        }
        let mut waiting = Conn::connect(running.addr);
        waiting.send(&get("/sleep?ms=1000"));
        let started = Instant::now();
        let mut conn = Conn::connect(running.addr);
        for _ in 0..10 {
            conn.send(&get("/hello"));
            assert_eq!(conn.response(false).unwrap().status, 200);
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{backend}/{engine}: answered while the other waits"
        );
        assert_eq!(waiting.response(false).unwrap().body_text(), "slept 1000 ms\n");
        running.stop();
    }
}

/// `HTTPServer(WSGIContainer(app), ssl_options={"certfile": ..., "keyfile":
/// ...})` serves https on every backend and engine: the environ says
/// `https` and `HTTPS=on`, and the same port refuses plain HTTP. An
/// explicit `protocol` still wins (as in tornado); `ca_certs` with
/// `cert_reqs=CERT_REQUIRED` refuses a client without a certificate.
#[cfg(feature = "tls")]
#[test]
fn ssl_options_serve_https() {
    use common::nginx::TempDir;
    use common::tls::{Ca, client};

    let dir = TempDir::new("tornado-ssl-options");
    let ca = Ca::new(&dir, "tornado");
    let leaf = ca.server(&dir, "server");
    let member = ca.issue(&dir, "member", &["member.test"]);
    let ssl = SslOptions::new(&leaf.cert_file, &leaf.key_file);
    let environ = |running: &Running, identity| -> serde_json::Value {
        let response = client(&ca, identity)
            .get(format!("https://{}/environ", running.addr))
            .send()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["server"], "TornadoServer/6.5");
        serde_json::from_slice(&response.bytes().unwrap()).unwrap()
    };
    for (backend, engine) in rwsgi::backends::combinations() {
        let server = HttpServer::new(WsgiContainer::new(app).access_log(None)).ssl_options(ssl.clone());
        let running = Running::start(server, backend, engine);
        let env = environ(&running, None);
        assert_eq!(env["wsgi.url_scheme"], "https", "{backend}/{engine}");
        assert_eq!(env["HTTPS"], "on", "{backend}/{engine}");
        let mut plain = std::net::TcpStream::connect(running.addr).unwrap();
        plain.set_read_timeout(Some(DEADLINE)).unwrap();
        std::io::Write::write_all(&mut plain, &get("/environ")).unwrap();
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer);
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{backend}/{engine}: plain HTTP is answered on the TLS port"
        );
        running.stop();
    }

    let server = HttpServer::new(WsgiContainer::new(app).access_log(None))
        .ssl_options(ssl.clone())
        .protocol("http");
    let running = Running::default_backend(server);
    assert_eq!(environ(&running, None)["wsgi.url_scheme"], "http");
    running.stop();

    let server = HttpServer::new(WsgiContainer::new(app).access_log(None))
        .ssl_options(ssl.clone().ca_certs(&ca.file).cert_reqs(2));
    let running = Running::default_backend(server);
    assert_eq!(environ(&running, Some(&member))["HTTPS"], "on");
    assert!(
        client(&ca, None)
            .get(format!("https://{}/environ", running.addr))
            .send()
            .is_err(),
        "cert_reqs=2: a client without a certificate is served"
    );
    running.stop();
}

/// Wrong `ssl_options` are refused by `listen` before it binds, the error
/// naming the file.
#[cfg(feature = "tls")]
#[test]
fn wrong_ssl_options_are_refused_before_binding() {
    use common::nginx::TempDir;
    use common::tls::Ca;

    let dir = TempDir::new("tornado-ssl-refused");
    let ca = Ca::new(&dir, "refused");
    let leaf = ca.server(&dir, "server");
    let other = ca.server(&dir, "other");
    let missing = dir.path("missing-key.pem");
    for (ssl, named) in [
        (SslOptions::new(&leaf.cert_file, &missing), &missing),
        (SslOptions::new(&leaf.cert_file, &other.key_file), &other.key_file),
    ] {
        let server = HttpServer::new(WsgiContainer::new(app)).ssl_options(ssl);
        let err = server.listen((0, "127.0.0.1")).expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(
            err.to_string().contains(named.to_str().unwrap()),
            "the error does not name {}: {err}",
            named.display()
        );
        assert!(server.local_addrs().is_empty(), "bound before refusing");
        let err = server.bind((0, "127.0.0.1")).expect_err("bind refuses too");
        assert!(err.to_string().contains(named.to_str().unwrap()), "{err}");
    }
    let err = IoLoop::current()
        .start_on(&Compiled)
        .expect_err("nothing registered");
    assert!(err.to_string().contains("nothing to serve"), "{err}");
}
