//! What the integration tests share: servers started on 127.0.0.1:0 in the
//! test process or as a child process, a raw HTTP/1 client that reads
//! responses byte-exactly, and waiting on conditions with deadlines.

#![allow(dead_code)] // each test target uses a different part

pub mod announced;
pub mod corpus;
pub mod nginx;
pub mod raw;
pub mod tls;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rwsgi::{Addr, Application, Config, Engine, Server, ServerHandle};

/// How long any single wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A configuration for tests: an ephemeral loopback port, two event-loop
/// threads, timeouts long enough not to fire unless a test wants them.
pub fn config(engine: Engine) -> Config {
    let mut config = Config::default();
    config.binds = vec!["127.0.0.1:0".parse().unwrap()];
    config.io_threads = 2;
    config.engine = Some(engine);
    config.keep_alive = Duration::from_secs(30);
    config
}

/// One backend × engine compiled in, able to start a server in the test
/// process.
pub struct Combo {
    /// `backend/engine`.
    pub name: String,
    pub engine: Engine,
    start: fn(Config, rwsgi::SharedApp) -> TestServer,
}

impl Combo {
    /// A server of this backend with `config` (its engine set) and `app`.
    pub fn start(&self, mut config: Config, app: impl Application) -> TestServer {
        config.engine = Some(self.engine);
        (self.start)(config, rwsgi::SharedApp::new(app))
    }
}

/// Every engine of every backend compiled in.
pub fn combos() -> Vec<Combo> {
    fn add<S: Server>(combos: &mut Vec<Combo>) {
        fn start<S: Server>(config: Config, app: rwsgi::SharedApp) -> TestServer {
            TestServer::start::<S>(config, app)
        }
        for &engine in S::ENGINES {
            combos.push(Combo {
                name: format!("{}/{engine}", S::NAME),
                engine,
                start: start::<S>,
            });
        }
    }
    let mut combos = Vec::new();
    #[cfg(feature = "tokio-backend")]
    add::<rwsgi::TokioServer>(&mut combos);
    #[cfg(feature = "smol-backend")]
    add::<rwsgi::SmolServer>(&mut combos);
    #[cfg(feature = "async-std-backend")]
    add::<rwsgi::AsyncStdServer>(&mut combos);
    combos
}

/// A server running in the test process, on its own thread.
pub struct TestServer {
    pub addrs: Vec<Addr>,
    pub handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start<S: Server>(config: Config, app: impl Application) -> Self {
        let server = S::bind(config).expect("the server binds");
        let addrs = server.local_addrs();
        let handle = server.handle();
        let thread = std::thread::spawn(move || server.run(app));
        TestServer {
            addrs,
            handle,
            thread: Some(thread),
        }
    }

    /// The first TCP address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs
            .iter()
            .find_map(|a| match a {
                Addr::Tcp(a) => Some(*a),
                Addr::Unix(_) => None,
            })
            .expect("a TCP bind")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Shuts down with `grace` and waits for `run` to return; fails the
    /// test if it takes longer than the grace period plus [`DEADLINE`].
    pub fn stop(mut self, grace: Duration) -> std::io::Result<()> {
        self.handle.shutdown(grace);
        self.join(grace + DEADLINE)
    }

    fn join(&mut self, limit: Duration) -> std::io::Result<()> {
        let thread = self.thread.take().expect("joined once");
        wait_until(limit, "the server to stop", || thread.is_finished());
        thread.join().expect("the server thread does not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown(Duration::ZERO);
            let result = self.join(DEADLINE);
            if !std::thread::panicking() {
                result.expect("run returns Ok");
            }
        }
    }
}

/// Polls `condition` until it holds; fails the test after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `command` to its end and collects its output, as
/// [`Command::output`] does — but within [`DEADLINE`]: a command expected
/// to refuse its arguments that serves instead is killed and fails the
/// test, rather than hanging the suite.
pub fn output_within_deadline(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let collect = |stream: Option<Box<dyn Read + Send>>| {
        let mut stream = stream.expect("piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = collect(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = collect(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    // Its output closes when it and whatever it left behind (a daemon)
    // have let go of the pipes.
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            if stdout.is_finished() && stderr.is_finished() {
                break status;
            }
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit and close its output within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().expect("read stdout"),
        stderr: stderr.join().expect("read stderr"),
    }
}

/// The `rwsgi` binary running as a child process; killed when dropped.
pub struct ChildServer {
    pub child: Child,
    pub addrs: Vec<String>,
    /// What it writes to stderr, collected as it comes (a full pipe would
    /// stall a server that logs a lot).
    stderr: Stderr,
    /// What it prints after it started serving, line by line.
    pub stdout: std::sync::mpsc::Receiver<String>,
}

/// A child's stderr, read on a thread of its own.
struct Stderr {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Stderr {
    fn collect(child: &mut Child) -> Self {
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let sink = std::sync::Arc::clone(&text);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut buf) {
                    sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        });
        Stderr { text, reader }
    }

    fn now(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// All of it, once every writer has closed the pipe.
    fn all(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            wait_until(DEADLINE, "stderr to close", || reader.is_finished());
        }
        self.now()
    }
}

impl ChildServer {
    /// Starts `rwsgi ARGS...` and waits until it prints that it is serving.
    pub fn start(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rwsgi"));
        command.args(args);
        Self::start_command(command, &format!("rwsgi {args:?}"))
    }

    /// Starts `command` (which runs `rwsgi` in the end, perhaps through a
    /// shell) and waits until it prints that it is serving.
    pub fn start_command(mut command: Command, what: &str) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rwsgi starts");
        let mut stderr = Stderr::collect(&mut child);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addrs = Vec::new();
        loop {
            let Ok(line) = rx.recv_timeout(DEADLINE) else {
                // It exited (or hangs: then it is killed) — say what it said.
                let _ = child.kill();
                let said = stderr.all();
                panic!("{what} did not report that it is serving; it said:\n{said}");
            };
            if let Some(url) = line.strip_prefix("rwsgi: listening on ") {
                // `SCHEME://HOST:PORT`, or a unix socket as is.
                addrs.push(url.split_once("://").map_or(url, |(_, addr)| addr).to_owned());
            }
            if line.starts_with("rwsgi: serving ") {
                break;
            }
        }
        ChildServer {
            child,
            addrs,
            stderr,
            stdout: rx,
        }
    }

    /// Starts `command`, which serves on `addr` but does not print rwsgi's
    /// lines (gunicorn logs its own), and waits until `ready` holds.
    pub fn start_ready(
        mut command: Command,
        addr: SocketAddr,
        what: &str,
        ready: impl FnMut() -> bool,
    ) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rwsgi starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Stderr::collect(&mut child);
        let server = ChildServer {
            child,
            addrs: vec![addr.to_string()],
            stderr,
            stdout: rx,
        };
        wait_until(DEADLINE, &format!("{what} to serve"), ready);
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0].parse().expect("a TCP address")
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.now()
    }

    /// Everything it wrote to stderr, once it has exited.
    pub fn all_stderr(&mut self) -> String {
        self.stderr.all()
    }

    /// Stops it (SIGTERM, then waits) and returns what it wrote to stderr.
    pub fn stop_and_stderr(&mut self) -> String {
        self.signal_and_wait(15);
        self.stderr.all()
    }

    /// Sends `signal` and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: i32) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(&pid)
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
        let child = &mut self.child;
        let mut status = None;
        wait_until(DEADLINE, "rwsgi to exit", || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
