//! A server under test: a child process that says where it listens (the
//! `rwsgi: listening on URL` and `rwsgi: serving …` lines `rwsgi` prints)
//! or is found answering at an address given to it, and that answers
//! `GET /` with a 2xx before it counts as started.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::child::{Process, Spawn};
use super::load::{REQUEST_CLOSE, parse_response};
use super::process::{Usage, usage};

/// How long a server may take to start unless told otherwise.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A server that would not start: what was run, why, and what it said.
#[derive(Debug)]
pub struct StartError {
    /// The server's name.
    pub name: String,
    /// The command line.
    pub command: String,
    /// What went wrong.
    pub reason: String,
    /// Its last lines of output.
    pub output: String,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} did not start: {}\n  command: {}\n{}",
            self.name,
            self.reason,
            self.command,
            self.output.trim_end()
        )
    }
}

impl std::error::Error for StartError {}

/// A running server.
pub struct Server {
    /// Its name in tables.
    pub name: String,
    /// Where it answers.
    pub addr: SocketAddr,
    process: Process,
}

impl Server {
    /// Starts `spawn` and waits (up to `timeout`) until it answers `GET /`
    /// with a 2xx at the address it announces, or at `addr` if it says
    /// none.
    ///
    /// # Errors
    ///
    /// When it cannot be run, exits, or does not answer in time; the error
    /// carries its stderr.
    pub fn start(
        name: &str,
        spawn: &Spawn,
        addr: Option<SocketAddr>,
        timeout: Duration,
    ) -> Result<Server, StartError> {
        Server::start_probed(name, spawn, addr, timeout, &probe)
    }

    /// As [`start`](Server::start), with `probe` as the check that it
    /// answers (a TLS server needs a TLS client). Only plain `http://`
    /// announcements are taken for its address, so a TLS server needs
    /// `addr`.
    ///
    /// # Errors
    ///
    /// As [`start`](Server::start).
    pub fn start_probed(
        name: &str,
        spawn: &Spawn,
        addr: Option<SocketAddr>,
        timeout: Duration,
        probe: &dyn Fn(SocketAddr) -> io::Result<()>,
    ) -> Result<Server, StartError> {
        let fail = |reason: String, output: String| StartError {
            name: name.to_owned(),
            command: spawn.command_line(),
            reason,
            output,
        };
        let mut process = Process::spawn(spawn).map_err(|e| fail(e.to_string(), String::new()))?;
        let deadline = Instant::now() + timeout;
        let mut announced = None;
        let mut last_probe = None;
        loop {
            while let Some(line) = process.try_line() {
                if let Some(url) = line.strip_prefix("rwsgi: listening on http://") {
                    announced = url.trim().parse().ok().or(announced);
                }
            }
            if let Some(status) = process.exited() {
                let output = process.tail();
                return Err(fail(format!("it exited ({status})"), output));
            }
            if let Some(at) = announced.or(addr) {
                match probe(at) {
                    Ok(()) => {
                        return Ok(Server {
                            name: name.to_owned(),
                            addr: at,
                            process,
                        });
                    }
                    Err(e) => last_probe = Some(format!("GET / at {at}: {e}")),
                }
            }
            if Instant::now() >= deadline {
                let reason = match (&last_probe, announced.or(addr)) {
                    (Some(probe), _) => format!("no 2xx answer within {timeout:?} (last try: {probe})"),
                    (None, _) => format!("it did not say where it listens within {timeout:?}"),
                };
                let output = process.tail();
                return Err(fail(reason, output));
            }
            // Waiting for its next line doubles as the pause between probes.
            if let Some(line) = process.line_until(Instant::now() + Duration::from_millis(25)) {
                if let Some(url) = line.strip_prefix("rwsgi: listening on http://") {
                    announced = url.trim().parse().ok().or(announced);
                }
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// CPU time and RSS of the server's process tree.
    ///
    /// # Errors
    ///
    /// When it has gone.
    pub fn usage(&self) -> io::Result<Usage> {
        usage(self.pid())
    }

    /// `Err` with its last output if it has exited.
    ///
    /// # Errors
    ///
    /// The exit status and output.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.process.exited() {
            None => Ok(()),
            Some(status) => {
                let tail = self.process.tail();
                Err(format!(
                    "{} exited ({status}); command: {}\n{tail}",
                    self.name,
                    self.process.command()
                ))
            }
        }
    }

    /// Stops it (SIGTERM, then SIGKILL to its group).
    pub fn stop(mut self) {
        self.process.stop(Duration::from_secs(2));
    }
}

/// `GET /` on a fresh connection; `Ok` on a complete 2xx answer.
///
/// # Errors
///
/// When nothing listens, or the answer is not a 2xx.
pub fn probe(addr: SocketAddr) -> io::Result<()> {
    get(probe_connect(addr)?)
}

/// A connection to `addr` with a probe's deadlines: 1 s to connect, 2 s
/// for each read and write.
///
/// # Errors
///
/// When nothing listens.
pub fn probe_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    Ok(stream)
}

/// `GET /` (`Connection: close`) over `stream`; `Ok` on a complete 2xx
/// answer. Its deadlines are the stream's.
///
/// # Errors
///
/// When the exchange fails or the answer is not a 2xx.
pub fn get(mut stream: impl Read + Write) -> io::Result<()> {
    stream.write_all(REQUEST_CLOSE)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if parse_response(&buf)?.is_some() {
            return Ok(());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a whole answer",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A free port on 127.0.0.1 for a server that must be told one (it is
/// free when this returns; the server binds it moments later).
///
/// # Errors
///
/// When no port can be bound.
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_exits_is_reported_with_its_stderr() {
        let spawn = Spawn::new("sh", ["-c", "echo 'bind: address in use' >&2; exit 3"]);
        let err = Server::start("broken", &spawn, None, Duration::from_secs(10))
            .err()
            .expect("it cannot start");
        let text = err.to_string();
        assert!(text.contains("broken did not start"), "{text}");
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.contains("bind: address in use"), "{text}");
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let spawn = Spawn::new("sh", ["-c", "echo waiting; exec sleep 30"]);
        let start = Instant::now();
        let err = Server::start("silent", &spawn, None, Duration::from_millis(300))
            .err()
            .expect("it never says where it listens");
        assert!(start.elapsed() < Duration::from_secs(5), "bounded");
        let text = err.to_string();
        assert!(text.contains("did not say where it listens"), "{text}");
        assert!(text.contains("waiting"), "{text}");
    }

    #[test]
    fn a_server_that_answers_is_started() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten().take(1) {
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
        });
        let spawn = Spawn::new("sh", ["-c", "exec sleep 30"]);
        let server = Server::start("fake", &spawn, Some(addr), Duration::from_secs(10)).unwrap();
        assert_eq!(server.addr, addr);
        let pid = server.pid();
        server.stop();
        assert!(usage(pid).is_err(), "stopped and reaped");
    }
}
