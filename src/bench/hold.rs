//! The client process that holds standing connections: `rwsgi bench hold
//! --addr ADDR`. It is a process of its own so that the connections it
//! holds count against its open-file limit, not the runner's or the bench's
//! (each process may open 20 000 files here), and so that its memory is
//! never the server's.
//!
//! It reads commands on stdin and answers each with one line on stdout:
//!
//! | command | answer |
//! |---|---|
//! | `open K` | `held TOTAL` once K more connections have each completed a request |
//! | `check` | `open COUNT`: how many the server still holds open |
//! | `round R` | `round NANOS ERRORS`: R rounds of one request on every connection |
//! | `quit` (or end of input) | exits, closing them all |
//!
//! A failure is answered `error MESSAGE`.

use std::io::{self, BufRead};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::child::{Process, Spawn};
use super::load::{STALL, Standing};

/// The request every standing connection sends.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Runs the holder: commands from stdin until `quit` or its end.
pub fn main(addr: SocketAddr) -> ExitCode {
    let mut standing = Standing::new(addr, REQUEST.to_vec());
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next().map(str::parse::<u64>)) {
            (Some("open"), Some(Ok(k))) => match standing.open(k as usize) {
                Ok(()) => format!("held {}", standing.len()),
                Err(e) => format!("error {e} (held {} before it)", standing.len()),
            },
            (Some("check"), None) => format!("open {}", standing.still_open()),
            (Some("round"), Some(Ok(r))) => {
                let start = Instant::now();
                let errors: usize = (0..r).map(|_| standing.round()).sum();
                format!("round {} {errors}", start.elapsed().as_nanos())
            }
            (Some("quit"), None) => break,
            _ => format!("error unknown command {line:?}"),
        };
        use std::io::Write as _;
        if writeln!(out, "{answer}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// Our end of a holder process.
pub struct Holder {
    process: Process,
    held: usize,
}

impl Holder {
    /// Starts `program bench hold --addr ADDR` (`program` is an `rwsgi`
    /// binary), pinned to `pin` if given.
    ///
    /// # Errors
    ///
    /// When it cannot be started.
    pub fn spawn(program: &Path, addr: SocketAddr, pin: Option<usize>) -> io::Result<Holder> {
        let mut spawn = Spawn::new(
            program,
            [
                "bench".to_owned(),
                "hold".to_owned(),
                "--addr".to_owned(),
                addr.to_string(),
            ],
        );
        spawn.pin = pin;
        spawn.stdin = true;
        Ok(Holder {
            process: Process::spawn(&spawn)?,
            held: 0,
        })
    }

    /// Connections held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Opens `k` more standing connections (each completes a request).
    ///
    /// # Errors
    ///
    /// The holder's own message (the open-file limit, a refused
    /// connection, a failed request), or its silence past a deadline.
    pub fn open(&mut self, k: usize) -> io::Result<usize> {
        // Generous: a server pinned to one busy core answers 1 000 new
        // connections in well under a second.
        let timeout = STALL + Duration::from_millis(10 * k as u64);
        let answer = self.ask(&format!("open {k}"), timeout)?;
        self.held = parse_word(&answer, "held")?;
        Ok(self.held)
    }

    /// How many the server still holds open.
    ///
    /// # Errors
    ///
    /// As [`Holder::open`].
    pub fn check(&mut self) -> io::Result<usize> {
        let answer = self.ask("check", STALL)?;
        parse_word(&answer, "open")
    }

    /// `rounds` rounds of one request on every held connection; the time
    /// they took (timed in the holder) and the connections that failed.
    ///
    /// # Errors
    ///
    /// As [`Holder::open`].
    pub fn rounds(&mut self, rounds: u64) -> io::Result<(Duration, u64)> {
        let timeout = STALL * 2 + Duration::from_millis(rounds.saturating_mul(self.held as u64) / 10);
        let answer = self.ask(&format!("round {rounds}"), timeout)?;
        let mut words = answer.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("round"), Some(ns), Some(errors)) => {
                let ns: u64 = ns.parse().map_err(io::Error::other)?;
                let errors: u64 = errors.parse().map_err(io::Error::other)?;
                self.held -= errors as usize;
                Ok((Duration::from_nanos(ns), errors))
            }
            _ => Err(io::Error::other(format!("the holder answered {answer:?}"))),
        }
    }

    fn ask(&mut self, command: &str, timeout: Duration) -> io::Result<String> {
        let sent = self.process.send(command);
        let answer = match sent {
            Ok(()) => self.process.line_until(Instant::now() + timeout),
            Err(_) => None,
        };
        match answer {
            Some(line) if line.starts_with("error ") => Err(io::Error::other(format!(
                "the holder process failed `{command}`: {}",
                &line["error ".len()..]
            ))),
            Some(line) => Ok(line),
            None => Err(io::Error::other(format!(
                "the holder process did not answer `{command}` within {timeout:?}\n{}",
                self.process.tail()
            ))),
        }
    }
}

fn parse_word(answer: &str, word: &str) -> io::Result<usize> {
    answer
        .strip_prefix(word)
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("the holder answered {answer:?}, not `{word} N`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standing connections against the control server, in process.
    #[test]
    fn standing_connections_open_answer_rounds_and_are_seen_closed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || super::super::control::serve_on(listener, 0));
        let deadline = Instant::now() + Duration::from_secs(10);
        while super::super::server::probe(addr).is_err() {
            assert!(Instant::now() < deadline, "the control server did not start");
            std::thread::yield_now();
        }
        let mut standing = Standing::new(addr, REQUEST.to_vec());
        standing.open(300).unwrap();
        assert_eq!(standing.len(), 300);
        assert_eq!(standing.still_open(), 300);
        assert_eq!(standing.round(), 0);
        assert_eq!(standing.round(), 0);
        assert_eq!(standing.len(), 300);

        // Against a server that closes after answering, none stand.
        let closer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closer_addr = closer.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in closer.incoming().take(3) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = io::Read::read(&mut stream, &mut buf);
                let _ = io::Write::write_all(&mut stream, super::super::control::ANSWER);
            }
        });
        let mut closed = Standing::new(closer_addr, REQUEST.to_vec());
        closed.open(3).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while closed.still_open() > 0 {
            assert!(Instant::now() < deadline, "closed connections still counted open");
            std::thread::yield_now();
        }
        assert_eq!(closed.round(), 3, "every request on a closed connection fails");
        assert!(closed.is_empty());
    }

    #[test]
    fn holder_answers_parse() {
        assert_eq!(parse_word("held 12", "held").unwrap(), 12);
        assert!(parse_word("open x", "open").is_err());
        assert!(parse_word("round 1 0", "open").is_err());
    }
}
