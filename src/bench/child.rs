//! Child processes the benchmarks start: servers, and the client process
//! that holds idle connections. Each runs in its own process group,
//! optionally pinned to one CPU (with `taskset`), with its output read by
//! threads of ours so that a chatty child never blocks on a full pipe and
//! its last lines can be shown when it fails.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of each stream kept for error messages.
const TAIL: usize = 30;

/// The process groups of the children alive now, for
/// [`stop_children_on_signals`].
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Ends every child still running when this process gets SIGINT, SIGTERM
/// or SIGHUP, then exits: the children run in process groups of their own
/// (so that a pre-fork server's workers go with it), which a Ctrl-C at the
/// terminal does not reach.
///
/// # Errors
///
/// When the handlers cannot be installed.
pub fn stop_children_on_signals() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("rwsgi-bench-signals".into())
        .spawn(move || {
            if let Some(number) = signals.forever().next() {
                let groups = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
                for group in groups {
                    signal("-KILL", &format!("-{group}"));
                }
                eprintln!();
                std::process::exit(128 + number);
            }
        })?;
    Ok(())
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Spawn {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The CPU to pin it (and its threads and children) to.
    pub pin: Option<usize>,
    /// Whether we write to its stdin.
    pub stdin: bool,
}

impl Spawn {
    /// `program args…`, unpinned, stdin closed.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Spawn {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            pin: None,
            stdin: false,
        }
    }

    /// The command line as a shell would show it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether this machine can pin processes: two CPUs or more, and `taskset`.
pub fn can_pin() -> bool {
    std::thread::available_parallelism().map_or(1, usize::from) >= 2
        && Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Pins every thread of this process to `cpu` (with `taskset -a -p`).
///
/// # Errors
///
/// When `taskset` cannot be run or refuses.
pub fn pin_self(cpu: usize) -> io::Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "taskset could not pin this process to CPU {cpu}"
        )))
    }
}

/// A running child process. Dropping it ends it and its process group.
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stdout_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_done: Receiver<()>,
    command: String,
}

impl Process {
    /// Starts `spawn`.
    ///
    /// # Errors
    ///
    /// When the program cannot be started.
    pub fn spawn(spawn: &Spawn) -> io::Result<Process> {
        use std::os::unix::process::CommandExt as _;
        let mut command = match spawn.pin {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&spawn.program);
                c
            }
            None => Command::new(&spawn.program),
        };
        command
            .args(&spawn.args)
            .stdin(if spawn.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {}: {e}", spawn.program.display()))
        })?;
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdout_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (line_tx, lines) = mpsc::channel();
        let tail = Arc::clone(&stdout_tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                keep(&tail, &line);
                let _ = line_tx.send(line);
            }
        });
        let tail = Arc::clone(&stderr_tail);
        let (done_tx, stderr_done) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep(&tail, &line);
            }
            let _ = done_tx.send(());
        });
        Ok(Process {
            stdin: child.stdin.take(),
            child,
            lines,
            stdout_tail,
            stderr_tail,
            stderr_done,
            command: spawn.command_line(),
        })
    }

    /// The process id (taskset execs the program, so it is the program's).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The command line it was started with.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The next line of its stdout, waiting until `deadline`; `None` at the
    /// deadline or when stdout has closed.
    pub fn line_until(&self, deadline: Instant) -> Option<String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(wait).ok()
    }

    /// A line of its stdout if one is waiting.
    pub fn try_line(&self) -> Option<String> {
        self.lines.try_recv().ok()
    }

    /// Writes a line to its stdin.
    ///
    /// # Errors
    ///
    /// When stdin was not piped or the child has closed it.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stdin is not piped"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// What it said last, stderr first, for an error message: waits a
    /// moment for a dead child's stderr to be read to its end.
    pub fn tail(&mut self) -> String {
        if self.exited().is_some() {
            let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
        }
        let lock = |t: &Arc<Mutex<VecDeque<String>>>| t.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (stderr, stdout) = (lock(&self.stderr_tail), lock(&self.stdout_tail));
        let mut out = String::new();
        for (name, lines) in [("stderr", stderr), ("stdout", stdout)] {
            if !lines.is_empty() {
                out.push_str(&format!("  its {name} (last lines):\n"));
                for line in lines {
                    out.push_str("    ");
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
        if out.is_empty() {
            out.push_str("  (it printed nothing)\n");
        }
        out
    }

    /// Ends the process group: SIGTERM, up to `grace` to exit, then
    /// SIGKILL to the whole group (pre-fork workers included).
    pub fn stop(&mut self, grace: Duration) {
        let group = format!("-{}", self.child.id());
        if self.exited().is_none() {
            signal("-TERM", &group);
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // Workers of a pre-fork master may outlive it: the group goes too.
        signal("-KILL", &group);
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|g| *g != self.child.id());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stdin.take();
        self.stop(Duration::from_secs(2));
    }
}

fn keep(tail: &Mutex<VecDeque<String>>, line: &str) {
    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
    if tail.len() == TAIL {
        tail.pop_front();
    }
    tail.push_back(line.to_owned());
}

/// Sends `signal` to the process group `group` ("-PGID") with kill(1).
fn signal(signal: &str, group: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `program args` to completion within `timeout`; its exit status and
/// output, or `None` if it had to be killed.
///
/// # Errors
///
/// When it cannot be started.
pub fn run_bounded(
    program: &Path,
    args: &[&str],
    timeout: Duration,
) -> io::Result<Option<(ExitStatus, String)>> {
    let mut process = Process::spawn(&Spawn::new(program, args.iter().copied()))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.exited() {
            let tail = process.tail();
            return Ok(Some((status, tail)));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
