//! The control server, `rwsgi bench control`: tokio on one thread, and per
//! connection nothing but a 4 KiB read buffer — it counts request terminators
//! (`\r\n\r\n`) and writes as many canned `demo:hello` answers, one write
//! per read. It does not parse HTTP at all, so it is as cheap a server as
//! the load generator can meet: what it reaches is the load generator's
//! ceiling (its overhead, as `rwsgi bench` states it).
//!
//! With `--hold-bytes B` each open connection also holds B bytes of heap,
//! written so they are resident: a server whose memory per connection is
//! known, on which the RSS-per-idle-connection method is checked (the
//! difference between B and 0 should come back as B).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// demo:hello's answer as rwsgi sends it (the date is fixed; its length is
/// what matters).
pub const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 14\r\n\
date: Fri, 20 Nov 2026 23:36:10 GMT\r\nserver: rwsgi\r\n\r\nHello, World!\n";

/// Answers written with one write, at most.
const ANSWERS_AT_ONCE: usize = 64;

/// [`ANSWER`] × [`ANSWERS_AT_ONCE`], shared by every connection.
fn answers() -> &'static [u8] {
    static ANSWERS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ANSWERS.get_or_init(|| ANSWER.repeat(ANSWERS_AT_ONCE))
}

/// Serves at `bind` until the process is stopped; each connection holds
/// `hold_bytes` of resident heap while open.
///
/// # Errors
///
/// When the runtime cannot start or the address cannot be bound.
pub fn serve(bind: SocketAddr, hold_bytes: usize) -> std::io::Result<()> {
    serve_on(std::net::TcpListener::bind(bind)?, hold_bytes)
}

/// [`serve`] on a listener already bound.
///
/// # Errors
///
/// When the runtime cannot start.
pub fn serve_on(listener: std::net::TcpListener, hold_bytes: usize) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!("rwsgi: listening on http://{}", listener.local_addr()?);
        println!("rwsgi: serving the control server (no parsing; {hold_bytes} bytes held per connection)");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, hold_bytes));
        }
    })
}

async fn connection(mut stream: tokio::net::TcpStream, hold_bytes: usize) {
    // Written, not just reserved, so every page is resident.
    let held = vec![0xA5u8; hold_bytes];
    let mut buf = vec![0u8; 4096];
    let mut terminator = Terminators::default();
    'connection: loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut count = terminator.count(&buf[..n]);
        while count > 0 {
            let now = count.min(ANSWERS_AT_ONCE);
            if stream.write_all(&answers()[..now * ANSWER.len()]).await.is_err() {
                break 'connection;
            }
            count -= now;
        }
    }
    std::hint::black_box(held);
}

/// Counts `\r\n\r\n` across reads.
#[derive(Default)]
struct Terminators {
    matched: usize,
}

impl Terminators {
    fn count(&mut self, bytes: &[u8]) -> usize {
        const END: &[u8; 4] = b"\r\n\r\n";
        let mut count = 0;
        for &b in bytes {
            if b == END[self.matched] {
                self.matched += 1;
                if self.matched == END.len() {
                    count += 1;
                    self.matched = 0;
                }
            } else {
                self.matched = usize::from(b == b'\r');
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_terminators_across_reads() {
        let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
        let two = request.repeat(2);
        let mut t = Terminators::default();
        assert_eq!(t.count(&two), 2);
        let (a, b) = two.split_at(two.len() - 2);
        assert_eq!(t.count(a), 1);
        assert_eq!(t.count(b), 1);
        let mut t = Terminators::default();
        assert_eq!(
            two.iter()
                .map(|byte| t.count(std::slice::from_ref(byte)))
                .sum::<usize>(),
            2
        );
        assert_eq!(Terminators::default().count(b"GET / HTTP/1.1\r\n\r\r\n"), 0);
        assert!(super::super::load::parse_response(ANSWER).unwrap() == Some(ANSWER.len()));
    }
}
