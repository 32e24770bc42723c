//! Hostile clients, on every backend × engine compiled in: slowloris, a
//! client that stops reading, thousands of connections opened and
//! abandoned, and a server out of file descriptors. Each server is a child
//! process (`rwsgi`), watched through /proc; the tests of this target run
//! one at a time (they hold thousands of descriptors).
//!
//! The figures they print (`--nocapture`) are what RELIABILITY.md reports.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::raw::get;
use common::{ChildServer, DEADLINE, wait_until};

/// The tests of this target run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The timeouts the servers run with: short, so that the tests are.
const TIMEOUT_SECS: u64 = 2;
const TIMEOUT: Duration = Duration::from_secs(TIMEOUT_SECS);

/// Every backend × engine, as `rwsgi` flags.
fn combos() -> Vec<(String, Vec<String>)> {
    rwsgi::cli::combinations()
        .into_iter()
        .map(|(backend, engine)| {
            let flags = ["--backend", backend, "--engine", &engine.to_string()]
                .map(String::from)
                .to_vec();
            (format!("{backend}/{engine}"), flags)
        })
        .collect()
}

fn start(flags: &[String], app: &str) -> ChildServer {
    let t = TIMEOUT_SECS.to_string();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend([
        "--bind",
        "127.0.0.1:0",
        "--header-read-timeout",
        &t,
        "--write-timeout",
        &t,
        "--keep-alive",
        &t,
        app,
    ]);
    ChildServer::start(&args)
}

/// The process's open descriptors, from /proc.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Whether the process has a socket open to `client`: the inode of the
/// connection, from /proc/net/tcp, among its descriptors.
/// (Closed connections stay listed, in TIME_WAIT, with inode 0.)
fn holds_connection(pid: u32, server: SocketAddr, client: SocketAddr) -> bool {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let (local, remote) = (
        format!(":{:04X}", server.port()),
        format!("0100007F:{:04X}", client.port()),
    );
    let sockets: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[1].ends_with(&local) && fields[2] == remote && fields[9] != "0")
                .then(|| format!("socket:[{}]", fields[9]))
        })
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|link| sockets.iter().any(|s| link.as_os_str() == s.as_str()))
        })
}

/// CPU time (user + system) the process has used, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces), counted from 3.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// One request on a new connection (`Connection: close`); whether a 200
/// came back within the deadline.
fn request_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, DEADLINE) else {
        return false;
    };
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut response = Vec::new();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_ok()
        && stream.read_to_end(&mut response).is_ok()
        && response.starts_with(b"HTTP/1.1 200 ")
}

/// Requests on new connections, one after another, until `stop`: how many
/// succeeded and how many did not.
fn steady_requests(addr: SocketAddr, stop: &AtomicBool) -> (usize, usize) {
    let (mut ok, mut failed) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        if request_ok(addr) {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

/// Whether the server closed `stream` (reads end or fail), without
/// blocking; what it sent first (a 408) is read and dropped.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slowloris_is_cut_after_the_header_timeout_while_normal_requests_succeed() {
    const SLOW: usize = 1_000;
    let _serial = serial();
    for (name, flags) in combos() {
        let server = start(&flags, "demo:hello");
        let addr = server.addr();

        // The throughput normal clients get alone, for the figure.
        let stop = AtomicBool::new(false);
        let window = Duration::from_secs(1);
        let alone = std::thread::scope(|s| {
            let worker = s.spawn(|| steady_requests(addr, &stop));
            std::thread::sleep(window); // a measuring window, not a wait for anything
            stop.store(true, Ordering::Relaxed);
            worker.join().unwrap()
        });

        let mut slow: Vec<TcpStream> = (0..SLOW)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        let opened = Instant::now();
        let stop = AtomicBool::new(false);
        let (under_attack, cut_after) = std::thread::scope(|s| {
            let worker = s.spawn(|| steady_requests(addr, &stop));
            // One more header byte on each every half second, until the
            // server has cut them all.
            let mut open = SLOW;
            let mut last_drip = Instant::now();
            while open > 0 {
                assert!(
                    opened.elapsed() < TIMEOUT + DEADLINE,
                    "{name}: {open} slow connections still open"
                );
                if last_drip.elapsed() >= Duration::from_millis(500) {
                    for stream in &mut slow {
                        let _ = stream.write(b"a");
                    }
                    last_drip = Instant::now();
                }
                open = slow
                    .iter_mut()
                    .map(|s| !closed_by_server(s))
                    .filter(|&still| still)
                    .count();
                std::thread::sleep(Duration::from_millis(50));
            }
            let cut_after = opened.elapsed();
            stop.store(true, Ordering::Relaxed);
            (worker.join().unwrap(), cut_after)
        });
        assert_eq!(
            under_attack.1, 0,
            "{name}: normal requests failed during the attack"
        );
        assert!(
            under_attack.0 > 0,
            "{name}: no normal request completed during the attack"
        );
        assert!(
            cut_after >= TIMEOUT - Duration::from_millis(100),
            "{name}: cut before the timeout ({cut_after:?})"
        );
        let share =
            (under_attack.0 as f64 / cut_after.as_secs_f64()) / (alone.0 as f64 / window.as_secs_f64());
        eprintln!(
            "slowloris {name}: {SLOW} slow connections all cut after {:.2} s; normal requests: {} ok, 0 failed; \
             throughput kept {:.0}%",
            cut_after.as_secs_f64(),
            under_attack.0,
            share * 100.0
        );
    }
}

#[test]
fn a_client_that_stops_reading_is_cut_after_the_write_timeout() {
    let _serial = serial();
    for (name, flags) in combos() {
        let server = start(&flags, "demo:stream");
        let pid = server.child.id();
        // 4 096 chunks of 64 KiB: far more than the socket buffers hold.
        let total: usize = 4096 * 65536;
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&server.addr().into()).unwrap();
        let mut stream = TcpStream::from(socket);
        stream.write_all(&get("/?n=4096&size=65536")).unwrap();
        let started = Instant::now();
        let client = stream.local_addr().unwrap();
        wait_until(DEADLINE, "the server to take the connection", || {
            holds_connection(pid, server.addr(), client)
        });
        wait_until(
            TIMEOUT + DEADLINE,
            &format!("{name} to cut the slow reader"),
            || !holds_connection(pid, server.addr(), client),
        );
        let cut_after = started.elapsed();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut received = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
        assert!(
            cut_after >= TIMEOUT,
            "{name}: cut before the write timeout ({cut_after:?})"
        );
        assert!(
            received < total,
            "{name}: the whole response arrived; nothing was cut"
        );
        assert!(request_ok(server.addr()), "{name}: the server still serves");
        eprintln!(
            "slow reader {name}: cut after {:.2} s with {} KiB of {} KiB delivered",
            cut_after.as_secs_f64(),
            received / 1024,
            total / 1024
        );
    }
}

#[test]
fn ten_thousand_abandoned_connections_leave_nothing_behind() {
    const ABANDONED: usize = 10_000;
    const AT_ONCE: usize = 5_000;
    let _serial = serial();
    let limit = rlimit_nofile();
    assert!(
        limit >= (AT_ONCE + 100) as u64,
        "this test holds {AT_ONCE} connections: raise the open-files limit (ulimit -n; it is {limit})"
    );
    for (name, flags) in combos() {
        let server = start(&flags, "demo:hello");
        let pid = server.child.id();
        let addr = server.addr();
        assert!(request_ok(addr), "{name}: serves before");
        let baseline = open_fds(pid);
        let done = AtomicUsize::new(0);
        for batch in 0..ABANDONED / AT_ONCE {
            // Three ways to abandon: connect and leave, stop mid-head,
            // and finish a request without reading its answer.
            let held: Vec<TcpStream> = (0..AT_ONCE)
                .map(|i| {
                    let mut s = TcpStream::connect(addr).unwrap();
                    match i % 3 {
                        0 => {}
                        1 => s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap(),
                        _ => s.write_all(&get("/")).unwrap(),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    s
                })
                .collect();
            wait_until(DEADLINE, "the server to accept them", || {
                open_fds(pid) >= baseline + AT_ONCE * 9 / 10
            });
            drop(held);
            wait_until(TIMEOUT + DEADLINE, "the server to close them", || {
                open_fds(pid) <= baseline
            });
            assert!(request_ok(addr), "{name}: serves after batch {batch}");
        }
        eprintln!(
            "abandoned {name}: {} connections opened and abandoned, {AT_ONCE} at a time; descriptors back to {baseline}",
            done.load(Ordering::Relaxed)
        );
    }
}

fn rlimit_nofile() -> u64 {
    let out = Command::new("sh").args(["-c", "ulimit -n"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(u64::MAX)
}

#[test]
fn out_of_descriptors_the_server_waits_logs_once_and_recovers() {
    const FDS: u32 = 64;
    let _serial = serial();
    for (name, flags) in combos() {
        let t = TIMEOUT_SECS.to_string();
        let mut args: Vec<String> = flags.clone();
        args.extend(
            [
                "--bind",
                "127.0.0.1:0",
                "--io-threads",
                "1",
                "--header-read-timeout",
                &t,
                "demo:hello",
            ]
            .map(String::from),
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {FDS} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_rwsgi"))
            .args(&args);
        let mut server = ChildServer::start_command(command, &format!("rwsgi {name} with ulimit -n {FDS}"));
        let pid = server.child.id();
        let addr = server.addr();
        assert!(request_ok(addr), "{name}: serves before");

        // More connections than it has descriptors for, held for twice
        // the header timeout: its accepts fail and keep failing.
        let cpu_before = cpu_time(pid);
        let since = Instant::now();
        let held: Vec<TcpStream> = (0..2 * FDS).map(|_| TcpStream::connect(addr).unwrap()).collect();
        wait_until(DEADLINE, "the server to run out", || {
            open_fds(pid) >= FDS as usize - 1
        });
        let hold = 2 * TIMEOUT;
        std::thread::sleep(hold); // the condition must last; nothing to wait on
        let cpu = cpu_time(pid) - cpu_before;
        drop(held);
        wait_until(DEADLINE, "the server to serve again", || request_ok(addr));
        let elapsed = since.elapsed();
        let log = server.stop_and_stderr();
        let reports = log.lines().filter(|l| l.contains("accept failed")).count();
        let allowed = 1 + (elapsed.as_secs() / rwsgi::AcceptBackoff::REPORT_EVERY.as_secs()) as usize;
        assert!(
            reports >= 1,
            "{name}: running out of descriptors was not logged:\n{log}"
        );
        assert!(
            reports <= allowed,
            "{name}: {reports} reports in {elapsed:?}, more than one per interval:\n{log}"
        );
        assert!(
            cpu < hold / 2,
            "{name}: the accept loop spun ({cpu:?} of CPU in {hold:?})"
        );
        eprintln!(
            "fd exhaustion {name}: {} connections against ulimit -n {FDS}; {reports} log line(s) in {:.1} s; \
             {} ms of CPU while exhausted; serving again after",
            2 * FDS,
            elapsed.as_secs_f64(),
            cpu.as_millis()
        );
    }
}
