//! A child `rwsgi` whose every output line is kept as it arrives, for tests
//! that wait on its log (the personalities print their own lines).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::DEADLINE;

/// The output lines of a child, as they arrive.
#[derive(Clone, Default)]
pub struct Lines(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Lines {
    /// Reads `stream` line by line on a thread of its own.
    pub fn collect(&self, stream: impl Read + Send + 'static) {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let (list, changed) = &*lines.0;
                list.lock().unwrap().push(line);
                changed.notify_all();
            }
        });
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.0.0.lock().unwrap().clone()
    }

    /// How many lines so far match.
    pub fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.all().iter().filter(|l| pred(l)).count()
    }

    /// Waits until `n` lines match; fails the test after [`DEADLINE`].
    pub fn wait_n(&self, n: usize, what: &str, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let (list, changed) = &*self.0;
        let start = Instant::now();
        let mut guard = list.lock().unwrap();
        loop {
            let found: Vec<String> = guard.iter().filter(|l| pred(l)).cloned().collect();
            if found.len() >= n {
                return found;
            }
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "timed out waiting for {what}; output so far:\n{}",
                    guard.join("\n")
                )
            });
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Waits for a line that matches.
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_n(1, what, pred).remove(0)
    }
}

/// `rwsgi ARGS` with its stdout and stderr collected, once it says it
/// serves: the child, its lines, and the addresses it announced
/// (`SCHEME://ADDR`).
pub fn spawn(args: &[&str]) -> (Child, Lines, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rwsgi"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rwsgi starts");
    let lines = Lines::default();
    lines.collect(child.stdout.take().unwrap());
    lines.collect(child.stderr.take().unwrap());
    lines.wait(&format!("rwsgi {args:?} to serve"), |l| {
        l.starts_with("rwsgi: serving ")
    });
    let addrs = lines
        .all()
        .iter()
        .filter_map(|l| l.strip_prefix("rwsgi: listening on ").map(str::to_owned))
        .collect();
    (child, lines, addrs)
}

/// Sends `signal` (a name: TERM, HUP, …) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits for `child` to exit; fails the test after [`DEADLINE`], showing
/// its output.
pub fn wait_exit(child: &mut Child, lines: &Lines) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "rwsgi did not exit; output:\n{}",
            lines.all().join("\n")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
