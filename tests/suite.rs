//! The integration suite every backend and engine must pass, written once.
//! Each test is a generic function; the `suite!` invocation at the bottom
//! instantiates all of them for every enabled backend × engine — adding a
//! backend is adding a line there.
//!
//! Servers run in this process on 127.0.0.1:0 (none of these tests forks or
//! holds many descriptors); the application is always wrapped in `Lint`,
//! and tests that call it end by checking the lint report.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::raw::{Conn, get, post};
use common::{DEADLINE, TestServer, config, wait_until};
use rwsgi::middleware::{Lint, LintReport};
use rwsgi::{Application, Body, BoxError, Config, Dispatch, Engine, Environ, Server, StartResponse, demo};

/// The application every test talks to: the demo apps by path, plus a
/// panic and a gate a test opens.
#[derive(Clone)]
struct SuiteApp {
    entered: async_channel::Sender<()>,
    release: async_channel::Receiver<()>,
}

impl Application for SuiteApp {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        match environ.path_info.as_str() {
            "/hello" => demo::hello(environ, start_response),
            "/environ" => demo::environ(environ, start_response),
            "/echo" => demo::echo(environ, start_response),
            "/stream" => demo::stream(environ, start_response),
            "/sleep" => demo::sleep(environ, start_response),
            "/panic" => panic!("the application panicked on purpose"),
            "/gate" => {
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

struct Setup {
    server: TestServer,
    lint: LintReport,
    entered: async_channel::Receiver<()>,
    release: async_channel::Sender<()>,
}

fn start<S: Server>(config: Config) -> Setup {
    let (entered_tx, entered) = async_channel::unbounded();
    let (release, release_rx) = async_channel::unbounded();
    let app = Lint::new(SuiteApp {
        entered: entered_tx,
        release: release_rx,
    });
    let lint = app.report();
    Setup {
        server: TestServer::start::<S>(config, app),
        lint,
        entered,
        release,
    }
}

fn hello_with_a_real_client<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let client = reqwest::blocking::Client::new();
    for _ in 0..3 {
        let response = client.get(s.server.url("/hello")).send().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-length"], "14");
        assert_eq!(response.headers()["server"], "rwsgi");
        assert!(response.headers().contains_key("date"));
        assert_eq!(response.text().unwrap(), "Hello, World!\n");
    }
    assert_eq!(s.lint.calls(), 3);
    s.lint.assert_clean();
}

fn environ_is_pep_3333<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    conn.send(
        b"GET /environ/../environ?q=a%20b HTTP/1.1\r\nHost: example.com:8080\r\n\
          X-Forwarded-For: 1.1.1.1\r\nX_Forwarded_For: 6.6.6.6\r\nCookie: a=1\r\nCookie: b=2\r\n\
          Content-Type: text/x\r\n\r\n",
    );
    let response = conn.response(false).unwrap();
    assert_eq!(
        response.status,
        404,
        "PATH_INFO is not normalised: {}",
        response.body_text()
    );
    conn.send(
        b"GET /environ?q=a%20b HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-For: 1.1.1.1\r\n\
          X_Forwarded_For: 6.6.6.6\r\nCookie: a=1\r\nCookie: b=2\r\nContent-Type: text/x\r\n\r\n",
    );
    let response = conn.response(false).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(env["PATH_INFO"], "/environ");
    assert_eq!(env["QUERY_STRING"], "q=a%20b");
    assert_eq!(env["SERVER_NAME"], "example.com");
    assert_eq!(env["SERVER_PORT"], "8080");
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(
        env["HTTP_X_FORWARDED_FOR"], "1.1.1.1",
        "the underscore spelling is dropped"
    );
    assert_eq!(env["HTTP_COOKIE"], "a=1; b=2");
    assert_eq!(env["CONTENT_TYPE"], "text/x");
    assert!(env.get("HTTP_CONTENT_TYPE").is_none());
    assert_eq!(env["wsgi.url_scheme"], "http");
    assert_eq!(env["wsgi.input_terminated"], "True");
    s.lint.assert_clean();
}

fn keep_alive_reuses_the_connection<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    for i in 0..3 {
        conn.send(&get("/hello"));
        let response = conn.response(false).unwrap();
        assert_eq!(response.status, 200, "request {i}");
        assert_eq!(response.header("connection"), None);
        assert_eq!(s.server.handle.connections(), 1);
    }
    conn.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = conn.response(false).unwrap();
    assert_eq!(response.header("connection"), Some("keep-alive"));
    conn.send(b"GET /hello HTTP/1.0\r\n\r\n");
    assert_eq!(conn.response(false).unwrap().status, 200);
    assert!(conn.closed_quietly(), "HTTP/1.0 without keep-alive closes");
    wait_until(DEADLINE, "the connection to be counted closed", || {
        s.server.handle.connections() == 0
    });
    assert_eq!(s.server.handle.requests(), 5);
    s.lint.assert_clean();
}

fn pipelined_requests_answer_in_order<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    let mut batch = Vec::new();
    for i in 0..8 {
        batch.extend(post("/echo", format!("body number {i}").as_bytes()));
        batch.extend(get("/hello"));
    }
    conn.send(&batch);
    for i in 0..8 {
        assert_eq!(
            conn.response(false).unwrap().body_text(),
            format!("body number {i}")
        );
        assert_eq!(conn.response(false).unwrap().body_text(), "Hello, World!\n");
    }
    s.lint.assert_clean();
}

/// A response that closes the connection reaches a client that has already
/// pipelined more requests behind it. (hyper with `pipeline_flush` loses
/// exactly these answers, which is why rwsgi-hyper leaves it off.)
fn closing_responses_reach_pipelining_clients<S: Server>(engine: Engine) {
    let mut no_keep_alive = config(engine);
    no_keep_alive.keep_alive = Duration::ZERO;
    let s = start::<S>(no_keep_alive);
    let mut conn = Conn::connect(s.server.addr());
    conn.send(&[get("/hello"), get("/hello"), get("/hello")].concat());
    let response = conn.response(false).expect("the first answer");
    assert_eq!(
        (response.status, response.header("connection")),
        (200, Some("close"))
    );
    assert!(conn.closed_quietly(), "nothing after a closing response");
    drop(s);

    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    // The gateway refuses the lower-case method; its body is chunked, and
    // another request follows at once.
    conn.send(b"post /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n");
    conn.send(&get("/hello"));
    let response = conn.response(false).expect("the refusal");
    assert_eq!(
        (response.status, response.header("connection")),
        (400, Some("close"))
    );
    assert!(conn.closed_quietly());
    s.lint.assert_clean();
}

fn chunked_request_and_response<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n1;ext=\"x\"\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: ok\r\n\r\n",
    );
    let response = conn.response(false).unwrap();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.body_text(), "hello world");
    conn.send(&get("/stream?n=4"));
    let response = conn.response(false).unwrap();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.body_text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
    s.lint.assert_clean();
}

fn head_has_no_body<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    conn.send(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = conn.response(true).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("14"));
    conn.send(&get("/hello"));
    assert_eq!(
        conn.response(false).unwrap().body_text(),
        "Hello, World!\n",
        "no stray body bytes"
    );
    conn.send(b"HEAD /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = conn.response(true).unwrap();
    assert_eq!(response.header("content-length"), None, "no invented length");
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    s.lint.assert_clean();
}

fn expect_100_continue<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let mut conn = Conn::connect(s.server.addr());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let interim = conn.response(false).unwrap();
    assert_eq!(interim.status, 100, "100 Continue before the body is sent");
    conn.send(b"ping");
    let response = conn.response(false).unwrap();
    assert_eq!((response.status, response.body_text().as_str()), (200, "ping"));
    s.lint.assert_clean();
}

fn upload_of_8_mib<S: Server>(engine: Engine) {
    for dispatch in [Dispatch::Inline, Dispatch::ThreadPool { min: 1, max: 4 }] {
        let mut config = config(engine);
        config.dispatch = dispatch;
        let s = start::<S>(config);
        let body: Vec<u8> = (0..8 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let response = reqwest::blocking::Client::new()
            .post(s.server.url("/echo"))
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.bytes().unwrap() == body,
            "{dispatch:?}: the body comes back intact"
        );
        s.lint.assert_clean();
    }
}

/// Each limit answered with the error table's status, then a close.
fn limits_answer_per_the_table<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.limit_request_line = 100;
    config.limit_request_fields = 5;
    config.limit_request_field_size = 200;
    config.limit_request_head = 800;
    config.limit_request_body = Some(1000);
    let s = start::<S>(config);
    let many_fields: String = (0..6).map(|i| format!("X-F{i}: v\r\n")).collect();
    let head_fields: String = (0..5)
        .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(190)))
        .collect();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("request line", get(&format!("/{}", "a".repeat(120))), 414),
        (
            "field count",
            format!("GET / HTTP/1.1\r\n{many_fields}\r\n").into_bytes(),
            431,
        ),
        (
            "field size",
            format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "v".repeat(300)).into_bytes(),
            431,
        ),
        (
            "head size",
            format!("GET / HTTP/1.1\r\n{head_fields}\r\n").into_bytes(),
            431,
        ),
        ("body size", post("/echo", &[b'x'; 1001]), 413),
        ("version", b"GET / HTTP/2.0\r\n\r\n".to_vec(), 505),
        ("bad version", b"GET / HTTP/1.x\r\n\r\n".to_vec(), 400),
        (
            "CL and TE",
            b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "unknown coding",
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: zstd, chunked\r\n\r\n0\r\n\r\n".to_vec(),
            501,
        ),
        (
            "bare LF",
            b"GET /hello HTTP/1.1\r\nA: b\nC: d\r\n\r\n".to_vec(),
            400,
        ),
        (
            "obs-fold",
            b"GET /hello HTTP/1.1\r\nA: b\r\n c\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bad chunk",
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            400,
        ),
        ("lower-case method", b"get /hello HTTP/1.1\r\n\r\n".to_vec(), 400),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, request, status) in cases {
        let mut conn = Conn::connect(s.server.addr());
        conn.send(&request);
        let response = conn
            .response(false)
            .unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!(response.status, status, "{what}");
        assert_eq!(response.header("connection"), Some("close"), "{what}");
        assert!(conn.closed_quietly(), "{what}: the connection closes");
    }
    wait_until(DEADLINE, "every connection to close", || {
        s.server.handle.connections() == 0
    });
    s.lint.assert_clean();
}

/// A refusal sent while the client is still uploading reaches it, even
/// when the client reads only after it has sent everything: the gateway
/// reads up to 1 MiB of the unwanted body before answering, and the close
/// lingers (reads on for a while) so that the rest does not make the kernel
/// reset the connection under the answer.
fn refusal_mid_upload_reaches_the_client<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.limit_request_body = Some(1000);
    let s = start::<S>(config);
    let mut conn = Conn::connect(s.server.addr());
    let body = vec![b'x'; 1_250_000];
    conn.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    std::io::Write::write_all(&mut conn.stream, &body).expect("the server takes the whole upload");
    let response = conn.response(false).expect("the 413 arrives");
    assert_eq!(response.status, 413);
    wait_until(DEADLINE, "the connection to close", || {
        s.server.handle.connections() == 0
    });
}

fn slow_head_gets_408_while_others_are_served<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.header_read_timeout = Some(Duration::from_millis(500));
    let s = start::<S>(config);
    let mut slow = Conn::connect(s.server.addr());
    slow.send(b"GET /hello HTTP/1.1\r\nHo");
    let started = Instant::now();
    let mut fast = Conn::connect(s.server.addr());
    fast.send(&get("/hello"));
    assert_eq!(
        fast.response(false).unwrap().status,
        200,
        "others are served meanwhile"
    );
    let response = slow.response(false).expect("a 408");
    assert_eq!(response.status, 408);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not before the timeout"
    );
    assert!(slow.closed_quietly());
    // A connection that sends nothing at all is closed without a word.
    let mut silent = Conn::connect(s.server.addr());
    assert!(silent.closed_quietly());
    s.lint.assert_clean();
}

fn idle_keep_alive_closes_quietly<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.keep_alive = Duration::from_millis(300);
    let s = start::<S>(config);
    let mut conn = Conn::connect(s.server.addr());
    // Timed from before the request: the server's idle clock starts after
    // it, however late this thread reads the response.
    let sent = Instant::now();
    conn.send(&get("/hello"));
    assert_eq!(conn.response(false).unwrap().status, 200);
    assert!(conn.closed_quietly(), "no 408 for an idle connection");
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "closed after {:?}",
        sent.elapsed()
    );
    wait_until(DEADLINE, "the connection to be counted closed", || {
        s.server.handle.connections() == 0
    });
}

fn write_timeout_cuts_a_client_that_stops_reading<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.write_timeout = Some(Duration::from_millis(500));
    let s = start::<S>(config);
    let mut conn = Conn::connect(s.server.addr());
    // About 6.4 GB if it were read: it cannot all fit in socket buffers.
    conn.send(&get("/stream?n=100000&size=65536"));
    wait_until(DEADLINE, "the connection to be served", || {
        s.server.handle.connections() == 1
    });
    wait_until(DEADLINE, "the server to cut the connection", || {
        s.server.handle.connections() == 0
    });
    // Whatever was buffered can still be read, then the stream ends early.
    let mut rest = Vec::new();
    let _ = conn.stream.read_to_end(&mut rest);
    assert!(rest.len() < 100_000 * 65_536, "read {} bytes", rest.len());
    wait_until(DEADLINE, "the response body to be closed", || {
        s.lint.open_bodies() == 0
    });
}

fn graceful_shutdown_finishes_in_flight<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    let addr = s.server.addr();
    let mut idle = Conn::connect(addr);
    idle.send(&get("/hello"));
    assert_eq!(idle.response(false).unwrap().status, 200);
    let mut busy = Conn::connect(addr);
    busy.send(&get("/gate"));
    s.entered.recv_blocking().unwrap();
    let handle = s.server.handle.clone();
    handle.shutdown(DEADLINE);
    assert!(idle.closed_quietly(), "idle keep-alive connections close at once");
    wait_until(DEADLINE, "the listener to close", || {
        std::net::TcpStream::connect(addr).is_err()
    });
    s.release.send_blocking(()).unwrap();
    let response = busy.response(false).unwrap();
    assert_eq!(
        (response.status, response.body_text().as_str()),
        (200, "released\n")
    );
    assert_eq!(response.header("connection"), Some("close"));
    s.server.stop(DEADLINE).unwrap();
    s.lint.assert_clean();
}

fn unix_socket_bind<S: Server>(engine: Engine) {
    // Suites of several servers run at once in this process.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rwsgi-suite-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let mut config = config(engine);
    config.binds = vec![rwsgi::Bind::Unix {
        path: path.clone(),
        mode: None,
    }];
    let s = start::<S>(config);
    let mut conn = Conn::connect_unix(&path);
    conn.send(&get("/environ"));
    let response = conn.response(false).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env["SERVER_NAME"], "test");
    assert!(env.get("REMOTE_ADDR").is_none(), "a unix peer has no address");
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn counters_return_to_zero_after_vanishing_clients<S: Server>(engine: Engine) {
    let s = start::<S>(config(engine));
    for _ in 0..5 {
        let mut conn = Conn::connect(s.server.addr());
        conn.send(&get("/stream?n=1000&size=65536"));
        let mut first = [0u8; 1024];
        conn.stream.read_exact(&mut first).unwrap();
        // Gone mid-response.
    }
    let mut half = Conn::connect(s.server.addr());
    half.send(b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part");
    drop(half);
    wait_until(DEADLINE, "connections to return to 0", || {
        s.server.handle.connections() == 0
    });
    wait_until(DEADLINE, "every body to be closed", || s.lint.open_bodies() == 0);
    s.lint.assert_clean();
}

fn application_panic_is_a_500_and_the_server_lives<S: Server>(engine: Engine) {
    for dispatch in [Dispatch::Inline, Dispatch::ThreadPool { min: 1, max: 2 }] {
        let mut config = config(engine);
        config.dispatch = dispatch;
        let s = start::<S>(config);
        let mut conn = Conn::connect(s.server.addr());
        conn.send(&get("/panic"));
        let response = conn.response(false).unwrap();
        assert_eq!(response.status, 500, "{dispatch:?}");
        conn.send(&get("/hello"));
        assert_eq!(
            conn.response(false).unwrap().status,
            200,
            "{dispatch:?}: the same connection goes on"
        );
    }
}

fn thread_pool_streams_and_reports_multithread<S: Server>(engine: Engine) {
    let mut config = config(engine);
    config.io_threads = 1;
    config.dispatch = Dispatch::ThreadPool { min: 2, max: 8 };
    let s = start::<S>(config);
    let mut conn = Conn::connect(s.server.addr());
    conn.send(&get("/environ"));
    let env: serde_json::Value = serde_json::from_slice(&conn.response(false).unwrap().body).unwrap();
    assert_eq!(env["wsgi.multithread"], "True");
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
    );
    assert_eq!(conn.response(false).unwrap().body_text(), "abcdef");
    // A single loop thread and inline dispatch: not multithreaded.
    let mut config = common::config(engine);
    config.io_threads = 1;
    let s2 = start::<S>(config);
    let mut conn = Conn::connect(s2.server.addr());
    conn.send(&get("/environ"));
    let env: serde_json::Value = serde_json::from_slice(&conn.response(false).unwrap().body).unwrap();
    assert_eq!(env["wsgi.multithread"], "False");
    s.lint.assert_clean();
}

fn async_bodies_hold_no_thread<S: Server>(engine: Engine) {
    // One loop thread, inline dispatch: 50 requests each waiting 300 ms are
    // all in flight at once, so together they take about 300 ms, not 15 s.
    let mut config = config(engine);
    config.io_threads = 1;
    let s = start::<S>(config);
    let started = Instant::now();
    let mut conns: Vec<Conn> = (0..50)
        .map(|_| {
            let mut conn = Conn::connect(s.server.addr());
            conn.send(&get("/sleep?ms=300"));
            conn
        })
        .collect();
    for conn in &mut conns {
        assert_eq!(conn.response(false).unwrap().body_text(), "slept 300 ms\n");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the waits overlapped: {:?}",
        started.elapsed()
    );
    s.lint.assert_clean();
}

macro_rules! suite {
    ($($module:ident: $server:ty, $engine:expr;)*) => {$(
        mod $module {
            suite!(@tests $server, $engine;
                hello_with_a_real_client,
                environ_is_pep_3333,
                keep_alive_reuses_the_connection,
                pipelined_requests_answer_in_order,
                closing_responses_reach_pipelining_clients,
                chunked_request_and_response,
                head_has_no_body,
                expect_100_continue,
                upload_of_8_mib,
                limits_answer_per_the_table,
                refusal_mid_upload_reaches_the_client,
                slow_head_gets_408_while_others_are_served,
                idle_keep_alive_closes_quietly,
                write_timeout_cuts_a_client_that_stops_reading,
                graceful_shutdown_finishes_in_flight,
                unix_socket_bind,
                counters_return_to_zero_after_vanishing_clients,
                application_panic_is_a_500_and_the_server_lives,
                thread_pool_streams_and_reports_multithread,
                async_bodies_hold_no_thread,
            );
        }
    )*};
    (@tests $server:ty, $engine:expr; $($test:ident),* $(,)?) => {$(
        #[test]
        fn $test() {
            super::$test::<$server>($engine)
        }
    )*};
}

#[cfg(feature = "tokio-backend")]
suite! {
    tokio_hyper: rwsgi::TokioServer, rwsgi::Engine::Hyper;
    tokio_h1: rwsgi::TokioServer, rwsgi::Engine::H1;
}

#[cfg(feature = "smol-backend")]
suite! {
    smol_hyper: rwsgi::SmolServer, rwsgi::Engine::Hyper;
    smol_async_h1: rwsgi::SmolServer, rwsgi::Engine::AsyncH1;
    smol_h1: rwsgi::SmolServer, rwsgi::Engine::H1;
}

#[cfg(feature = "async-std-backend")]
suite! {
    async_std_async_h1: rwsgi::AsyncStdServer, rwsgi::Engine::AsyncH1;
    async_std_h1: rwsgi::AsyncStdServer, rwsgi::Engine::H1;
}

// The personalities, each through its adapter, on every backend and engine.
#[cfg(all(feature = "tornado", feature = "tokio-backend"))]
suite! {
    tornado_tokio_hyper: rwsgi_tornado::Personality<rwsgi::TokioServer>, rwsgi::Engine::Hyper;
    tornado_tokio_h1: rwsgi_tornado::Personality<rwsgi::TokioServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "tornado", feature = "smol-backend"))]
suite! {
    tornado_smol_hyper: rwsgi_tornado::Personality<rwsgi::SmolServer>, rwsgi::Engine::Hyper;
    tornado_smol_async_h1: rwsgi_tornado::Personality<rwsgi::SmolServer>, rwsgi::Engine::AsyncH1;
    tornado_smol_h1: rwsgi_tornado::Personality<rwsgi::SmolServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "tornado", feature = "async-std-backend"))]
suite! {
    tornado_async_std_async_h1: rwsgi_tornado::Personality<rwsgi::AsyncStdServer>, rwsgi::Engine::AsyncH1;
    tornado_async_std_h1: rwsgi_tornado::Personality<rwsgi::AsyncStdServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "gevent", feature = "tokio-backend"))]
suite! {
    gevent_tokio_hyper: rwsgi_gevent::Personality<rwsgi::TokioServer>, rwsgi::Engine::Hyper;
    gevent_tokio_h1: rwsgi_gevent::Personality<rwsgi::TokioServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "gevent", feature = "smol-backend"))]
suite! {
    gevent_smol_hyper: rwsgi_gevent::Personality<rwsgi::SmolServer>, rwsgi::Engine::Hyper;
    gevent_smol_async_h1: rwsgi_gevent::Personality<rwsgi::SmolServer>, rwsgi::Engine::AsyncH1;
    gevent_smol_h1: rwsgi_gevent::Personality<rwsgi::SmolServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "gevent", feature = "async-std-backend"))]
suite! {
    gevent_async_std_async_h1: rwsgi_gevent::Personality<rwsgi::AsyncStdServer>, rwsgi::Engine::AsyncH1;
    gevent_async_std_h1: rwsgi_gevent::Personality<rwsgi::AsyncStdServer>, rwsgi::Engine::H1;
}

// twisted (one reactor thread, the WSGI pool) and uWSGI (as --http-socket
// serves each worker), through their adapters, on every backend and engine.
#[cfg(all(feature = "twisted", feature = "tokio-backend"))]
suite! {
    twisted_tokio_hyper: rwsgi_twisted::Reactor<rwsgi::TokioServer>, rwsgi::Engine::Hyper;
    twisted_tokio_h1: rwsgi_twisted::Reactor<rwsgi::TokioServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "twisted", feature = "smol-backend"))]
suite! {
    twisted_smol_hyper: rwsgi_twisted::Reactor<rwsgi::SmolServer>, rwsgi::Engine::Hyper;
    twisted_smol_async_h1: rwsgi_twisted::Reactor<rwsgi::SmolServer>, rwsgi::Engine::AsyncH1;
    twisted_smol_h1: rwsgi_twisted::Reactor<rwsgi::SmolServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "twisted", feature = "async-std-backend"))]
suite! {
    twisted_async_std_async_h1: rwsgi_twisted::Reactor<rwsgi::AsyncStdServer>, rwsgi::Engine::AsyncH1;
    twisted_async_std_h1: rwsgi_twisted::Reactor<rwsgi::AsyncStdServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "uwsgi", feature = "tokio-backend"))]
suite! {
    uwsgi_tokio_hyper: rwsgi_uwsgi::HttpSocket<rwsgi::TokioServer>, rwsgi::Engine::Hyper;
    uwsgi_tokio_h1: rwsgi_uwsgi::HttpSocket<rwsgi::TokioServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "uwsgi", feature = "smol-backend"))]
suite! {
    uwsgi_smol_hyper: rwsgi_uwsgi::HttpSocket<rwsgi::SmolServer>, rwsgi::Engine::Hyper;
    uwsgi_smol_async_h1: rwsgi_uwsgi::HttpSocket<rwsgi::SmolServer>, rwsgi::Engine::AsyncH1;
    uwsgi_smol_h1: rwsgi_uwsgi::HttpSocket<rwsgi::SmolServer>, rwsgi::Engine::H1;
}

#[cfg(all(feature = "uwsgi", feature = "async-std-backend"))]
suite! {
    uwsgi_async_std_async_h1: rwsgi_uwsgi::HttpSocket<rwsgi::AsyncStdServer>, rwsgi::Engine::AsyncH1;
    uwsgi_async_std_h1: rwsgi_uwsgi::HttpSocket<rwsgi::AsyncStdServer>, rwsgi::Engine::H1;
}
