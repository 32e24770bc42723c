//! `--stats ADDR`: the master answers every connection with a JSON
//! snapshot of the workers (uWSGI's stats server; `--stats-http` wraps it
//! in an HTTP response), then closes it.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::Plan;

/// The stats socket, non-blocking.
pub enum StatsListener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix socket (removed at exit).
    Unix(UnixListener, PathBuf),
}

impl StatsListener {
    /// Binds `addr`: `HOST:PORT`, `:PORT`, or a path.
    ///
    /// # Errors
    ///
    /// When it cannot be bound.
    pub fn bind(addr: &str) -> std::io::Result<StatsListener> {
        let listener = if addr.contains('/') {
            let _ = std::fs::remove_file(addr);
            let l = UnixListener::bind(addr)?;
            l.set_nonblocking(true)?;
            StatsListener::Unix(l, PathBuf::from(addr))
        } else {
            let addr = match addr.strip_prefix(':') {
                Some(port) => format!("0.0.0.0:{port}"),
                None => addr.to_owned(),
            };
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            StatsListener::Tcp(l)
        };
        Ok(listener)
    }

    /// Where it listens.
    pub fn describe(&self) -> String {
        match self {
            StatsListener::Tcp(l) => l.local_addr().map_or_else(|_| "?".into(), |a| a.to_string()),
            StatsListener::Unix(_, path) => path.display().to_string(),
        }
    }

    /// Answers every waiting client with `json`.
    pub fn serve_pending(&self, json: &str, http: bool) {
        let body = if http {
            format!(
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            )
        } else {
            json.to_owned()
        };
        loop {
            let sent = match self {
                StatsListener::Tcp(l) => l.accept().map(|(s, _)| send(s, &body)),
                StatsListener::Unix(l, _) => l.accept().map(|(s, _)| send(s, &body)),
            };
            if sent.is_err() {
                return;
            }
        }
    }
}

impl AsFd for StatsListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            StatsListener::Tcp(l) => l.as_fd(),
            StatsListener::Unix(l, _) => l.as_fd(),
        }
    }
}

/// Writes to a client without letting it stall the master for long.
trait Client: Write {
    fn prepare(&self) -> std::io::Result<()>;
}

impl Client for std::net::TcpStream {
    fn prepare(&self) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_write_timeout(Some(Duration::from_secs(2)))
    }
}

impl Client for std::os::unix::net::UnixStream {
    fn prepare(&self) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_write_timeout(Some(Duration::from_secs(2)))
    }
}

fn send<C: Client>(mut client: C, body: &str) {
    if client.prepare().is_ok() {
        let _ = client.write_all(body.as_bytes());
    }
}

/// The snapshot, with uWSGI's keys.
pub fn json(plan: &Plan<'_>, pids: &[Option<Pid>]) -> String {
    let board = &plan.board;
    let threads = plan.settings.threads.max(1);
    let workers: Vec<Value> = pids
        .iter()
        .enumerate()
        .map(|(wid, pid)| {
            let slot = board.worker(wid);
            let requests = slot.requests.load(Ordering::Relaxed);
            let running = slot.running_time.load(Ordering::Relaxed);
            let cores: Vec<Value> = (0..threads.min(board.cores()))
                .map(|c| {
                    let core = board.core(wid, c);
                    json!({
                        "id": c,
                        "requests": core.requests.load(Ordering::Relaxed),
                        "static_requests": 0,
                        "routed_requests": 0,
                        "offloaded_requests": 0,
                        "write_errors": 0,
                        "read_errors": 0,
                        "in_request": core.in_request.load(Ordering::Relaxed),
                        "vars": [],
                        "req_info": {},
                    })
                })
                .collect();
            let busy = (0..board.cores()).any(|c| board.core(wid, c).in_request.load(Ordering::Relaxed) == 1);
            let (rss, vsz) = pid.map_or((0, 0), memory);
            json!({
                "id": wid + 1,
                "pid": pid.map_or(0, Pid::as_raw),
                "accepting": slot.accepting.load(Ordering::Relaxed),
                "requests": requests,
                "delta_requests": requests,
                "exceptions": slot.exceptions.load(Ordering::Relaxed),
                "harakiri_count": slot.harakiri_count.load(Ordering::Relaxed),
                "signals": 0,
                "signal_queue": 0,
                "status": if pid.is_none() { "cheap" } else if busy { "busy" } else { "idle" },
                "rss": rss,
                "vsz": vsz,
                "running_time": running,
                "last_spawn": slot.last_spawn.load(Ordering::Relaxed),
                "respawn_count": slot.respawn_count.load(Ordering::Relaxed),
                "tx": slot.tx.load(Ordering::Relaxed),
                "avg_rt": running.checked_div(requests).unwrap_or(0),
                "apps": [{
                    "id": 0,
                    "modifier1": 0,
                    "mountpoint": "",
                    "startup_time": 0,
                    "requests": requests,
                    "exceptions": slot.exceptions.load(Ordering::Relaxed),
                    "chdir": "",
                }],
                "cores": cores,
            })
        })
        .collect();
    let sockets: Vec<Value> = plan
        .groups
        .iter()
        .flat_map(|g| g.names.iter().map(move |name| (name, g.protocol)))
        .map(|(name, protocol)| {
            json!({
                "name": name,
                "proto": protocol.name(),
                "queue": 0,
                "max_queue": plan.settings.listen,
                "shared": 0,
                "can_offload": 0,
            })
        })
        .collect();
    let cwd = std::env::current_dir().map_or_else(|_| String::new(), |p| p.display().to_string());
    json!({
        "version": crate::UWSGI_VERSION,
        "listen_queue": 0,
        "listen_queue_errors": 0,
        "signal_queue": 0,
        "load": 0,
        "pid": std::process::id(),
        "uid": nix::unistd::getuid().as_raw(),
        "gid": nix::unistd::getgid().as_raw(),
        "cwd": cwd,
        "locks": [],
        "sockets": sockets,
        "workers": workers,
    })
    .to_string()
}

/// A process's resident and virtual memory in bytes (`/proc/PID/statm`).
fn memory(pid: Pid) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return (0, 0);
    };
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
    let pages = 4096;
    let vsz = fields.next().unwrap_or(0) * pages;
    let rss = fields.next().unwrap_or(0) * pages;
    (rss, vsz)
}
