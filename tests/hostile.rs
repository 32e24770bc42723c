//! Hostile clients, on every backend × engine compiled in: slowloris, a
//! client that stops reading, thousands of connections opened and
//! abandoned, and a server out of file descriptors. Each server is a child
//! process (`rwsgi`), watched through /proc; the tests of this target run
//! one at a time (they hold thousands of descriptors).
//!
//! The figures they print (`--nocapture`) are what RELIABILITY.md reports.

mod common;

use std::collections::HashSet;
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

/// A server to attack: a bare backend × engine, or the gunicorn
/// personality (two workers) on one.
struct Target {
    name: String,
    /// The `rwsgi` arguments before the timeouts and the application.
    args: Vec<String>,
    gunicorn: bool,
}

/// Every backend × engine, then gunicorn (`-w 2 -k gevent`) on the
/// default backend.
fn targets() -> Vec<Target> {
    let mut targets: Vec<Target> = rwsgi::cli::combinations()
        .into_iter()
        .map(|(backend, engine)| Target {
            name: format!("{backend}/{engine}"),
            args: [
                "--backend",
                backend,
                "--engine",
                &engine.to_string(),
                "--bind",
                "127.0.0.1:0",
            ]
            .map(String::from)
            .to_vec(),
            gunicorn: false,
        })
        .collect();
    targets.push(Target {
        name: "gunicorn -w 2".into(),
        // gunicorn's default of 1 000 connections a worker is below what
        // the tests hold at once.
        args: [
            "gunicorn",
            "-w",
            "2",
            "-k",
            "gevent",
            "--worker-connections",
            "10000",
        ]
        .map(String::from)
        .to_vec(),
        gunicorn: true,
    });
    targets
}

/// Starts `target` serving `app` with every timeout at `timeout_secs`,
/// under `ulimit -n fds` if given.
fn start(target: &Target, app: &str, timeout_secs: u64, fds: Option<u32>) -> ChildServer {
    let t = timeout_secs.to_string();
    let mut args = target.args.clone();
    // gunicorn names its keep-alive flag `--keep-alive` too; it binds a
    // port chosen here, and says it serves only in its log.
    let port = common::nginx::free_port();
    if target.gunicorn {
        args.extend(["-b".into(), format!("127.0.0.1:{port}")]);
    }
    args.extend(
        [
            "--header-read-timeout",
            &t,
            "--write-timeout",
            &t,
            "--keep-alive",
            &t,
            app,
        ]
        .map(String::from),
    );
    let mut command = Command::new("sh");
    let limit = fds.map_or_else(String::new, |n| format!("ulimit -n {n} && "));
    command
        .arg("-c")
        .arg(format!("{limit}exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_rwsgi"))
        .args(&args);
    let what = format!("{} serving {app}", target.name);
    if target.gunicorn {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        ChildServer::start_ready(command, addr, &what, || request_ok(addr))
    } else {
        ChildServer::start_command(command, &what)
    }
}

/// The process and its descendants (gunicorn's master and workers).
fn tree(pid: u32) -> Vec<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut all = vec![pid];
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        all.extend(tree(child));
    }
    all
}

/// The open descriptors of the process tree, from /proc.
fn open_fds(pid: u32) -> usize {
    tree(pid)
        .iter()
        .map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).map_or(0, Iterator::count))
        .sum()
}

/// How many of the connections from `clients` (loopback ports) to
/// `server` the process tree still holds: their inodes, from
/// /proc/net/tcp, among its descriptors. (Closed connections stay listed,
/// in TIME_WAIT, with inode 0.)
fn connections_held(pid: u32, server: SocketAddr, clients: &HashSet<u16>) -> usize {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{:04X}", server.port());
    let sockets: HashSet<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = fields[2].split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            (fields[1].ends_with(&local) && ip == "0100007F" && clients.contains(&port) && fields[9] != "0")
                .then(|| format!("socket:[{}]", fields[9]))
        })
        .collect();
    tree(pid)
        .iter()
        .flat_map(|p| {
            std::fs::read_dir(format!("/proc/{p}/fd"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| sockets.contains(&*link.to_string_lossy()))
        })
        .count()
}

/// Whether the process tree holds the connection from `client`.
fn holds_connection(pid: u32, server: SocketAddr, client: SocketAddr) -> bool {
    connections_held(pid, server, &HashSet::from([client.port()])) > 0
}

/// CPU time (user + system) the process tree has used, from /proc.
fn cpu_time(pid: u32) -> Duration {
    tree(pid)
        .iter()
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Fields after the command (which may hold spaces), counted from 3.
            let fields: Vec<&str> = stat
                .rfind(')')
                .map_or("", |i| &stat[i + 2..])
                .split(' ')
                .collect();
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
            Duration::from_millis((field(11) + field(12)) * 10) // USER_HZ is 100 on Linux
        })
        .sum()
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
    for target in targets() {
        let name = &target.name;
        let server = start(&target, "demo:hello", TIMEOUT_SECS, None);
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
    for target in targets() {
        let name = &target.name;
        let server = start(&target, "demo:stream", TIMEOUT_SECS, None);
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
    // Far longer than the test: what frees the connections must be the
    // server noticing the client gone, not a timeout. (The timeouts that
    // cut clients which stay are the slowloris and slow-reader tests'.)
    // Short timeouts would also race the count: a connection opened first
    // could be cut before the last one is accepted.
    const PATIENT_SECS: u64 = 600;
    let _serial = serial();
    let limit = rlimit_nofile();
    assert!(
        limit >= (AT_ONCE + 100) as u64,
        "this test holds {AT_ONCE} connections: raise the open-files limit (ulimit -n; it is {limit})"
    );
    for target in targets() {
        let name = &target.name;
        let server = start(&target, "demo:hello", PATIENT_SECS, None);
        let pid = server.child.id();
        let addr = server.addr();
        assert!(request_ok(addr), "{name}: serves before");
        let done = AtomicUsize::new(0);
        let mut after_first = None;
        let mut fewest_held = usize::MAX;
        for batch in 0..ABANDONED / AT_ONCE {
            // Three ways to abandon: connect and leave, stop mid-head,
            // and finish a request without reading its answer; and two
            // ways to leave: a FIN, or a reset (SO_LINGER 0), which is
            // how a client that crashed or lost its route looks.
            let held: Vec<TcpStream> = (0..AT_ONCE)
                .map(|i| {
                    let mut s = TcpStream::connect(addr).unwrap();
                    match i % 3 {
                        0 => {}
                        1 => s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap(),
                        _ => s.write_all(&get("/")).unwrap(),
                    }
                    if i % 2 == 0 {
                        socket2::SockRef::from(&s)
                            .set_linger(Some(Duration::ZERO))
                            .unwrap();
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    s
                })
                .collect();
            let clients: HashSet<u16> = held.iter().map(|s| s.local_addr().unwrap().port()).collect();
            // Nearly all: a burst past the listen backlog may lose a few
            // handshakes in the kernel, before the server could see them.
            let mut accepted = 0;
            wait_until(DEADLINE, "the server to accept them", || {
                accepted = connections_held(pid, addr, &clients);
                accepted >= AT_ONCE * 9 / 10
            });
            fewest_held = fewest_held.min(accepted);
            drop(held);
            wait_until(DEADLINE, "the server to close them", || {
                connections_held(pid, addr, &clients) == 0
            });
            // Nothing else grows with connections either: after the first
            // batch (every worker booted by then), the descriptors come back
            // to the same count.
            let settled = *after_first.get_or_insert_with(|| open_fds(pid));
            wait_until(DEADLINE, "the descriptors to come back", || {
                open_fds(pid) <= settled
            });
            assert!(request_ok(addr), "{name}: serves after batch {batch}");
        }
        eprintln!(
            "abandoned {name}: {} connections opened and abandoned, {AT_ONCE} at a time (at least {fewest_held} held at once); the server holds none of them after each batch, and {} descriptors",
            done.load(Ordering::Relaxed),
            after_first.unwrap_or_default()
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
    for target in targets() {
        let name = &target.name;
        let mut server = start(&target, "demo:hello", TIMEOUT_SECS, Some(FDS));
        let pid = server.child.id();
        let addr = server.addr();
        assert!(request_ok(addr), "{name}: serves before");

        // More connections than it has descriptors for, held for twice
        // the header timeout: its accepts fail and keep failing.
        let cpu_before = cpu_time(pid);
        let since = Instant::now();
        let held: Vec<TcpStream> = (0..4 * FDS).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let fds = |p: &u32| std::fs::read_dir(format!("/proc/{p}/fd")).map_or(0, Iterator::count);
        wait_until(DEADLINE, "the server to run out", || {
            tree(pid).iter().any(|p| fds(p) >= FDS as usize - 1)
        });
        let hold = 2 * TIMEOUT;
        std::thread::sleep(hold); // the condition must last; nothing to wait on
        let cpu = cpu_time(pid) - cpu_before;
        drop(held);
        wait_until(DEADLINE, "the server to serve again", || request_ok(addr));
        let elapsed = since.elapsed();
        // Once per interval, in each process that accepts (gunicorn's
        // workers, not its master).
        let processes = if target.gunicorn { tree(pid).len() - 1 } else { 1 };
        let log = server.stop_and_stderr();
        let reports = log.lines().filter(|l| l.contains("accept failed")).count();
        let allowed =
            processes * (1 + (elapsed.as_secs() / rwsgi::AcceptBackoff::REPORT_EVERY.as_secs()) as usize);
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
            4 * FDS,
            elapsed.as_secs_f64(),
            cpu.as_millis()
        );
    }
}
