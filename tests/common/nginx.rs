//! A real nginx on loopback, for the tests that put it in front of rwsgi:
//! its own prefix and configuration in a temporary folder, `daemon off`,
//! one process (`master_process off`, so that killing it leaves no worker
//! behind), errors to stderr, captured. It never touches a system nginx.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::DEADLINE;

/// The nginx binary: on `PATH` or in `/usr/sbin`. Missing, the test says
/// so and is skipped — except under `CI=true`, where `.ci/run` installs
/// nginx and a missing one fails the test.
pub fn binary(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: nginx is not installed; .ci/run installs it (apt-get install nginx-light)"
        );
        eprintln!("{test}: SKIPPED, nginx is not installed (apt-get install nginx-light runs it)");
    }
    found
}

/// A folder under the system's temporary folder, removed when dropped.
/// World-readable, so that nginx's workers reach the unix sockets in it.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("rwsgi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// nginx, running.
pub struct Nginx {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Nginx {
    /// Starts nginx in `dir` with `http`, the inside of its `http {}`
    /// block, made for the port it must listen on (a free one is picked;
    /// if another process takes it first, nginx is started again on
    /// another). Temporary files stay in `dir`.
    pub fn start(binary: &Path, dir: &Path, http: impl Fn(u16) -> String) -> Nginx {
        let d = dir.display();
        for _ in 0..5 {
            let port = free_port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nuser root root;\npid {d}/nginx.pid;\nerror_log stderr warn;\n\
                 events {{ worker_connections 8192; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{}\n}}\n",
                http(port)
            );
            let conf_path = dir.join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let mut child = Command::new(binary)
                .args([
                    "-p",
                    &format!("{d}/"),
                    "-c",
                    conf_path.to_str().unwrap(),
                    "-e",
                    "stderr",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("nginx starts");
            let log = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&log);
            let stderr = child.stderr.take().unwrap();
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            let mut nginx = Nginx { child, port, log };
            let start = Instant::now();
            let exited = loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return nginx;
                }
                if let Some(status) = nginx.child.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    start.elapsed() < DEADLINE,
                    "nginx did not listen:\n{}",
                    nginx.log()
                );
                std::thread::sleep(Duration::from_millis(10));
            };
            reader.join().unwrap();
            let log = nginx.log();
            assert!(
                log.contains("Address already in use"),
                "nginx exited ({exited}):\n{log}"
            );
        }
        panic!("nginx found no free port in 5 tries");
    }

    /// What nginx has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port below the kernel's ephemeral range, for a server that must
/// come back on the same port: a port in the range can be taken, once its
/// listener closes, as the source port of some outgoing connection (nginx's
/// to another upstream), and then cannot be bound again.
pub fn stable_port() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let low: u16 = range
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(32768);
    let seed = std::process::id() as u16;
    (0..1000u16)
        .map(|i| 10_000 + (seed.wrapping_add(i.wrapping_mul(7919))) % low.saturating_sub(10_000).max(1))
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
