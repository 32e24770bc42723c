//! The load generator: keep-alive HTTP/1.1 connections, each sending a
//! request (or a pipelined batch) and reading the answers, as fast as the
//! server allows. It runs on its own tokio runtime in the calling process
//! (the server is always another process).
//!
//! It is deliberately minimal — it understands only `Content-Length`
//! responses — so that its own cost stays small and known: the runner
//! measures it against a no-parse responder and states it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// When a load stops.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// After this many requests in all.
    Requests(u64),
    /// After this long.
    Time(Duration),
}

/// What load to drive.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Keep-alive connections, all busy at once.
    pub connections: usize,
    /// Requests written at once on a connection before reading the answers
    /// (1: no pipelining).
    pub depth: usize,
    /// When to stop.
    pub limit: Limit,
    /// Client threads.
    pub threads: usize,
    /// The request, sent as is.
    pub request: Vec<u8>,
}

impl LoadOptions {
    /// `GET /` with `Host`, `connections` connections, no pipelining.
    pub fn hello(connections: usize, limit: Limit) -> Self {
        LoadOptions {
            connections,
            depth: 1,
            limit,
            threads: 1,
            request: b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec(),
        }
    }
}

/// What a load achieved.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Responses read.
    pub requests: u64,
    /// Connections that failed (reset, closed, a non-2xx answer).
    pub errors: u64,
    /// From the first request to the last response.
    pub elapsed: Duration,
    /// Median time from writing a request (batch) to its last response.
    pub p50: Duration,
    /// 99th percentile of the same.
    pub p99: Duration,
}

impl LoadReport {
    /// Responses per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Drives `options` against `addr`. Connections are opened before the
/// clock starts.
///
/// # Errors
///
/// When the connections cannot be opened.
pub fn drive(addr: SocketAddr, options: &LoadOptions) -> io::Result<LoadReport> {
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let mut streams = Vec::with_capacity(options.connections);
        for _ in 0..options.connections {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            streams.push(stream);
        }
        let shared = Arc::new(Shared {
            tickets: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            errors: AtomicU64::new(0),
        });
        let batch: Arc<[u8]> = options.request.repeat(options.depth).into();
        let start = Instant::now();
        let deadline = match options.limit {
            Limit::Time(t) => Some(start + t),
            Limit::Requests(_) => None,
        };
        let total = match options.limit {
            Limit::Requests(n) => n,
            Limit::Time(_) => u64::MAX,
        };
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|stream| {
                let shared = Arc::clone(&shared);
                let batch = Arc::clone(&batch);
                let depth = options.depth as u64;
                tokio::spawn(async move { connection(stream, batch, depth, total, deadline, shared).await })
            })
            .collect();
        let mut histogram = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        let mut requests = 0;
        for task in tasks {
            let (done, latencies) = task.await.map_err(io::Error::other)?;
            requests += done;
            histogram.add(latencies).map_err(io::Error::other)?;
        }
        let elapsed = start.elapsed();
        Ok(LoadReport {
            requests,
            errors: shared.errors.load(Ordering::Relaxed),
            elapsed,
            p50: Duration::from_nanos(histogram.value_at_quantile(0.5)),
            p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
        })
    })
}

struct Shared {
    /// Requests claimed so far (for `Limit::Requests`).
    tickets: AtomicU64,
    stop: AtomicBool,
    errors: AtomicU64,
}

async fn connection(
    mut stream: tokio::net::TcpStream,
    batch: Arc<[u8]>,
    depth: u64,
    total: u64,
    deadline: Option<Instant>,
    shared: Arc<Shared>,
) -> (u64, Histogram<u64>) {
    let mut histogram = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut done = 0;
    loop {
        if shared.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let claimed = shared.tickets.fetch_add(depth, Ordering::Relaxed);
        if claimed >= total {
            break;
        }
        // The last batch may be partial, so the total is exact.
        let n = depth.min(total - claimed);
        let sent = Instant::now();
        let request = &batch[..batch.len() / depth as usize * n as usize];
        if stream.write_all(request).await.is_err() {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        match read_responses(&mut stream, &mut buf, n).await {
            Ok(()) => {
                done += n;
                let _ = histogram.record(sent.elapsed().as_nanos() as u64);
            }
            Err(_) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    (done, histogram)
}

/// Reads `n` `Content-Length` responses, all 2xx.
async fn read_responses(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, mut n: u64) -> io::Result<()> {
    while n > 0 {
        match parse_response(buf)? {
            Some(len) => {
                buf.drain(..len);
                n -= 1;
            }
            None => {
                let start = buf.len();
                buf.resize(start + 64 * 1024, 0);
                let read = stream.read(&mut buf[start..]).await?;
                buf.truncate(start + read);
                if read == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
    Ok(())
}

/// The length of the complete response at the start of `buf`, if it is all
/// there.
fn parse_response(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buf[..head_end];
    if !(head.starts_with(b"HTTP/1.1 2") || head.starts_with(b"HTTP/1.0 2")) {
        return Err(io::Error::other(format!(
            "not a 2xx answer: {:?}",
            String::from_utf8_lossy(&head[..head.len().min(40)])
        )));
    }
    let length = head
        .split(|&b| b == b'\n')
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
            name.eq_ignore_ascii_case(b"content-length")
                .then(|| {
                    std::str::from_utf8(&value[1..])
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .flatten()
        })
        .ok_or_else(|| io::Error::other("the load generator reads only Content-Length answers"))?;
    let total = head_end + 4 + length;
    Ok((buf.len() >= total).then_some(total))
}

/// Opens `n` keep-alive connections and makes one request on each, then
/// leaves them idle: standing connections. Blocking sockets: they only sit.
///
/// # Errors
///
/// When a connection cannot be opened or its request fails (typically the
/// open-file limit: see `ulimit -n`).
pub fn open_idle(addr: SocketAddr, n: usize, request: &[u8]) -> io::Result<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = TcpStream::connect(addr).map_err(|e| annotate(e, i, n))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(request)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(_len) = parse_response(&buf)? {
                break;
            }
            let read = stream.read(&mut chunk)?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before answering",
                ));
            }
            buf.extend_from_slice(&chunk[..read]);
        }
        conns.push(stream);
    }
    Ok(conns)
}

fn annotate(err: io::Error, opened: usize, wanted: usize) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("opening connection {} of {wanted}: {err}", opened + 1),
    )
}

/// How many of `conns` the server still holds open: a non-blocking read
/// that would block means open; end of stream or a reset means closed.
pub fn still_open(conns: &[TcpStream]) -> usize {
    conns
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).is_ok() && {
                let mut byte = [0u8; 1];
                let open = matches!((&**c).read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
                let _ = c.set_nonblocking(false);
                open
            }
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_responses() {
        let one = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_response(one).unwrap(), Some(one.len()));
        assert_eq!(parse_response(&one[..20]).unwrap(), None);
        assert_eq!(parse_response(&one[..one.len() - 1]).unwrap(), None);
        assert!(parse_response(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }
}
