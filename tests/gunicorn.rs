//! The gunicorn personality, driven as an operator drives gunicorn: the
//! real `rwsgi gunicorn` binary as a child process (its own process group,
//! killed whole when a test ends), real signals, real sockets on
//! 127.0.0.1, and the master's log lines read as they are written.
//!
//! Every wait has a deadline and waits on a condition (a log line, a
//! process appearing or leaving `/proc`, a response); every load loop is
//! bounded in requests and in time.

#![cfg(feature = "gunicorn")]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rwsgi");
/// The longest any single wait may take.
const DEADLINE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------- helpers

/// Lines a child writes, collected by a thread as they come.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Lines {
    fn collect(reader: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                sink.lines.lock().unwrap().push(line);
                sink.changed.notify_all();
            }
        });
        lines
    }

    fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn matching(&self, what: &str) -> Vec<String> {
        self.all().into_iter().filter(|l| l.contains(what)).collect()
    }

    /// Waits until `n` lines contain `what`; returns them.
    fn wait_count(&self, what: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut lines = self.lines.lock().unwrap();
        loop {
            let found: Vec<String> = lines.iter().filter(|l| l.contains(what)).cloned().collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {n} line(s) with {what:?} within {DEADLINE:?}; got:\n{}",
                lines.join("\n")
            );
            lines = self.changed.wait_timeout(lines, left).unwrap().0;
        }
    }

    fn wait_for(&self, what: &str) -> String {
        self.wait_count(what, 1).remove(0)
    }
}

/// Polls `cond` until it holds or the deadline passes.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, name: &str) {
    rwsgi_gunicorn::kill(i32::try_from(pid).unwrap(), name)
        .unwrap_or_else(|e| panic!("kill -{name} {pid}: {e}"));
}

/// The pid in a line like `... (pid: 123)`, `... pid: 123`, `(pid:123)`.
fn pid_in(line: &str) -> u32 {
    let at = line.rfind("pid").expect("a pid");
    line[at + 3..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {line:?}"))
}

/// The live (not zombie) children of `parent`, from /proc.
fn children(parent: u32) -> HashSet<u32> {
    let mut found = HashSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = after.split(' ');
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && state != "Z" && state != "X" {
            found.insert(pid);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with(['Z', 'X'])))
        .is_some_and(|zombie| !zombie)
}

/// One request on a new connection (gunicorn's sync workers close after
/// each response): the status and the body.
fn http(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<(u16, String), String> {
    // A client out of ephemeral ports (other tests hold many connections)
    // is not the server's fault: wait for one. Anything else counts.
    let mut tries = 0;
    let mut stream = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("connect: {e}")),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete response: {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// A `pid N` body's pid.
fn body_pid(body: &str) -> u32 {
    body.trim()
        .strip_prefix("pid ")
        .and_then(|p| p.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a pid body: {body:?}"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rwsgi-gunicorn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rwsgi gunicorn ARGS` as a child process in its own process group.
struct Gunicorn {
    child: Child,
    master: u32,
    addr: SocketAddr,
    err: Arc<Lines>,
    out: Arc<Lines>,
}

impl Gunicorn {
    /// Starts it (on 127.0.0.1:0 unless `args` bind) and waits until it
    /// listens.
    fn start(args: &[&str]) -> Gunicorn {
        Gunicorn::start_env(args, &[])
    }

    fn start_env(args: &[&str], env: &[(&str, &str)]) -> Gunicorn {
        let mut command = gunicorn_command(args, env, true);
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("rwsgi starts");
        // Until `Gunicorn` owns it: a failed start must not leave it running.
        let group = KillGroup(child.id());
        let err = Lines::collect(child.stderr.take().unwrap());
        let out = Lines::collect(child.stdout.take().unwrap());
        // The error log is standard error, or the file `--error-logfile` names.
        let logfile = args
            .iter()
            .position(|a| *a == "--error-logfile")
            .map(|i| PathBuf::from(args[i + 1]));
        let line = match &logfile {
            None => err.wait_for("Listening at: "),
            Some(path) => {
                let mut line = String::new();
                wait_until("Listening at", || {
                    line = std::fs::read_to_string(path)
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.contains("Listening at: "))
                        .unwrap_or_default()
                        .to_owned();
                    !line.is_empty()
                });
                line
            }
        };
        // `Listening at: http://127.0.0.1:PORT[,unix:PATH…] (PID)`
        let (urls, pid) = line
            .split("Listening at: ")
            .nth(1)
            .unwrap()
            .rsplit_once(" (")
            .unwrap();
        let master = pid.trim_end_matches(')').parse().unwrap();
        let addr = urls
            .split(',')
            .find_map(|u| u.strip_prefix("http://"))
            .map_or_else(|| "127.0.0.1:1".parse().unwrap(), |a| a.parse().unwrap());
        std::mem::forget(group);
        Gunicorn {
            child,
            master,
            addr,
            err,
            out,
        }
    }

    /// The pids of the first `n` workers that booted.
    fn booted(&self, n: usize) -> Vec<u32> {
        self.err
            .wait_count("Booting worker with pid: ", n)
            .iter()
            .map(|l| pid_in(l))
            .collect()
    }

    fn workers(&self) -> HashSet<u32> {
        children(self.master)
    }

    fn signal(&self, name: &str) {
        signal(self.master, name);
    }

    fn get(&self, path: &str) -> Result<(u16, String), String> {
        http(self.addr, path, &[])
    }

    /// Waits for the master to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the master did not exit; log:\n{}",
                self.err.all().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Kills a process and its children when dropped (a daemon is in a
/// process group of its own, led by the process it forked from).
struct KillTree(u32);

impl Drop for KillTree {
    fn drop(&mut self) {
        for pid in children(self.0).into_iter().chain([self.0]) {
            let _ = rwsgi_gunicorn::kill(i32::try_from(pid).unwrap(), "KILL");
        }
    }
}

/// Kills a process group when dropped.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = rwsgi_gunicorn::kill(-i32::try_from(self.0).unwrap(), "KILL");
    }
}

impl Drop for Gunicorn {
    fn drop(&mut self) {
        // The master, its workers and any master it re-executed share the
        // process group.
        let _ = rwsgi_gunicorn::kill(-i32::try_from(self.child.id()).unwrap(), "KILL");
        let _ = self.child.wait();
    }
}

fn gunicorn_command(args: &[&str], env: &[(&str, &str)], bind: bool) -> Command {
    let mut command = Command::new(BIN);
    command.arg("gunicorn");
    if bind && !args.iter().any(|a| *a == "-b" || a.starts_with("--bind")) {
        command.args(["-b", "127.0.0.1:0"]);
    }
    command.args(args);
    command
        .env_remove("GUNICORN_CMD_ARGS")
        .env_remove("WEB_CONCURRENCY")
        .env_remove("PORT");
    command.envs(env.iter().copied());
    command
}

/// Runs `rwsgi gunicorn ARGS` to completion (for commands that exit),
/// exactly as given (no `-b` added).
fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = gunicorn_command(args, env, false);
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = command.spawn().unwrap();
    let pgid = i32::try_from(child.id()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(DEADLINE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = rwsgi_gunicorn::kill(-pgid, "KILL");
            panic!("rwsgi gunicorn {args:?} did not exit");
        }
    };
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// When a request was sent, and the pid that answered (or what went
/// wrong): a request sent after a worker is gone cannot be its.
type Outcome = (Instant, Result<u32, String>);

/// Clients that each send requests one after another, a new connection
/// each time, until stopped (or 20 000 requests, or 60 s).
struct Load {
    stop: Arc<AtomicBool>,
    results: Arc<Mutex<Vec<Outcome>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let results = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let threads = (0..clients)
            .map(|_| {
                let (stop, results) = (Arc::clone(&stop), Arc::clone(&results));
                std::thread::spawn(move || {
                    for _ in 0..20_000 / clients {
                        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(60) {
                            break;
                        }
                        let sent = Instant::now();
                        let result = match http(addr, "/", &[]) {
                            Ok((200, body)) => Ok(body_pid(&body)),
                            Ok((status, body)) => Err(format!("{status} {body}")),
                            Err(err) => Err(err),
                        };
                        results.lock().unwrap().push((sent, result));
                    }
                })
            })
            .collect();
        Load {
            stop,
            results,
            threads,
        }
    }

    fn ok_count(&self) -> usize {
        self.results
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| r.is_ok())
            .count()
    }

    /// Waits for `n` more successful responses.
    fn wait_more(&self, n: usize) {
        let target = self.ok_count() + n;
        wait_until(&format!("{n} more responses"), || self.ok_count() >= target);
    }

    fn finish(mut self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
        std::mem::take(&mut *self.results.lock().unwrap())
    }
}

fn failures(results: &[Outcome]) -> Vec<String> {
    results.iter().filter_map(|(_, r)| r.clone().err()).collect()
}

/// Checks a gunicorn error log line: `[2026-11-20 10:00:00 +0000] [PID]
/// [LEVEL] message`.
fn assert_error_log_line(line: &str, level: &str) {
    let b = line.as_bytes();
    assert_eq!(b[0], b'[', "{line}");
    let date = &line[1..26];
    assert!(
        date.len() == 25
            && date.as_bytes()[4] == b'-'
            && date.as_bytes()[7] == b'-'
            && date.as_bytes()[10] == b' '
            && date.as_bytes()[13] == b':'
            && date.as_bytes()[16] == b':'
            && date.as_bytes()[19] == b' '
            && matches!(date.as_bytes()[20], b'+' | b'-'),
        "{line}"
    );
    let rest = line[26..].strip_prefix("] [").unwrap_or_else(|| panic!("{line}"));
    let (pid, rest) = rest.split_once("] [").unwrap_or_else(|| panic!("{line}"));
    assert!(pid.chars().all(|c| c.is_ascii_digit()), "{line}");
    assert!(rest.starts_with(&format!("{level}] ")), "{line}");
}

// ------------------------------------------------------------------ tests

#[test]
fn workers_really_serve_and_log_as_gunicorn_does() {
    let mut g = Gunicorn::start(&["-w", "3", "demo:block"]);
    let booted: HashSet<u32> = g.booted(3).into_iter().collect();
    wait_until("3 workers", || g.workers().len() == 3);
    assert_eq!(
        g.workers(),
        booted,
        "the booted workers are the master's children"
    );
    // A sync worker serves one connection at a time: three requests that
    // each hold their worker for a second, sent together, need all three.
    // (Sequential requests could all land on one worker: whichever is
    // first back in accept() wins, and that is often the last one.)
    let mut seen = HashSet::new();
    for _round in 0..5 {
        let answers: Vec<_> = (0..3)
            .map(|_| {
                let addr = g.addr;
                std::thread::spawn(move || http(addr, "/?ms=1000", &[]))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        for (status, body) in answers {
            assert_eq!(status, 200);
            seen.insert(body_pid(&body));
        }
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen, booted, "every worker answers");
    let first = &g.err.all()[0];
    assert_error_log_line(first, "INFO");
    assert!(
        first.ends_with("Starting gunicorn (rwsgi 0.1.0, backend tokio)"),
        "{first}"
    );
    assert!(
        g.err
            .wait_for("Using worker: sync")
            .contains(&format!("[{}]", g.master))
    );
    g.signal("TERM");
    assert!(g.wait_exit().success());
    g.err.wait_for("Handling signal: term");
    assert_error_log_line(&g.err.wait_for("Shutting down: Master"), "INFO");
    assert_eq!(g.err.matching("Worker exiting (pid: ").len(), 3);
}

#[test]
fn a_worker_killed_with_sigkill_is_replaced() {
    let g = Gunicorn::start(&["-w", "2", "demo:pid"]);
    let booted = g.booted(2);
    wait_until("2 workers", || g.workers().len() == 2);
    let victim = booted[0];
    let started = Instant::now();
    signal(victim, "KILL");
    g.err.wait_for(&format!(
        "Worker (pid:{victim}) was sent SIGKILL! Perhaps out of memory?"
    ));
    let replacement = g.booted(3)[2];
    wait_until("the replacement serving", || {
        g.workers() == HashSet::from([booted[1], replacement])
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "replaced in {:?}",
        started.elapsed()
    );
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let (status, body) = g.get("/").expect("no request fails after the replacement");
        assert_eq!(status, 200);
        seen.insert(body_pid(&body));
    }
    assert!(!seen.contains(&victim));
    assert!(
        seen.is_subset(&HashSet::from([booted[1], replacement])),
        "{seen:?}"
    );
}

#[test]
fn hup_under_load_replaces_every_worker_and_fails_no_request() {
    // Every backend and engine: each closes connections its own way.
    for (backend, engine) in rwsgi::cli::combinations() {
        hup_under_load(backend, &engine.to_string());
    }
}

fn hup_under_load(backend: &str, engine: &str) {
    let g = Gunicorn::start(&[
        "-w",
        "2",
        "--graceful-timeout",
        "10",
        "--backend",
        backend,
        "--engine",
        engine,
        "demo:pid",
    ]);
    let old: HashSet<u32> = g.booted(2).into_iter().collect();
    wait_until("2 workers", || g.workers() == old);
    let load = Load::start(g.addr, 4);
    load.wait_more(50);
    g.signal("HUP");
    g.err.wait_for("Hang up: Master");
    let new: HashSet<u32> = g.booted(4).into_iter().filter(|p| !old.contains(p)).collect();
    assert_eq!(new.len(), 2);
    wait_until("the old workers gone", || old.iter().all(|p| !alive(*p)));
    let switched = Instant::now();
    load.wait_more(100);
    let results = load.finish();
    assert_eq!(
        failures(&results),
        Vec::<String>::new(),
        "{backend}/{engine}: no request failed"
    );
    let after: HashSet<u32> = results
        .iter()
        .filter(|(at, _)| *at > switched)
        .filter_map(|(_, r)| r.clone().ok())
        .collect();
    assert!(
        !after.is_empty() && after.is_subset(&new),
        "after: {after:?}, new: {new:?}"
    );
    assert_eq!(g.workers(), new);
    // New workers were up before the old ones left.
    let lines = g.err.all();
    let last_boot = lines.iter().rposition(|l| l.contains("Booting worker")).unwrap();
    let first_exit = lines.iter().position(|l| l.contains("Worker exiting")).unwrap();
    assert!(last_boot < first_exit, "{lines:#?}");
}

#[test]
fn ttin_and_ttou_change_the_number_of_workers() {
    let g = Gunicorn::start(&["-w", "1", "demo:pid"]);
    g.booted(1);
    wait_until("1 worker", || g.workers().len() == 1);
    g.signal("TTIN");
    g.err.wait_for("Handling signal: ttin");
    g.signal("TTIN");
    g.err.wait_count("Handling signal: ttin", 2);
    wait_until("3 workers", || g.workers().len() == 3);
    let three = g.workers();
    g.signal("TTOU");
    g.err.wait_for("Handling signal: ttou");
    wait_until("2 workers", || g.workers().len() == 2);
    assert!(g.workers().is_subset(&three));
    // Not below one, as gunicorn.
    g.signal("TTOU");
    g.err.wait_count("Handling signal: ttou", 2);
    wait_until("1 worker", || g.workers().len() == 1);
    g.signal("TTOU");
    g.err.wait_count("Handling signal: ttou", 3);
    g.signal("TTIN");
    g.err.wait_count("Handling signal: ttin", 3);
    wait_until("2 workers", || g.workers().len() == 2);
    assert_eq!(g.get("/").unwrap().0, 200);
}

#[test]
fn term_lets_a_slow_request_finish() {
    let mut g = Gunicorn::start(&["-w", "1", "--log-level", "debug", "demo:block"]);
    g.booted(1);
    let addr = g.addr;
    let started = Instant::now();
    let request = std::thread::spawn(move || http(addr, "/slow?ms=1500", &[]));
    // gunicorn's default pre_request hook logs the request at debug level.
    g.err.wait_for("[DEBUG] GET /slow");
    g.signal("TERM");
    let (status, body) = request.join().unwrap().expect("the in-flight request completes");
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(g.wait_exit().success());
    g.err.wait_for("Shutting down: Master");
    assert!(g.err.matching("SIGKILL").is_empty());
}

#[test]
fn int_stops_at_once() {
    let mut g = Gunicorn::start(&["-w", "1", "--log-level", "debug", "demo:block"]);
    g.booted(1);
    let addr = g.addr;
    let request = std::thread::spawn(move || http(addr, "/?ms=30000", &[]));
    g.err.wait_for("[DEBUG] GET /");
    let started = Instant::now();
    g.signal("INT");
    assert!(g.wait_exit().success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(request.join().unwrap().is_err(), "the request was cut");
}

#[test]
fn a_hung_worker_is_killed_after_the_timeout_and_says_what_it_was_doing() {
    let g = Gunicorn::start(&["-w", "1", "-t", "2", "demo:block"]);
    let worker = g.booted(1)[0];
    let addr = g.addr;
    let started = Instant::now();
    let hung = std::thread::spawn(move || http(addr, "/report?ms=600000", &[]));
    g.err.wait_for(&format!("WORKER TIMEOUT (pid:{worker})"));
    let said = g.err.wait_for("aborting while handling");
    assert!(
        said.contains("\"GET /report?ms=600000 HTTP/1.1\" from 127.0.0.1"),
        "{said}"
    );
    assert!(said.contains(&format!("[{worker}] [ERROR]")), "{said}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(hung.join().unwrap().is_err(), "the stuck request is cut");
    let replacement = g.booted(2)[1];
    wait_until("the stuck worker gone", || !alive(worker));
    let (status, body) = g.get("/").unwrap();
    assert_eq!((status, body_pid(&body)), (200, replacement));
    let critical = g.err.wait_for("[CRITICAL] WORKER TIMEOUT");
    assert!(critical.contains(&format!("[{}]", g.master)));
}

#[test]
fn max_requests_recycles_workers_without_dropping_requests() {
    let g = Gunicorn::start(&[
        "-w",
        "2",
        "--max-requests",
        "4",
        "--max-requests-jitter",
        "2",
        "demo:leak",
    ]);
    g.booted(2);
    let mut pids = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut served = 0;
    while (pids.len() < 5 || served < 30) && Instant::now() < deadline && served < 400 {
        let (status, body) = g.get("/?kb=16").unwrap_or_else(|err| {
            panic!(
                "a request was dropped while a worker retired: {err}\n{}",
                g.err.all().join("\n")
            )
        });
        assert_eq!(status, 200, "{body}");
        pids.insert(body_pid(&body));
        served += 1;
    }
    assert!(
        pids.len() >= 5,
        "workers recycled: {pids:?} after {served} requests\n{}",
        g.err.all().join("\n")
    );
    assert!(
        !g.err
            .matching("Autorestarting worker after current request.")
            .is_empty()
    );
    // Never below two serving workers: each leaves after its replacement.
    assert!(g.err.matching("Worker (pid:").is_empty(), "{:#?}", g.err.all());
}

#[test]
fn access_log_lines_have_gunicorns_default_format() {
    let g = Gunicorn::start(&["--access-logfile", "-", "demo:hello"]);
    g.booted(1);
    let (status, _) = http(
        g.addr,
        "/path/x?y=1&z=%20",
        &[
            ("User-Agent", "agent/1.0 \"quoted\""),
            ("Referer", "http://ref.example/"),
        ],
    )
    .unwrap();
    assert_eq!(status, 200);
    let line = g.out.wait_for("GET /path");
    // 127.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET … HTTP/1.1" 200 14 "referer" "agent"
    let (before, after) = line.split_once(" [").unwrap();
    assert_eq!(before, "127.0.0.1 - -");
    let (time, rest) = after.split_once("] ").unwrap();
    let t = time.as_bytes();
    assert_eq!(time.len(), 26, "{time}");
    assert!(t[0..2].iter().all(u8::is_ascii_digit), "{time}");
    assert_eq!(
        (t[2], t[6], t[11], t[14], t[17], t[20]),
        (b'/', b'/', b':', b':', b':', b' ')
    );
    assert!(
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
        ]
        .contains(&&time[3..6])
    );
    assert!(
        matches!(t[21], b'+' | b'-') && t[22..].iter().all(u8::is_ascii_digit),
        "{time}"
    );
    assert_eq!(
        rest,
        r#""GET /path/x?y=1&z=%20 HTTP/1.1" 200 14 "http://ref.example/" "agent/1.0 \"quoted\"""#
    );
    // Without Referer and User-Agent: dashes.
    http(g.addr, "/bare", &[]).unwrap();
    let bare = g.out.wait_for("GET /bare");
    assert!(bare.ends_with(r#""GET /bare HTTP/1.1" 200 14 "-" "-""#), "{bare}");
}

#[test]
fn access_log_format_atoms_and_files() {
    let dir = temp_dir("atoms");
    let access = dir.join("access.log");
    let format = "%(h)s|%(l)s|%(u)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%({x-test}i)s|\
                  %({content-type}o)s|%({wsgi.url_scheme}e)s|%(p)s|%(T)s|%(M)s|%(D)s|%(L)s|%%";
    let g = Gunicorn::start(&[
        "--access-logfile",
        access.to_str().unwrap(),
        "--access-logformat",
        format,
        "-k",
        "gthread",
        "--threads",
        "2",
        "demo:block",
    ]);
    let worker = g.booted(1)[0];
    http(
        g.addr,
        "/a%20b?ms=20",
        &[("X-Test", "yes"), ("Authorization", "Basic dXNlcjpwdw==")],
    )
    .unwrap();
    wait_until("the access log line", || {
        std::fs::read_to_string(&access).is_ok_and(|t| t.ends_with('\n'))
    });
    let text = std::fs::read_to_string(&access).unwrap();
    let fields: Vec<&str> = text.trim_end().split('|').collect();
    let body_len = format!("pid {worker}\n").len().to_string();
    assert_eq!(
        fields[..13],
        [
            "127.0.0.1",
            "-",
            "user",
            "GET",
            "/a b",
            "ms=20",
            "HTTP/1.1",
            "200",
            &body_len,
            &body_len,
            "yes",
            "text/plain",
            "http"
        ],
        "{text}"
    );
    assert_eq!(fields[13], format!("<{worker}>"));
    let (t, m, d) = (
        fields[14].parse::<u64>().unwrap(),
        fields[15].parse::<u64>().unwrap(),
        fields[16].parse::<u64>().unwrap(),
    );
    assert!(
        t == 0 && (20..5000).contains(&m) && d >= 20_000 && d / 1000 == m,
        "{text}"
    );
    let (secs, micros) = fields[17].split_once('.').unwrap();
    assert_eq!((secs, micros.len()), ("0", 6));
    assert_eq!(fields[18], "%");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usr1_reopens_the_log_files() {
    let dir = temp_dir("usr1");
    let (error, access) = (dir.join("error.log"), dir.join("access.log"));
    let g = Gunicorn::start(&[
        "--error-logfile",
        error.to_str().unwrap(),
        "--access-logfile",
        access.to_str().unwrap(),
        "-b",
        "127.0.0.1:0",
        "demo:hello",
    ]);
    wait_until("a worker booted", || {
        std::fs::read_to_string(&error).is_ok_and(|t| t.contains("Booting worker with pid: "))
    });
    let (rotated_error, rotated_access) = (dir.join("error.log.1"), dir.join("access.log.1"));
    std::fs::rename(&error, &rotated_error).unwrap();
    std::fs::rename(&access, &rotated_access).unwrap();
    g.signal("USR1");
    // "Handling signal: usr1" is written before the reopen, as in gunicorn.
    wait_until("the error log reopened", || error.exists() && access.exists());
    // Each worker reopens its own: a request after that lands in the new file.
    wait_until("a request logged in the new access log", || {
        http(g.addr, "/after", &[]).is_ok()
            && std::fs::read_to_string(&access).is_ok_and(|t| t.contains("GET /after"))
    });
    g.signal("TTIN");
    wait_until("the master logging to the new error log", || {
        std::fs::read_to_string(&error).is_ok_and(|t| t.contains("Handling signal: ttin"))
    });
    assert!(
        std::fs::read_to_string(&rotated_error)
            .unwrap()
            .contains("Handling signal: usr1")
    );
    assert!(
        std::fs::read_to_string(&rotated_error)
            .unwrap()
            .contains("Listening at: ")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usr2_starts_a_new_master_on_the_same_sockets() {
    let dir = temp_dir("usr2");
    let pidfile = dir.join("g.pid");
    let mut g = Gunicorn::start(&["-w", "2", "-p", pidfile.to_str().unwrap(), "demo:pid"]);
    let old_workers: HashSet<u32> = g.booted(2).into_iter().collect();
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", g.master)
    );
    let load = Load::start(g.addr, 3);
    load.wait_more(30);
    g.signal("USR2");
    let pidfile2 = dir.join("g.pid.2");
    wait_until("g.pid.2", || {
        std::fs::read_to_string(&pidfile2).is_ok_and(|t| t.ends_with('\n'))
    });
    let new_master: u32 = std::fs::read_to_string(&pidfile2)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_master, g.master);
    g.err
        .wait_for(&format!("Listening at: http://{} ({new_master})", g.addr));
    wait_until("2 new workers", || children(new_master).len() == 2);
    let new_workers = children(new_master);
    // Both generations serve until the old master is told.
    g.signal("WINCH");
    g.err.wait_for("graceful stop of workers");
    wait_until("the old workers gone", || old_workers.iter().all(|p| !alive(*p)));
    let switched = Instant::now();
    load.wait_more(30);
    g.signal("TERM");
    assert!(g.wait_exit().success());
    g.err.wait_for("Master has been promoted.");
    wait_until("the pid file renamed", || {
        !pidfile2.exists() && std::fs::read_to_string(&pidfile).is_ok_and(|t| t == format!("{new_master}\n"))
    });
    load.wait_more(30);
    let results = load.finish();
    assert_eq!(failures(&results), Vec::<String>::new(), "no request failed");
    let after: HashSet<u32> = results
        .iter()
        .filter(|(at, _)| *at > switched)
        .filter_map(|(_, r)| r.clone().ok())
        .collect();
    assert!(after.is_subset(&new_workers), "{after:?} {new_workers:?}");
    signal(new_master, "TERM");
    wait_until("the new master gone", || !alive(new_master));
    assert!(!pidfile.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn daemon_detaches_and_writes_its_pid() {
    let dir = temp_dir("daemon");
    let (pidfile, log) = (dir.join("d.pid"), dir.join("error.log"));
    let (code, _, err) = run_to_end(
        &[
            "-b",
            "127.0.0.1:0",
            "-D",
            "-p",
            pidfile.to_str().unwrap(),
            "--error-logfile",
            log.to_str().unwrap(),
            "demo:pid",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    wait_until("the pid file", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|t| t.ends_with('\n'))
    });
    let master: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let _reap = KillTree(master);
    let mut line = String::new();
    wait_until("Listening at", || {
        line = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("Listening at: http://"))
            .unwrap_or_default()
            .to_owned();
        !line.is_empty()
    });
    assert!(line.ends_with(&format!("({master})")), "{line}");
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_until("a worker", || !children(master).is_empty());
    let (status, body) = http(addr, "/", &[]).unwrap();
    assert_eq!(status, 200);
    assert!(children(master).contains(&body_pid(&body)));
    signal(master, "TERM");
    wait_until("the daemon gone", || !alive(master) && !pidfile.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_command_lines_and_unknown_apps_fail_clearly() {
    let (code, _, err) = run_to_end(&["--wrokers", "2", "demo:hello"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error: unexpected argument '--wrokers'"), "{err}");
    let (code, _, err) = run_to_end(&["-w", "two", "demo:hello"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_to_end(&[], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("No application module specified."), "{err}");
    // gunicorn's own statuses: an attribute missing from a known module is
    // "App failed to load" (4), an unknown module "Worker failed to boot"
    // (3); the message lists what is registered.
    let (code, _, err) = run_to_end(&["demo:nope"], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("Failed to find attribute 'nope' in 'demo'."),
        "{err}"
    );
    assert!(err.contains("demo:hello"), "{err}");
    let (code, _, err) = run_to_end(&["myproject:app"], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("No module named 'myproject'"), "{err}");
    let (code, _, err) = run_to_end(&["-k", "sycn", "demo:hello"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("class uri \"sycn\" invalid or not found"), "{err}");
    let (code, _, err) = run_to_end(&["--backend", "nope", "demo:hello"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn an_app_that_fails_to_load_halts_the_master_instead_of_a_fork_loop() {
    let (code, _, err) = run_to_end(&["-b", "127.0.0.1:0", "-w", "2", "demo:failing()"], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("[ERROR] Reason: App failed to load."), "{err}");
    assert!(err.contains("demo:failing() always fails to load"), "{err}");
    let boots = err.matches("Booting worker with pid").count();
    assert!((1..=2).contains(&boots), "no fork loop: {boots} boots\n{err}");
    // With --preload the master loads it, and forks nothing.
    let (code, _, err) = run_to_end(&["-b", "127.0.0.1:0", "--preload", "demo:failing()"], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("Booting worker"), "{err}");
}

#[test]
fn check_config_print_config_and_every_source_of_settings() {
    let dir = temp_dir("config");
    let file = dir.join("gunicorn.toml");
    std::fs::write(
        &file,
        "workers = 3\ntimeout = 40\nkeepalive = 9\nbind = ['127.0.0.1:7001', 'unix:/tmp/g.sock']\n\
         access_log_format = '%(h)s %(r)s'\n",
    )
    .unwrap();
    let (code, out, err) = run_to_end(
        &[
            "-c",
            file.to_str().unwrap(),
            "--timeout",
            "50",
            "--print-config",
            "demo:hello",
        ],
        &[
            (
                "GUNICORN_CMD_ARGS",
                "--keep-alive 11 --timeout 45 --max-requests=7",
            ),
            ("WEB_CONCURRENCY", "5"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let get = |name: &str| {
        out.lines()
            .find(|l| l.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{out}"))
            .split(" = ")
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(get("workers"), "3", "the file beats WEB_CONCURRENCY");
    assert_eq!(get("timeout"), "50", "the command line beats the rest");
    assert_eq!(get("keepalive"), "11", "GUNICORN_CMD_ARGS beats the file");
    assert_eq!(get("max_requests"), "7");
    assert_eq!(get("bind"), "['127.0.0.1:7001', 'unix:/tmp/g.sock']");
    assert_eq!(get("access_log_format"), "%(h)s %(r)s");
    assert_eq!(get("limit_request_line"), "4094");
    assert_eq!(get("graceful_timeout"), "30");
    // PORT and WEB_CONCURRENCY set gunicorn's defaults.
    let (code, out, _) = run_to_end(
        &["--print-config", "demo:hello"],
        &[("PORT", "5555"), ("WEB_CONCURRENCY", "6")],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("\nbind                     = ['0.0.0.0:5555']\n"),
        "{out}"
    );
    assert!(out.contains("\nworkers                  = 6\n"), "{out}");
    // --check-config loads the application.
    assert_eq!(run_to_end(&["--check-config", "demo:hello"], &[]).0, 0);
    let (code, _, err) = run_to_end(&["--check-config", "demo:failing()"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Error while loading the application"), "{err}");
    // A bad config file: gunicorn's exit status 1.
    std::fs::write(&file, "wrokers = 3\n").unwrap();
    let (code, _, err) = run_to_end(&["-c", file.to_str().unwrap(), "demo:hello"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown setting \"wrokers\""), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn worker_classes_sync_gthread_and_gevent() {
    fn concurrent(addr: SocketAddr, n: usize, ms: u64) -> Duration {
        let started = Instant::now();
        let threads: Vec<_> = (0..n)
            .map(|_| std::thread::spawn(move || http(addr, &format!("/?ms={ms}"), &[])))
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap().0, 200);
        }
        started.elapsed()
    }
    // sync: one request at a time per worker.
    let g = Gunicorn::start(&["-w", "1", "demo:block"]);
    g.booted(1);
    assert!(concurrent(g.addr, 3, 300) >= Duration::from_millis(900));
    g.err.wait_for("Using worker: sync");
    drop(g);
    // gthread: --threads at once.
    let g = Gunicorn::start(&["-w", "1", "-k", "gthread", "--threads", "4", "demo:block"]);
    g.booted(1);
    let took = concurrent(g.addr, 4, 600);
    assert!(
        took < Duration::from_millis(2000),
        "4 requests of 600 ms took {took:?}"
    );
    g.err.wait_for("Using worker: gthread");
    drop(g);
    // sync with --threads is gthread, as in gunicorn.
    let g = Gunicorn::start(&["-w", "1", "--threads", "2", "demo:pid"]);
    g.err.wait_for("Using worker: gthread");
    drop(g);
    // gevent: inline on the worker's event loop; keep-alive works.
    let g = Gunicorn::start(&["-w", "1", "-k", "gevent", "demo:environ"]);
    g.booted(1);
    let mut conn = TcpStream::connect(g.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..2 {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length: ")
                    .or_else(|| l.strip_prefix("Content-Length: "))
            })
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("\"wsgi.multithread\": \"False\""), "{body}");
        assert!(body.contains("\"wsgi.multiprocess\": \"False\""), "{body}");
    }
}

#[test]
fn forwarded_allow_ips_decides_who_may_say_https() {
    let g = Gunicorn::start(&["demo:environ"]);
    g.booted(1);
    let (_, body) = http(g.addr, "/", &[("X-Forwarded-Proto", "https")]).unwrap();
    assert!(body.contains("\"wsgi.url_scheme\": \"https\""), "{body}");
    let (status, _) = http(
        g.addr,
        "/",
        &[("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")],
    )
    .unwrap();
    assert_eq!(status, 400, "contradictory scheme headers");
    drop(g);
    let g = Gunicorn::start(&["--forwarded-allow-ips", "10.0.0.1", "demo:environ"]);
    g.booted(1);
    let (_, body) = http(g.addr, "/", &[("X-Forwarded-Proto", "https")]).unwrap();
    assert!(body.contains("\"wsgi.url_scheme\": \"http\""), "{body}");
}

#[test]
fn proxy_protocol_v1_and_v2_name_the_client() {
    fn raw(addr: SocketAddr, preamble: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(preamble).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        parse_response(&out).unwrap()
    }
    let g = Gunicorn::start(&["--proxy-protocol", "-w", "1", "demo:environ"]);
    g.booted(1);
    let (status, body) = raw(g.addr, b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("\"REMOTE_ADDR\": \"203.0.113.7\""), "{body}");
    assert!(body.contains("\"REMOTE_PORT\": \"51234\""), "{body}");
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[0x21, 0x21, 0, 36]);
    v2.extend_from_slice(&"2001:db8::7".parse::<std::net::Ipv6Addr>().unwrap().octets());
    v2.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    v2.extend_from_slice(&[0x1f, 0x90, 0x01, 0xbb]);
    let (status, body) = raw(g.addr, &v2);
    assert_eq!(status, 200);
    assert!(body.contains("\"REMOTE_ADDR\": \"2001:db8::7\""), "{body}");
    assert!(body.contains("\"REMOTE_PORT\": \"8080\""), "{body}");
    // Plain HTTP still works, as gunicorn allows.
    let (status, body) = raw(g.addr, b"");
    assert_eq!(status, 200);
    assert!(body.contains("\"REMOTE_ADDR\": \"127.0.0.1\""), "{body}");
    assert_eq!(raw(g.addr, b"PROXY TCP4 nonsense\r\n").0, 400);
    drop(g);
    // Only --proxy-allow-from may send one.
    let g = Gunicorn::start(&[
        "--proxy-protocol=v1",
        "--proxy-allow-from",
        "10.0.0.1",
        "demo:environ",
    ]);
    g.booted(1);
    assert_eq!(
        raw(g.addr, b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n").0,
        403
    );
}

#[test]
fn unix_socket_binds_serve_and_are_removed() {
    let dir = temp_dir("unix");
    let sock = dir.join("g.sock");
    let bind = format!("unix:{}", sock.display());
    let mut g = Gunicorn::start(&["-b", &bind, "-m", "007", "demo:pid"]);
    let worker = g.booted(1)[0];
    assert!(g.err.wait_for("Listening at: ").contains(&bind));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o770, "--umask applies to the socket");
    let mut stream = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let (status, body) = parse_response(&out).unwrap();
    assert_eq!((status, body_pid(&body)), (200, worker));
    g.signal("TERM");
    assert!(g.wait_exit().success());
    assert!(!sock.exists(), "the socket file is removed on exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn user_and_group_switch_the_workers() {
    let (code, _, err) = run_to_end(&["-u", "no-such-user-rwsgi", "demo:hello"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No such user: 'no-such-user-rwsgi'"), "{err}");
    if !nix_is_root() {
        return;
    }
    let g = Gunicorn::start(&["-u", "65534", "-g", "65534", "demo:pid"]);
    let worker = g.booted(1)[0];
    let (status, body) = g.get("/").unwrap();
    assert_eq!((status, body_pid(&body)), (200, worker));
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (field("Uid:"), field("Gid:")),
        ("65534".to_owned(), "65534".to_owned())
    );
    let master = std::fs::read_to_string(format!("/proc/{}/status", g.master)).unwrap();
    assert!(
        master.lines().any(|l| l.starts_with("Uid:\t0")),
        "the master stays root"
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// gunicorn's SSL flags: every bind speaks TLS; HUP's new workers read the
/// certificate again (a broken one is refused and the old workers stay);
/// wrong files and settings rustls cannot honour are errors at start.
#[cfg(feature = "tls")]
#[test]
fn ssl_flags_serve_tls_and_hup_reloads_the_certificate() {
    use common::nginx::TempDir;
    use common::tls::{Ca, client};
    let dir = TempDir::new("gunicorn-tls");
    let old_ca = Ca::new(&dir, "old");
    let leaf = old_ca.server(&dir, "server");
    let (cert, key) = (leaf.cert_file.to_str().unwrap(), leaf.key_file.to_str().unwrap());
    let g = Gunicorn::start(&["--certfile", cert, "--keyfile", key, "-w", "2", "demo:environ"]);
    g.booted(2);
    let url = format!("https://127.0.0.1:{}/", g.addr.port());
    let body = client(&old_ca, None).get(&url).send().unwrap().text().unwrap();
    assert!(body.contains("\"wsgi.url_scheme\": \"https\""), "{body}");
    assert!(body.contains("\"HTTPS\": \"on\""), "{body}");

    // A broken key: the reload is refused, the old workers serve on.
    std::fs::write(&leaf.key_file, "not a key").unwrap();
    g.signal("HUP");
    let refused = g.err.wait_for("Reload failed");
    assert!(refused.contains(key), "{refused}");
    assert!(client(&old_ca, None).get(&url).send().is_ok());

    // New files: HUP's workers use them.
    let new_ca = Ca::new(&dir, "new");
    let fresh = new_ca.server(&dir, "fresh");
    std::fs::copy(&fresh.cert_file, &leaf.cert_file).unwrap();
    std::fs::copy(&fresh.key_file, &leaf.key_file).unwrap();
    g.signal("HUP");
    wait_until("HUP's workers to use the new certificate", || {
        client(&new_ca, None).get(&url).send().is_ok()
    });
    drop(g);

    let missing = dir.path("missing.pem");
    let (code, _, err) = run_to_end(
        &[
            "--certfile",
            missing.to_str().unwrap(),
            "--keyfile",
            key,
            "demo:hello",
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    let (code, _, err) = run_to_end(
        &[
            "--certfile",
            cert,
            "--keyfile",
            key,
            "--ciphers",
            "HIGH",
            "demo:hello",
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rustls"), "{err}");
    let (code, _, err) = run_to_end(&["--certfile", cert, "demo:hello"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--keyfile"), "{err}");
}
