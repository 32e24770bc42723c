//! `rwsgi uwsgi`: the uwsgi protocol on every backend (good packets and
//! bad ones), the forking master (processes, harakiri, max-requests, stats,
//! lazy apps), uWSGI's signals, `--ini`, and the command line. The server
//! runs as a child process; everything talks to it over 127.0.0.1 or unix
//! sockets.

#![cfg(feature = "uwsgi")]

mod common;

use common::DEADLINE;
use common::announced::{self, Lines};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The backends compiled into this build.
fn backends() -> Vec<&'static str> {
    let mut all = Vec::new();
    if cfg!(feature = "tokio-backend") {
        all.push("tokio");
    }
    if cfg!(feature = "smol-backend") {
        all.push("smol");
    }
    if cfg!(feature = "async-std-backend") {
        all.push("async-std");
    }
    all
}

/// `rwsgi uwsgi ARGS` as a child process; killed when dropped.
struct Uwsgi {
    child: Child,
    lines: Lines,
    /// `http://…` and `uwsgi://…` addresses it announced.
    addrs: Vec<String>,
}

impl Uwsgi {
    fn start(args: &[&str]) -> Uwsgi {
        let args: Vec<&str> = std::iter::once("uwsgi").chain(args.iter().copied()).collect();
        let (child, lines, addrs) = announced::spawn(&args);
        Uwsgi { child, lines, addrs }
    }

    fn addr(&self, scheme: &str) -> String {
        self.addrs
            .iter()
            .find_map(|a| a.strip_prefix(&format!("{scheme}://")))
            .unwrap_or_else(|| panic!("no {scheme} address in {:?}", self.addrs))
            .to_owned()
    }

    fn http(&self) -> String {
        self.addr("http")
    }

    fn uwsgi(&self) -> String {
        self.addr("uwsgi")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        announced::signal(self.pid(), signal);
    }

    fn wait_exit(&mut self) -> ExitStatus {
        announced::wait_exit(&mut self.child, &self.lines)
    }
}

impl Drop for Uwsgi {
    fn drop(&mut self) {
        // The master kills its workers on INT; then make sure.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(self.child.id().to_string())
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `rwsgi uwsgi ARGS` to its end: status and all output.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let output = common::output_within_deadline(
        Command::new(env!("CARGO_BIN_EXE_rwsgi"))
            .arg("uwsgi")
            .args(args)
            .stdin(Stdio::null()),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

/// A response read to the end of the connection.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Parses a close-delimited HTTP/1 response (what the uwsgi protocol, and
/// `Connection: close`, answer).
fn parse_response(bytes: &[u8]) -> Option<Response> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = bytes[end + 4..].to_vec();
    let response = Response {
        status,
        head,
        body: Vec::new(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Some(Response { body, ..response })
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&bytes[line_end + 2..line_end + 2 + size]);
        bytes = &bytes[line_end + 2 + size + 2..];
    }
    out
}

fn read_all(stream: &mut impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// GET over HTTP, one request per connection.
fn http_get(addr: &str, target: &str) -> Response {
    let mut stream = connect(addr);
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let bytes = read_all(&mut stream);
    parse_response(&bytes).unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(&bytes)))
}

/// A uwsgi packet (written here, independently of the engine's encoder).
fn packet(modifier1: u8, vars: &[(&str, &str)], modifier2: u8) -> Vec<u8> {
    let mut block = Vec::new();
    for (k, v) in vars {
        for part in [k.as_bytes(), v.as_bytes()] {
            block.extend_from_slice(&(part.len() as u16).to_le_bytes());
            block.extend_from_slice(part);
        }
    }
    let size = (block.len() as u16).to_le_bytes();
    let mut out = vec![modifier1, size[0], size[1], modifier2];
    out.extend_from_slice(&block);
    out
}

/// Sends `bytes` over the uwsgi socket and reads until the server closes.
fn uwsgi_exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(bytes).unwrap();
    read_all(&mut stream)
}

fn get_vars<'a>(path: &'a str, query: &'a str, uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("QUERY_STRING", query),
        ("REQUEST_METHOD", "GET"),
        ("CONTENT_TYPE", ""),
        ("CONTENT_LENGTH", ""),
        ("REQUEST_URI", uri),
        ("PATH_INFO", path),
        ("DOCUMENT_ROOT", "/srv/www"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "https"),
        ("HTTPS", "on"),
        ("REMOTE_ADDR", "203.0.113.5"),
        ("REMOTE_PORT", "50123"),
        ("SERVER_PORT", "8443"),
        ("SERVER_NAME", "example.org"),
        ("HTTP_HOST", "example.org:8443"),
        ("HTTP_USER_AGENT", "rwsgi-test"),
        ("HTTP_X_CUSTOM", "yes"),
    ]
}

/// The environ nginx's variables produce, on every backend; then bad
/// packets, each refused by closing its connection, with uWSGI's log line,
/// and nothing else affected.
#[test]
fn uwsgi_protocol_on_every_backend() {
    for backend in backends() {
        let server = Uwsgi::start(&[
            "--socket",
            "127.0.0.1:0",
            "--module",
            "demo:environ",
            "--backend",
            backend,
            "--socket-timeout",
            "60",
        ]);
        let addr = server.uwsgi();
        let bytes = uwsgi_exchange(
            &addr,
            &packet(0, &get_vars("/a b/c", "x=1&y", "/a%20b/c?x=1&y"), 0),
        );
        let response = parse_response(&bytes).expect("a response");
        assert_eq!(response.status, 200, "{backend}");
        assert!(
            response.head.starts_with("HTTP/1.1 200 OK\r\n"),
            "{backend}: {}",
            response.head
        );
        assert!(response.header("connection").is_none(), "{backend}");
        assert!(
            response.header("transfer-encoding").is_none(),
            "{backend}: close-delimited"
        );
        let env = response.json();
        for (key, want) in [
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/a b/c"),
            ("QUERY_STRING", "x=1&y"),
            ("REQUEST_URI", "/a%20b/c?x=1&y"),
            ("SERVER_NAME", "example.org"),
            ("SERVER_PORT", "8443"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REMOTE_ADDR", "203.0.113.5"),
            ("REMOTE_PORT", "50123"),
            ("HTTP_HOST", "example.org:8443"),
            ("HTTP_X_CUSTOM", "yes"),
            ("DOCUMENT_ROOT", "/srv/www"),
            ("REQUEST_SCHEME", "https"),
            ("HTTPS", "on"),
            ("wsgi.url_scheme", "https"),
            ("wsgi.multithread", "False"),
            ("wsgi.multiprocess", "False"),
            ("uwsgi.core", "0"),
        ] {
            assert_eq!(env[key], want, "{backend}: {key}");
        }
        assert!(
            env.get("CONTENT_LENGTH").is_none(),
            "{backend}: an empty var is no header"
        );

        // HTTP/2 front ends: the protocol is passed on, not refused.
        let mut h2 = get_vars("/", "", "/");
        h2[7] = ("SERVER_PROTOCOL", "HTTP/2.0");
        let response = parse_response(&uwsgi_exchange(&addr, &packet(0, &h2, 0))).unwrap();
        assert_eq!(response.json()["SERVER_PROTOCOL"], "HTTP/2.0", "{backend}");
        // modifier1 30 strips SCRIPT_NAME from PATH_INFO.
        let mut mounted = get_vars("/app/inner", "", "/app/inner");
        mounted.push(("SCRIPT_NAME", "/app"));
        let env = parse_response(&uwsgi_exchange(&addr, &packet(30, &mounted, 0)))
            .unwrap()
            .json();
        assert_eq!(
            (env["SCRIPT_NAME"].as_str(), env["PATH_INFO"].as_str()),
            (Some("/app"), Some("/inner"))
        );

        // Truncated: the header announces more than ever comes.
        let good = packet(0, &get_vars("/", "", "/"), 0);
        // A good request in progress on another connection all along.
        let mut pending = connect(&addr);
        pending.write_all(&good[..10]).unwrap();
        let mut stream = connect(&addr);
        stream.write_all(&good[..good.len() / 2]).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        assert!(
            read_all(&mut stream).is_empty(),
            "{backend}: truncated packets get no answer"
        );
        server
            .lines
            .wait("the truncation logged", |l| l.contains("truncated uwsgi packet"));
        // Oversized vars: over the 4096-byte buffer.
        let big = "v".repeat(5000);
        let mut oversized = get_vars("/", "", "/");
        oversized.push(("HTTP_COOKIE", &big));
        let oversized = packet(0, &oversized, 0);
        let size = u16::from_le_bytes([oversized[1], oversized[2]]);
        assert!(uwsgi_exchange(&addr, &oversized).is_empty(), "{backend}");
        server.lines.wait("the size logged", |l| {
            l.starts_with(&format!("invalid request block size: {size} (max 4096)...skip"))
        });
        // Modifiers it does not serve.
        for (m1, m2) in [(5u8, 0u8), (0, 1), (72, 0)] {
            let mut stream = connect(&addr);
            let _ = stream.write_all(&packet(m1, &get_vars("/", "", "/"), m2));
            assert!(read_all(&mut stream).is_empty(), "{backend}: modifier {m1}/{m2}");
        }
        server.lines.wait("modifier 5 logged", |l| {
            l.contains("-- unavailable modifier requested: 5 --")
        });
        server.lines.wait("modifier 72 logged", |l| {
            l.contains("-- unavailable modifier requested: 72 --")
        });
        // A malformed vars block, and a null key.
        let mut bad = vec![0, 5, 0, 0, 9, 0, b'a', b'b', b'c'];
        assert!(uwsgi_exchange(&addr, &bad).is_empty());
        server
            .lines
            .wait("the bad var logged", |l| l.contains("invalid uwsgi request"));
        bad = packet(0, &[("", "x")], 0);
        assert!(uwsgi_exchange(&addr, &bad).is_empty());
        server
            .lines
            .wait("the null key logged", |l| l.contains("uwsgi key cannot be null"));
        // Nothing else was affected: the request in progress completes,
        // and new ones are served.
        pending.write_all(&good[10..]).unwrap();
        let response = parse_response(&read_all(&mut pending)).unwrap();
        assert_eq!(response.status, 200, "{backend}: the request in progress");
        let response = parse_response(&uwsgi_exchange(&addr, &good)).unwrap();
        assert_eq!(response.status, 200, "{backend}: the server goes on");
        drop(server);

        // A body of CONTENT_LENGTH bytes follows the packet; a bigger
        // buffer admits bigger packets.
        let server = Uwsgi::start(&[
            "--socket",
            "127.0.0.1:0",
            "--module",
            "demo:echo",
            "--backend",
            backend,
            "--buffer-size",
            "8192",
        ]);
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let length = body.len().to_string();
        let mut vars = get_vars("/echo", "", "/echo");
        vars[1] = ("REQUEST_METHOD", "POST");
        vars[2] = ("CONTENT_TYPE", "application/x-test");
        vars[3] = ("CONTENT_LENGTH", &length);
        vars.push(("HTTP_COOKIE", &big));
        let mut request = packet(0, &vars, 0);
        request.extend_from_slice(&body);
        let response = parse_response(&uwsgi_exchange(&server.uwsgi(), &request)).unwrap();
        assert_eq!(response.status, 200, "{backend}");
        assert_eq!(
            response.header("content-type").as_deref(),
            Some("application/x-test")
        );
        assert!(response.body == body, "{backend}: the body comes back intact");
        // A body cut short fails the request, not the server.
        let mut short = packet(0, &vars, 0);
        short.extend_from_slice(&body[..1000]);
        let mut stream = connect(&server.uwsgi());
        stream.write_all(&short).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let _ = read_all(&mut stream);
        let response = parse_response(&uwsgi_exchange(&server.uwsgi(), &request)).unwrap();
        assert!(response.body == body, "{backend}: served after a truncated body");
    }
}

/// A master with two workers of two threads, an HTTP socket and a uwsgi
/// socket, and the stats server's snapshot.
#[test]
fn master_processes_threads_and_stats() {
    let server = Uwsgi::start(&[
        "--master",
        "--processes",
        "2",
        "--threads",
        "2",
        "--http-socket",
        "127.0.0.1:0",
        "--socket",
        "127.0.0.1:0",
        "--module",
        "demo:environ",
        "--stats",
        "127.0.0.1:0",
    ]);
    let master = server.pid();
    server.lines.wait("the master", |l| {
        l == format!("spawned uWSGI master process (pid: {master})")
    });
    let spawned = server
        .lines
        .wait_n(2, "two workers", |l| l.starts_with("spawned uWSGI worker "));
    assert!(spawned[0].starts_with("spawned uWSGI worker 1 (pid: ") && spawned[0].ends_with(", cores: 2)"));
    for _ in 0..6 {
        let env = http_get(&server.http(), "/x").json();
        assert_eq!(env["wsgi.multiprocess"], "True");
        assert_eq!(env["wsgi.multithread"], "True");
    }
    let response = parse_response(&uwsgi_exchange(
        &server.uwsgi(),
        &packet(0, &get_vars("/", "", "/"), 0),
    ))
    .unwrap();
    assert_eq!(response.status, 200);
    // Every request leaves its line in uWSGI's format.
    let line = server
        .lines
        .wait("a request line", |l| l.contains("] GET /x => generated "));
    assert!(
        line.starts_with("[pid: ") && line.contains("|app: 0|req: "),
        "{line}"
    );
    assert!(line.contains(" vars in ") && line.ends_with(")"), "{line}");
    let stats_addr = server
        .lines
        .wait("the stats server", |l| l.starts_with("stats server enabled on "))
        .split(' ')
        .nth(4)
        .unwrap()
        .to_owned();
    // The counters are updated as responses end; wait for all 7.
    let start = Instant::now();
    let stats = loop {
        let mut stream = connect(&stats_addr);
        let stats: serde_json::Value = serde_json::from_slice(&read_all(&mut stream)).unwrap();
        let total: u64 = stats["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["requests"].as_u64().unwrap())
            .sum();
        if total == 7 {
            break stats;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "stats never counted 7 requests: {stats}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(stats["pid"], master);
    let workers = stats["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    for (i, worker) in workers.iter().enumerate() {
        assert_eq!(worker["id"], i + 1);
        assert_eq!(worker["accepting"], 1);
        assert_eq!(worker["status"], "idle");
        assert_eq!(worker["cores"].as_array().unwrap().len(), 2);
        assert!(worker["pid"].as_u64().unwrap() > 0);
    }
    let protos: Vec<&str> = stats["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["proto"].as_str().unwrap())
        .collect();
    assert_eq!(protos, ["http", "uwsgi"]);
}

/// `--harakiri`: the master kills the worker stuck past the deadline,
/// logs the request it was running, and respawns it.
#[test]
fn harakiri_kills_and_replaces_a_stuck_worker() {
    let server = Uwsgi::start(&[
        "--master",
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "demo:block",
        "--harakiri",
        "1",
        "--stats",
        "127.0.0.1:0",
    ]);
    let worker = server
        .lines
        .wait("the worker", |l| l.starts_with("spawned uWSGI worker 1 (pid: "));
    let old_pid: u32 = worker["spawned uWSGI worker 1 (pid: ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut stuck = connect(&server.http());
    write!(stuck, "GET /stuck?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let started = Instant::now();
    assert!(
        read_all(&mut stuck).is_empty(),
        "the stuck request is cut, not answered"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "killed within the deadline"
    );
    server.lines.wait("the harakiri", |l| {
        l.ends_with(&format!("*** HARAKIRI ON WORKER 1 (pid: {old_pid}, try: 1) ***"))
    });
    let request = server
        .lines
        .wait("the request line", |l| l.contains("HARAKIRI [core 0] "));
    assert!(
        request.contains("HARAKIRI [core 0] 127.0.0.1 - GET /stuck?ms=60000 since "),
        "{request}"
    );
    server.lines.wait("the death", |l| {
        l == format!("DAMN ! worker 1 (pid: {old_pid}) died, killed by signal 9 :( trying respawn ...")
    });
    server.lines.wait("the respawn", |l| {
        l.starts_with("Respawned uWSGI worker 1 (new pid: ")
    });
    let response = http_get(&server.http(), "/?ms=0");
    assert_eq!(response.status, 200);
    let new_pid: u32 = response
        .text()
        .trim()
        .strip_prefix("pid ")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_pid, old_pid);
    let stats_addr = server
        .lines
        .wait("the stats server", |l| l.starts_with("stats server enabled on "))
        .split(' ')
        .nth(4)
        .unwrap()
        .to_owned();
    let stats: serde_json::Value = serde_json::from_slice(&read_all(&mut connect(&stats_addr))).unwrap();
    assert_eq!(stats["workers"][0]["harakiri_count"], 1);
    assert_eq!(stats["workers"][0]["respawn_count"], 1);
}

/// `--max-requests`: a worker retires after N requests and is replaced.
#[test]
fn max_requests_recycles_the_worker() {
    let server = Uwsgi::start(&[
        "--master",
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "demo:pid",
        "--max-requests",
        "3",
    ]);
    let mut pids = Vec::new();
    for _ in 0..12 {
        let text = http_get(&server.http(), "/").text();
        pids.push(text.trim().strip_prefix("pid ").unwrap().to_owned());
        if pids.len() > 3 && pids.last() != pids.first() {
            break;
        }
    }
    assert!(pids[..3].iter().all(|p| *p == pids[0]), "{pids:?}");
    assert_ne!(pids.last(), pids.first(), "a new worker took over: {pids:?}");
    server.lines.wait("the farewell", |l| {
        l == format!("...The work of process {} is done. Seeya!", pids[0])
    });
    server.lines.wait("the respawn", |l| {
        l.starts_with("Respawned uWSGI worker 1 (new pid: ")
    });
}

/// Applications load in the master before the fork, or in each worker
/// with `--lazy-apps`.
#[test]
fn lazy_apps_load_in_each_worker() {
    for lazy in [false, true] {
        let mut args = vec![
            "--master",
            "--processes",
            "2",
            "--http-socket",
            "127.0.0.1:0",
            "--module",
            "demo:loaded",
        ];
        if lazy {
            args.push("--lazy-apps");
        }
        let server = Uwsgi::start(&args);
        server
            .lines
            .wait_n(2, "the workers", |l| l.starts_with("spawned uWSGI worker "));
        let text = http_get(&server.http(), "/").text();
        let (loaded, serving) = text
            .trim()
            .strip_prefix("loaded in ")
            .unwrap()
            .split_once(", serving in ")
            .unwrap();
        assert_ne!(serving, server.pid().to_string(), "a worker serves");
        if lazy {
            assert_eq!(loaded, serving, "--lazy-apps: loaded in the worker");
        } else {
            assert_eq!(loaded, server.pid().to_string(), "loaded in the master");
        }
    }
}

/// Opens a request to `demo:gate` that stays in the application until the
/// client sends its one body byte.
fn open_gate(addr: &str) -> TcpStream {
    let mut stream = connect(addr);
    write!(
        stream,
        "POST /gate HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n"
    )
    .unwrap();
    stream
}

/// HUP reloads gracefully (the request in flight is answered, then a new
/// worker serves); TERM reloads brutally (the request in flight is cut);
/// INT stops.
#[test]
fn signals_reload_gracefully_brutally_and_stop() {
    let mut server = Uwsgi::start(&[
        "--master",
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "demo:gate",
        "--threads",
        "2",
    ]);
    let addr = server.http();
    server
        .lines
        .wait("the worker", |l| l.starts_with("spawned uWSGI worker 1 "));
    let mut in_flight = open_gate(&addr);
    server.lines.wait("the request", |l| l == "demo:gate entered");
    server.signal("HUP");
    server
        .lines
        .wait("the graceful reload", |l| l == "...gracefully killing workers...");
    server.lines.wait("the worker told", |l| {
        l.starts_with("Gracefully killing worker 1 (pid: ")
    });
    in_flight.write_all(b"x").unwrap();
    let response = parse_response(&read_all(&mut in_flight)).expect("the request in flight is answered");
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "read 1 bytes\n")
    );
    server.lines.wait("the new generation", |l| {
        l.starts_with("Respawned uWSGI worker 1 (new pid: ")
    });
    // The new worker serves.
    let mut again = open_gate(&addr);
    again.write_all(b"y").unwrap();
    assert_eq!(parse_response(&read_all(&mut again)).unwrap().status, 200);

    // TERM: brutal.
    let mut cut = open_gate(&addr);
    server
        .lines
        .wait_n(3, "the third request", |l| l == "demo:gate entered");
    server.signal("TERM");
    server
        .lines
        .wait("the brutal reload", |l| l == "...brutally killing workers...");
    assert!(read_all(&mut cut).is_empty(), "TERM cuts the request in flight");
    server.lines.wait_n(2, "another generation", |l| {
        l.starts_with("Respawned uWSGI worker 1 (new pid: ")
    });
    let mut after = open_gate(&addr);
    after.write_all(b"z").unwrap();
    assert_eq!(parse_response(&read_all(&mut after)).unwrap().status, 200);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "TERM does not stop the master"
    );

    // INT: stop.
    server.signal("INT");
    server.lines.wait("the stop", |l| {
        l == "SIGINT/SIGQUIT received...killing workers..."
    });
    assert!(server.wait_exit().success());
    server.lines.wait("the goodbye", |l| l == "goodbye to uWSGI.");
}

/// `--die-on-term`: TERM stops (and QUIT reloads), with `--vacuum`
/// removing the unix socket and the pidfile.
#[test]
fn die_on_term_stops_and_vacuum_cleans_up() {
    let dir = temp_dir("die-on-term");
    let socket = dir.join("app.sock");
    let pidfile = dir.join("uwsgi.pid");
    let mut server = Uwsgi::start(&[
        "--master",
        "--die-on-term",
        "--vacuum",
        "--socket",
        socket.to_str().unwrap(),
        "--chmod-socket=600",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--module",
        "demo:hello",
    ]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        server.pid().to_string()
    );
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(&packet(0, &get_vars("/", "", "/"), 0)).unwrap();
    let response = parse_response(&read_all(&mut stream)).unwrap();
    assert_eq!(response.text(), "Hello, World!\n");
    server
        .lines
        .wait("the worker", |l| l.starts_with("spawned uWSGI worker 1 "));
    server.signal("QUIT");
    server
        .lines
        .wait("QUIT reloads", |l| l == "...brutally killing workers...");
    server
        .lines
        .wait("the new worker", |l| l.starts_with("Respawned uWSGI worker 1 "));
    server.signal("TERM");
    assert!(server.wait_exit().success());
    server.lines.wait("the goodbye", |l| l == "goodbye to uWSGI.");
    assert!(!socket.exists(), "--vacuum removes the socket");
    assert!(!pidfile.exists(), "--vacuum removes the pidfile");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rwsgi-uwsgi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `--ini FILE` maps onto the same options, with magic variables and
/// placeholders; a `.ini` argument is loaded too.
#[test]
fn ini_files_configure_the_same_options() {
    let dir = temp_dir("ini");
    let ini = dir.join("site.ini");
    std::fs::write(
        &ini,
        "[uwsgi]\n\
         ; uWSGI's usual deployment file\n\
         project = demo\n\
         module = %(project):environ\n\
         master = true\n\
         processes = 2\n\
         socket = %dapp.sock\n\
         chmod-socket = 660\n\
         http-socket = 127.0.0.1:0\n\
         vacuum = true\n\
         pidfile = %d%n.pid\n\
         buffer-size = 8192\n\
         [other]\n\
         processes = 9\n",
    )
    .unwrap();
    for how in ["--ini", "positional"] {
        let args: Vec<&str> = if how == "--ini" {
            vec!["--ini", ini.to_str().unwrap()]
        } else {
            vec![ini.to_str().unwrap()]
        };
        let mut server = Uwsgi::start(&args);
        let socket = std::fs::canonicalize(&dir).unwrap().join("app.sock");
        let pidfile = std::fs::canonicalize(&dir).unwrap().join("site.pid");
        server
            .lines
            .wait_n(2, "two workers", |l| l.starts_with("spawned uWSGI worker "));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
            0o660,
            "{how}"
        );
        assert_eq!(
            std::fs::read_to_string(&pidfile).unwrap().trim(),
            server.pid().to_string()
        );
        let env = http_get(&server.http(), "/ini").json();
        assert_eq!(env["PATH_INFO"], "/ini");
        assert_eq!(env["wsgi.multiprocess"], "True");
        server.signal("INT");
        assert!(server.wait_exit().success());
        assert!(!socket.exists() && !pidfile.exists(), "{how}: vacuum");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a master, one process serves; HUP reloads it in place.
#[test]
fn single_process_reloads_in_place() {
    let mut server = Uwsgi::start(&["--http-socket", "127.0.0.1:0", "--module", "demo:pid"]);
    server.lines.wait("the warning", |l| {
        l == "*** WARNING: you are running uWSGI without its master process manager ***"
    });
    let pid = server.pid().to_string();
    assert_eq!(http_get(&server.http(), "/").text().trim(), format!("pid {pid}"));
    let env_server_status = http_get(&server.http(), "/").status;
    assert_eq!(env_server_status, 200);
    server.signal("HUP");
    server.lines.wait_n(2, "the app loaded again", |l| {
        l.starts_with("WSGI app 0 (mountpoint='') ready")
    });
    assert_eq!(http_get(&server.http(), "/").text().trim(), format!("pid {pid}"));
    server.signal("TERM");
    assert!(server.wait_exit().success());
}

/// The command line's errors are uWSGI's.
#[test]
fn command_line_errors() {
    let (status, out) = run_to_exit(&["--bogus"]);
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("unrecognized option '--bogus'"), "{out}");
    let (status, out) = run_to_exit(&["--module", "demo:hello"]);
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("The -s/--socket option is missing"), "{out}");
    let (status, out) = run_to_exit(&["--http-socket", "127.0.0.1:0", "--module", "nope:app"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        out.contains("no app loaded") && out.contains("demo:hello"),
        "{out}"
    );
    let (status, out) = run_to_exit(&["--http-socket", "127.0.0.1:0", "--module", "demo:failing()"]);
    assert_eq!(status.code(), Some(22), "{out}");
    let (status, out) = run_to_exit(&["--buffer-size", "70000"]);
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("65535"), "{out}");
    let (status, out) = run_to_exit(&["--help"]);
    assert!(status.success() && out.contains("--harakiri"), "{out}");
    // --uid/--gid: the current ids are accepted (names and numbers); an
    // unknown user is refused.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    let (status, out) = run_to_exit(&[
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "demo:hello",
        "--uid",
        "no-such-user-rwsgi",
    ]);
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("--uid no-such-user-rwsgi: no such user"), "{out}");
    let mut server = Uwsgi::start(&[
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        "demo:hello",
        "--uid",
        &uid.to_string(),
    ]);
    server.lines.wait("setuid", |l| l == format!("setuid() to {uid}"));
    assert_eq!(http_get(&server.http(), "/").status, 200);
    server.signal("INT");
    assert!(server.wait_exit().success());
}
