//! `rwsgi twistd`: `twistd web --wsgi` served by rwsgi — strports
//! endpoints (TCP, unix, haproxy), the reactor with its WSGI thread pool
//! (20 requests at once, the 21st waits, I/O keeps flowing), twisted's
//! environ and combined log, the deprecated `--port`, daemonising with a
//! pidfile. The server runs as a child process on 127.0.0.1 or unix
//! sockets.

#![cfg(feature = "twisted")]

mod common;

use common::DEADLINE;
use common::announced::{self, Lines};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `rwsgi twistd ARGS` in the foreground; stopped when dropped.
struct Twistd {
    child: Child,
    lines: Lines,
    addrs: Vec<String>,
}

impl Twistd {
    fn start(args: &[&str]) -> Twistd {
        let args: Vec<&str> = std::iter::once("twistd").chain(args.iter().copied()).collect();
        let (child, lines, addrs) = announced::spawn(&args);
        Twistd { child, lines, addrs }
    }

    fn tcp(&self, n: usize) -> String {
        self.addrs
            .iter()
            .filter_map(|a| a.strip_prefix("http://"))
            .nth(n)
            .unwrap_or_else(|| panic!("no TCP address {n} in {:?}", self.addrs))
            .to_owned()
    }

    fn signal(&self, signal: &str) {
        announced::signal(self.child.id(), signal);
    }

    fn wait_exit(&mut self) -> ExitStatus {
        announced::wait_exit(&mut self.child, &self.lines)
    }
}

impl Drop for Twistd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rwsgi_twistd(args: &[&str]) -> std::process::Output {
    common::output_within_deadline(
        Command::new(env!("CARGO_BIN_EXE_rwsgi"))
            .arg("twistd")
            .args(args)
            .stdin(Stdio::null()),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rwsgi-twisted-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends a request with `Connection: close` and reads the response to the
/// end: (status, head, body).
fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> (u16, String, Vec<u8>) {
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 2 + size + 2..];
        }
        body = out;
    }
    (status, head, body)
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

fn get(addr: &str, target: &str) -> (u16, String, Vec<u8>) {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: twisted.test\r\nUser-Agent: rwsgi \"test\"\r\nConnection: close\r\n\r\n"
    );
    exchange(&mut connect(addr), request.as_bytes())
}

fn environ(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// twistd web --wsgi with a TCP and a unix strports endpoint: twisted's
/// environ, its combined log line in the twistd log, the lock file and
/// the socket file removed when SIGTERM stops it.
#[test]
fn web_wsgi_on_tcp_and_unix_endpoints() {
    let dir = temp_dir("endpoints");
    let socket = dir.join("web.sock");
    let unix = format!("unix:address={}:mode=600:lockfile=1", socket.display());
    let mut server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo.environ",
        "--listen",
        "tcp:port=0:interface=127.0.0.1:backlog=7",
        "--listen",
        &unix,
    ]);
    let addr = server.tcp(0);
    let (status, _, body) = get(&addr, "/p%20q?x=1");
    assert_eq!(status, 200);
    let env = environ(&body);
    assert_eq!(env["PATH_INFO"], "/p q");
    assert_eq!(env["QUERY_STRING"], "x=1");
    assert_eq!(env["wsgi.multithread"], "True", "the WSGI thread pool");
    assert_eq!(env["wsgi.multiprocess"], "False");
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert!(env["REMOTE_PORT"].as_str().unwrap().parse::<u16>().unwrap() > 0);
    assert!(env.get("SERVER_SOFTWARE").is_none(), "twisted's environ has none");
    // The combined log, as twisted.web writes it into the twistd log.
    let line = server
        .lines
        .wait("the access line", |l| l.contains("[twisted.python.log#info]"));
    let (stamp, rest) = line.split_once(" [twisted.python.log#info] ").unwrap();
    assert_eq!(stamp.len(), "2025-11-20T23:00:00+0000".len(), "{line}");
    assert!(rest.starts_with("\"127.0.0.1\" - - ["), "{rest}");
    assert!(
        rest.ends_with(&format!(
            " +0000] \"GET /p%20q?x=1 HTTP/1.1\" 200 {} \"-\" \"rwsgi \\\"test\\\"\"",
            body.len()
        )),
        "{rest}"
    );
    // The unix endpoint: its mode, its lock naming us.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let lock = PathBuf::from(format!("{}.lock", socket.display()));
    assert_eq!(
        std::fs::read_link(&lock).unwrap(),
        PathBuf::from(server.child.id().to_string())
    );
    let mut unix_stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let (status, _, body) = exchange(
        &mut unix_stream,
        b"GET /over-unix HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(environ(&body)["PATH_INFO"], "/over-unix");
    // A second server may not take the locked socket.
    let out = rwsgi_twistd(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo.hello",
        "--listen",
        &unix,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is held by process"));
    server.signal("TERM");
    assert!(server.wait_exit().success());
    server.lines.wait("the shutdown", |l| {
        l.ends_with(" [-] Received SIGTERM, shutting down.")
    });
    server.lines.wait("the end", |l| l.ends_with("Server Shut Down."));
    assert!(
        !socket.exists() && !lock.exists(),
        "the socket and its lock are removed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `web --logfile PATH`: the combined log in a file of its own.
#[test]
fn web_logfile_gets_the_combined_log() {
    let dir = temp_dir("weblog");
    let access = dir.join("access.log");
    let server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo:hello",
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--logfile",
        access.to_str().unwrap(),
    ]);
    let mut stream = connect(&server.tcp(0));
    let (status, _, _) = exchange(
        &mut stream,
        b"GET /hi HTTP/1.0\r\nReferer: http://ref.example/\r\nUser-Agent: a\xe9b\r\n\r\n",
    );
    assert_eq!(status, 200);
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&access).unwrap_or_default();
        if !text.is_empty() {
            break text;
        }
        assert!(start.elapsed() < DEADLINE, "nothing in the web log");
        std::thread::sleep(Duration::from_millis(10));
    };
    let line = text.lines().next().unwrap();
    assert!(line.starts_with("\"127.0.0.1\" - - ["), "{line}");
    assert!(
        line.ends_with(" +0000] \"GET /hi HTTP/1.0\" 200 14 \"http://ref.example/\" \"a\\xe9b\""),
        "{line}"
    );
    assert_eq!(server.lines.count(|l| l.contains("twisted.python.log#info")), 0);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The deprecated `--port` still serves, with twisted's warning.
#[test]
fn deprecated_port_warns_and_serves() {
    let server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo.hello",
        "--port",
        "tcp:0:interface=127.0.0.1",
    ]);
    server.lines.wait("the warning", |l| {
        l.contains("DeprecationWarning: twisted.web.tap.Options.opt_port was deprecated in Twisted 18.4.0")
    });
    assert_eq!(get(&server.tcp(0), "/").2, b"Hello, World!\n");
}

/// Malformed endpoints and unknown applications are refused with a
/// message that points at the fault.
#[test]
fn errors_point_at_the_fault() {
    let out = rwsgi_twistd(&[
        "-n",
        "web",
        "--wsgi",
        "demo.hello",
        "--listen",
        "tcp:port=80:colour=blue",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument 'colour'"), "{err}");
    assert!(
        err.contains("tcp:port=80:colour=blue\n") && err.contains("^^^^^^^^^^^"),
        "{err}"
    );
    let out = rwsgi_twistd(&["-n", "web", "--wsgi", "nope.app", "--listen", "tcp:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such WSGI application: \"nope.app\""));
    let out = rwsgi_twistd(&["-n", "web", "--listen", "tcp:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--wsgi APP is required"));
}

/// Where `demo:hold` requests report once they run: a loopback listener
/// whose accepted connections are the requests inside the application.
struct Holds {
    listener: std::net::TcpListener,
    held: Vec<TcpStream>,
}

impl Holds {
    fn new() -> Holds {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Holds {
            listener,
            held: Vec::new(),
        }
    }

    fn target(&self) -> String {
        format!("/hold?port={}", self.listener.local_addr().unwrap().port())
    }

    /// Waits until `n` requests in all have entered the application.
    fn wait_for(&mut self, n: usize) {
        let start = Instant::now();
        while self.held.len() < n {
            match self.listener.accept() {
                Ok((stream, _)) => self.held.push(stream),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        start.elapsed() < DEADLINE,
                        "only {} of {n} requests entered",
                        self.held.len()
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(err) => panic!("{err}"),
            }
        }
    }

    /// How many more have entered, without waiting.
    fn newcomers(&mut self) -> usize {
        let before = self.held.len();
        while let Ok((stream, _)) = self.listener.accept() {
            self.held.push(stream);
        }
        self.held.len() - before
    }

    /// Lets request `i` (in order of entry) answer.
    fn release(&mut self, i: usize) {
        self.held[i].write_all(b"x").unwrap();
    }
}

/// Starts `n` `demo:hold` requests; their connections.
fn hold_requests(addr: &str, holds: &Holds, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = connect(addr);
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                holds.target()
            );
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect()
}

fn read_to_end(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The reactor and twisted's WSGI pool (20 threads): 20 synchronous
/// requests run at once and the 21st waits for a thread, while the
/// reactor goes on with I/O (a malformed request is answered at once, a
/// request body is read).
#[test]
fn twenty_run_in_parallel_and_the_21st_waits() {
    let server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo:hold",
        "--listen",
        "tcp:0:interface=127.0.0.1",
    ]);
    let addr = server.tcp(0);
    let mut holds = Holds::new();
    let mut requests = hold_requests(&addr, &holds, 21);
    holds.wait_for(20);
    // I/O flows while every pool thread is taken: the reactor refuses a
    // malformed request at once, and reads a request body (twisted reads
    // it before the application runs).
    let started = Instant::now();
    let (status, _, _) = exchange(&mut connect(&addr), b"get / HTTP/1.1\r\n\r\n");
    assert_eq!(status, 400);
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut upload = connect(&addr);
    // More than socket buffers hold: it must be read to be sent.
    let body = vec![b'u'; 8 * 1024 * 1024];
    upload
        .write_all(
            format!(
                "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    upload.write_all(&body).expect("the reactor reads the upload");
    // The 21st has not entered: it waits for a thread.
    assert_eq!(holds.newcomers(), 0, "only 20 at once");
    // Freeing one thread lets the 21st in.
    holds.release(0);
    holds.wait_for(21);
    for i in 1..21 {
        holds.release(i);
    }
    for stream in &mut requests {
        assert!(read_to_end(stream).ends_with("released\n"));
    }
}

/// `--max-threads 3`: the pool's size is an option.
#[test]
fn the_pool_size_is_an_option() {
    let server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo:hold",
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--min-threads",
        "0",
        "--max-threads",
        "3",
    ]);
    let addr = server.tcp(0);
    let mut holds = Holds::new();
    let mut requests = hold_requests(&addr, &holds, 4);
    holds.wait_for(3);
    // A request the reactor refuses needs no thread.
    assert_eq!(exchange(&mut connect(&addr), b"GET / HTTP/2.0\r\n\r\n").0, 505);
    assert_eq!(holds.newcomers(), 0, "only 3 at once");
    holds.release(0);
    holds.wait_for(4);
    for i in 1..4 {
        holds.release(i);
    }
    for stream in &mut requests {
        assert!(read_to_end(stream).ends_with("released\n"));
    }
}

/// `haproxy:` endpoints take the client's address from the PROXY header
/// (v1 and v2); a connection without one is closed; plain endpoints beside
/// them are unaffected.
#[test]
fn haproxy_endpoint_sets_the_remote_address() {
    let server = Twistd::start(&[
        "-n",
        "--pidfile",
        "",
        "web",
        "--wsgi",
        "demo.environ",
        "--listen",
        "haproxy:tcp:port=0:interface=127.0.0.1",
        "--listen",
        "tcp:0:interface=127.0.0.1",
    ]);
    let proxied = server.tcp(0);
    let plain = server.tcp(1);
    let request = b"GET /via-haproxy HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (status, _, body) = exchange(
        &mut connect(&proxied),
        &[&b"PROXY TCP4 203.0.113.7 192.0.2.1 4242 443\r\n"[..], request].concat(),
    );
    assert_eq!(status, 200);
    let env = environ(&body);
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("203.0.113.7"), Some("4242"))
    );
    // Version 2, IPv6.
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[0x21, 0x21, 0, 36]);
    let mut source = [0u8; 16];
    source[0] = 0x20;
    source[1] = 0x01;
    source[2] = 0x0d;
    source[3] = 0xb8;
    source[15] = 9;
    v2.extend_from_slice(&source);
    v2.extend_from_slice(&[0; 15]);
    v2.push(1);
    v2.extend_from_slice(&5555u16.to_be_bytes());
    v2.extend_from_slice(&443u16.to_be_bytes());
    let (_, _, body) = exchange(&mut connect(&proxied), &[&v2[..], request].concat());
    let env = environ(&body);
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("2001:db8::9"), Some("5555"))
    );
    // No header: closed without an answer.
    let mut bare = connect(&proxied);
    bare.write_all(request).unwrap();
    let mut nothing = Vec::new();
    let _ = bare.read_to_end(&mut nothing);
    assert!(nothing.is_empty(), "{:?}", String::from_utf8_lossy(&nothing));
    // The plain endpoint takes no header.
    let (_, _, body) = exchange(&mut connect(&plain), request);
    assert_eq!(environ(&body)["REMOTE_ADDR"], "127.0.0.1");
    // The access log names the proxied client.
    server.lines.wait("the proxied client in the log", |l| {
        l.contains("[twisted.python.log#info] \"203.0.113.7\" - - [")
    });
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `/proc/PID/stat`'s state, parent, process group and session.
fn proc_stat(pid: i32) -> Option<(char, i32, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp, session))
}

/// Without `-n`: a double fork, a new session, stdio on /dev/null, the
/// pidfile; the starter exits 0 once the daemon serves; a second start
/// refuses the live pidfile; SIGTERM removes it.
#[test]
fn daemonizes_with_a_pidfile() {
    let dir = temp_dir("daemon");
    let pidfile = dir.join("twistd.pid");
    let logfile = dir.join("twistd.log");
    let args = [
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--logfile",
        logfile.to_str().unwrap(),
        "web",
        "--wsgi",
        "demo.hello",
        "--listen",
        "tcp:0:interface=127.0.0.1",
    ];
    let mut starter = Command::new(env!("CARGO_BIN_EXE_rwsgi"))
        .arg("twistd")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let starter_pid = starter.id() as i32;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = starter.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "the starter did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "the starter reports the daemon's start-up");
    let pid = read_pid(&pidfile).expect("the daemon wrote its pidfile before reporting");
    assert_ne!(pid, starter_pid);
    let (state, ppid, _pgrp, session) = proc_stat(pid).expect("the daemon runs");
    assert_ne!(state, 'Z');
    assert_ne!(ppid, starter_pid, "the intermediate process is gone");
    assert_ne!(
        session, pid,
        "not a session leader: it can never regain a terminal"
    );
    let own_session = proc_stat(std::process::id() as i32).unwrap().3;
    assert_ne!(session, own_session, "a session of its own");
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap(),
            PathBuf::from("/dev/null"),
            "fd {fd}"
        );
    }
    let log = std::fs::read_to_string(&logfile).unwrap();
    let port: u16 = log
        .lines()
        .find_map(|l| l.split_once(" [-] Site starting on ").map(|(_, p)| p))
        .unwrap_or_else(|| panic!("no port in the log:\n{log}"))
        .parse()
        .unwrap();
    assert_eq!(get(&format!("127.0.0.1:{port}"), "/").2, b"Hello, World!\n");
    // The live pidfile keeps a second instance out.
    let second = rwsgi_twistd(&args);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains(&format!("Another twistd server is running, PID {pid}"))
    );
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    while pidfile.exists() || proc_stat(pid).is_some_and(|s| s.0 != 'Z') {
        assert!(start.elapsed() < DEADLINE, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Server Shut Down."), "{log}");
    // A stale pidfile is replaced.
    std::fs::write(&pidfile, "999999999\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rwsgi"))
        .arg("twistd")
        .args(["-n"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut daemonless = Twistd {
        lines: Lines::default(),
        child: out,
        addrs: Vec::new(),
    };
    daemonless.lines.collect(daemonless.child.stdout.take().unwrap());
    daemonless.lines.collect(daemonless.child.stderr.take().unwrap());
    daemonless
        .lines
        .wait("the stale pidfile", |l| l.starts_with("Removing stale pidfile "));
    daemonless
        .lines
        .wait("serving", |l| l.starts_with("rwsgi: serving "));
    assert_eq!(read_pid(&pidfile), Some(daemonless.child.id() as i32));
    daemonless.signal("INT");
    assert!(daemonless.wait_exit().success());
    assert!(!pidfile.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
