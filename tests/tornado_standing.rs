//! The tornado promise: one process, one thread, thousands of standing
//! connections. `rwsgi tornado` (a child process, one event loop) holds
//! 2 000 server-sent-event streams open — each waiting on the backend's
//! timer between events, holding no thread — while plain requests on new
//! connections are still answered promptly.
//!
//! It runs on every compiled backend and engine in turn. Its own test
//! target, with one test, so that nothing else runs beside it.

#![cfg(feature = "tornado")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const STANDING: usize = 2_000;
/// Descriptors this process needs (the standing connections, the plain
/// ones, some slack); the server needs as many.
const FDS_NEEDED: u64 = STANDING as u64 + 200;
const DEADLINE: Duration = Duration::from_secs(30);

/// The soft `RLIMIT_NOFILE`, as `getrlimit(2)` gives it (from
/// `/proc/self/limits`).
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits (Linux)");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let soft = line.split_whitespace().nth(3).expect("the soft limit");
    if soft == "unlimited" {
        u64::MAX
    } else {
        soft.parse().expect("a number")
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(backend: &str, engine: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rwsgi"))
        .args([
            "tornado",
            "--backend",
            backend,
            "--engine",
            engine,
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--backlog",
            "4096",
            "--logging",
            "none",
            "demo:sse",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rwsgi starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut addr = None;
    loop {
        let line = rx
            .recv_timeout(DEADLINE)
            .expect("rwsgi tornado reports that it serves");
        if let Some(url) = line.strip_prefix("rwsgi: listening on http://") {
            addr = Some(url.parse().unwrap());
        }
        if line.starts_with("rwsgi: serving ") {
            break;
        }
    }
    Server {
        child,
        addr: addr.expect("an address"),
    }
}

/// The threads of process `pid`.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// The descriptors process `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Reads until `needle` has arrived (within the stream's read timeout).
fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, needle: &[u8]) {
    let mut buf = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = stream.read(&mut buf).unwrap_or_else(|err| {
            panic!(
                "waiting for {:?}: {err}; got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(seen)
            )
        });
        assert!(n > 0, "closed before {:?}", String::from_utf8_lossy(needle));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// A complete short response (one event, then the end) on a new
/// connection.
fn plain_request(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(b"GET /plain?n=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("a whole response");
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.contains("data: tick 0"),
        "plain request: {text:?}"
    );
}

#[test]
fn two_thousand_standing_connections_on_one_loop() {
    let limit = open_files_limit();
    assert!(
        limit >= FDS_NEEDED,
        "this test holds {STANDING} connections and needs {FDS_NEEDED} open files, \
         but RLIMIT_NOFILE is {limit}: raise it (`ulimit -n {FDS_NEEDED}`) and run again"
    );
    for (backend, engine) in rwsgi::backends::combinations() {
        standing_on(backend, engine.name());
    }
}

fn standing_on(backend: &str, engine: &str) {
    let server = start_server(backend, engine);
    let pid = server.child.id();
    plain_request(server.addr);
    let threads_idle = threads(pid);

    // 2 000 event streams, one event a second each, the first at once.
    let started = Instant::now();
    let mut standing: Vec<(TcpStream, Vec<u8>)> = Vec::with_capacity(STANDING);
    for _ in 0..STANDING {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream
            .write_all(b"GET /events?interval_ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        standing.push((stream, Vec::new()));
    }
    for (stream, seen) in &mut standing {
        read_until(stream, seen, b"data: tick 0\n\n");
        assert!(
            seen.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{:?}",
            String::from_utf8_lossy(seen)
        );
    }
    let opened = started.elapsed();

    // Every stream is open on the server, and still on its one loop.
    assert!(
        open_fds(pid) >= STANDING,
        "the server holds {} descriptors",
        open_fds(pid)
    );
    let threads_busy = threads(pid);
    // One loop thread, plus what the runtime keeps beside it (the signal
    // thread; smol's and async-std's reactor threads) — none per stream.
    assert!(
        threads_busy <= threads_idle && threads_busy <= 6,
        "{backend}/{engine}: no thread per connection: {threads_idle} threads idle, \
         {threads_busy} with {STANDING} streams"
    );

    // Plain requests on new connections are answered while they stand.
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let asked = Instant::now();
        plain_request(server.addr);
        slowest = slowest.max(asked.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(2),
        "{backend}/{engine}: a plain request took {slowest:?} beside {STANDING} standing streams"
    );

    // And the standing streams go on: the next event reaches every one.
    for (stream, seen) in &mut standing {
        read_until(stream, seen, b"data: tick 1\n\n");
    }
    eprintln!(
        "{backend}/{engine}: {STANDING} streams opened in {opened:?}; server threads {threads_busy}; \
         slowest plain request {slowest:?}"
    );
    // The server goes first, so that the closes' TIME_WAIT falls on its
    // side and the next round has every client port.
    drop(server);
    drop(standing);
}
