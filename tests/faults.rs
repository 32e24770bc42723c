//! Faults under load, on every backend × engine: SIGTERM while clients
//! keep sending — every request the server started is answered in full
//! (the server's own count, printed as it exits, against the clients'), and
//! the server exits cleanly within the grace period. The personalities'
//! faults (hung and leaking workers, kill -9) are in their own tests.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{ChildServer, DEADLINE, wait_until};

/// How each request of the load ended.
#[derive(Default)]
struct Tally {
    complete: AtomicUsize,
    /// A response that began and did not end: what must never happen.
    partial: AtomicUsize,
    /// Refused or closed before any byte of a response: the server had
    /// not started it.
    unanswered: AtomicUsize,
}

/// Requests of `demo:block?ms=20` (on the thread pool) on keep-alive connections until the
/// server stops accepting; each response read to its last byte.
fn client(addr: SocketAddr, tally: &Tally, stopping: &AtomicBool) {
    let request = b"GET /?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n";
    loop {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            if stopping.load(Ordering::Relaxed) {
                return; // the listener is closed: shutdown began
            }
            tally.unanswered.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        loop {
            if stream.write_all(request).is_err() {
                tally.unanswered.fetch_add(1, Ordering::Relaxed);
                break;
            }
            match read_response(&mut stream) {
                Ok(true) => {
                    tally.complete.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {
                    tally.complete.fetch_add(1, Ordering::Relaxed);
                    break; // the server said `Connection: close`
                }
                Err(0) => {
                    tally.unanswered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(_) => {
                    tally.partial.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// Reads one `200` response with a `Content-Length` body: `Ok(keep_alive)`,
/// or `Err(bytes received)` if the connection ended first.
fn read_response(stream: &mut TcpStream) -> Result<bool, usize> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut need = None;
    loop {
        if need.is_none() {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200 "), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("a Content-Length");
                need = Some((end + 4 + length, !head.contains("connection: close")));
            }
        }
        if let Some((total, keep_alive)) = need {
            if got.len() >= total {
                return Ok(keep_alive);
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err(got.len()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn sigterm_under_load_answers_every_request_the_server_started() {
    const CLIENTS: usize = 16;
    for (backend, engine) in rwsgi::cli::combinations() {
        let name = format!("{backend}/{engine}");
        let engine = engine.to_string();
        let mut server = ChildServer::start(&[
            "--backend",
            backend,
            "--engine",
            &engine,
            "--bind",
            "127.0.0.1:0",
            "--graceful-timeout",
            "10",
            "--threads",
            "32",
            "demo:block",
        ]);
        let addr = server.addr();
        let tally = Tally::default();
        let stopping = AtomicBool::new(false);
        let status = std::thread::scope(|s| {
            for _ in 0..CLIENTS {
                s.spawn(|| client(addr, &tally, &stopping));
            }
            wait_until(DEADLINE, "the load to get going", || {
                tally.complete.load(Ordering::Relaxed) >= 500
            });
            stopping.store(true, Ordering::Relaxed);
            server.signal_and_wait(15)
        });
        assert!(status.success(), "{name}: exit status {status}");
        let last = server
            .stdout
            .recv_timeout(Duration::from_secs(5))
            .expect("a last line");
        let counts: Vec<usize> = last
            .strip_prefix("rwsgi: stopped; ")
            .and_then(|rest| rest.strip_suffix(" answered"))
            .map(|rest| {
                rest.split(" requests received, ")
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let [received, answered] = counts[..] else {
            panic!("{name}: last line {last:?}")
        };
        let complete = tally.complete.load(Ordering::Relaxed);
        let partial = tally.partial.load(Ordering::Relaxed);
        let unanswered = tally.unanswered.load(Ordering::Relaxed);
        assert_eq!(partial, 0, "{name}: responses cut short");
        assert_eq!(
            received, answered,
            "{name}: requests the server read and did not answer"
        );
        assert_eq!(
            complete, answered,
            "{name}: the server answered {answered}, the clients received {complete}"
        );
        eprintln!(
            "SIGTERM under load {name}: {answered} answered by the server, {complete} received in full, 0 cut; \
             {unanswered} sent after shutdown began were refused before the server read them"
        );
    }
}

/// The worker processes of a gunicorn master, from /proc.
fn workers(master: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// gunicorn's model under `kill -9`: a worker dies with the requests it
/// was serving — at most one per client connected to it — while the
/// master keeps the socket, the other worker keeps serving and a
/// replacement boots; nothing else is lost.
#[test]
fn a_worker_killed_with_sigkill_under_load_loses_only_its_requests_in_flight() {
    const CLIENTS: usize = 16;
    let port = common::nginx::free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rwsgi"));
    command.args(["gunicorn", "-w", "2", "-k", "gthread", "--threads", "16", "-b"]);
    command.args([
        addr.to_string().as_str(),
        "--graceful-timeout",
        "10",
        "demo:block",
    ]);
    let ready = || TcpStream::connect(addr).is_ok();
    let mut server = ChildServer::start_ready(command, addr, "gunicorn -w 2", ready);
    let master = server.child.id();
    wait_until(DEADLINE, "2 workers", || workers(master).len() == 2);
    let tally = Tally::default();
    let stopping = AtomicBool::new(false);
    let (victim, lost, after) = std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| client(addr, &tally, &stopping));
        }
        wait_until(DEADLINE, "the load to get going", || {
            tally.complete.load(Ordering::Relaxed) >= 300
        });
        let victim = workers(master)[0];
        let killed = std::process::Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let at_kill = tally.complete.load(Ordering::Relaxed);
        wait_until(DEADLINE, "a replacement worker", || {
            let now = workers(master);
            now.len() == 2 && !now.contains(&victim)
        });
        wait_until(DEADLINE, "the load to go on", || {
            tally.complete.load(Ordering::Relaxed) >= at_kill + 500
        });
        // Counted before the master stops: requests refused by the
        // shutdown are not the kill's.
        let lost = tally.unanswered.load(Ordering::Relaxed) + tally.partial.load(Ordering::Relaxed);
        let after = tally.complete.load(Ordering::Relaxed) - at_kill;
        stopping.store(true, Ordering::Relaxed);
        let status = server.signal_and_wait(15);
        assert!(status.success(), "the master's exit status: {status}");
        (victim, lost, after)
    });
    assert!(
        lost <= CLIENTS,
        "{lost} requests lost; only those in flight on the killed worker may be"
    );
    let log = server.all_stderr();
    assert!(
        log.contains(&format!("Worker (pid:{victim}) was sent SIGKILL!")),
        "{log}"
    );
    eprintln!(
        "kill -9 of a gunicorn worker under load: {lost} requests lost (at most {CLIENTS} may be: one per client), \
         {after} answered after it, {} in all; {} unanswered, {} cut",
        tally.complete.load(Ordering::Relaxed),
        tally.unanswered.load(Ordering::Relaxed),
        tally.partial.load(Ordering::Relaxed)
    );
}
