//! The load generator: keep-alive HTTP/1.1 connections, each sending a
//! request (or a pipelined batch) and reading the answers, as fast as the
//! server allows; or ([`drive_fresh`]) a fresh connection for every
//! request. It runs on its own tokio runtime in the calling process (the
//! server is always another process), over plain TCP ([`Plain`]) or any
//! other [`Connector`] (TLS: `super::tls::Client`).
//!
//! It is deliberately minimal — it understands only `Content-Length`
//! responses — so that its own cost stays small and known: the runner
//! measures it against a no-parse responder and states it.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

/// When a load stops.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// After this many requests in all.
    Requests(u64),
    /// After this long.
    Time(Duration),
    /// After this many requests or this long, whichever comes first.
    Either(u64, Duration),
}

/// What load to drive.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Keep-alive connections, all busy at once (for [`drive_fresh`]:
    /// loops, each opening one connection after another).
    pub connections: usize,
    /// Requests written at once on a connection before reading the answers
    /// (1: no pipelining; [`drive_fresh`] takes only 1).
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

/// `GET /` asking the server to close the connection after its answer:
/// what each connection of [`drive_fresh`] sends.
pub const REQUEST_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

/// What a load achieved.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Responses read.
    pub requests: u64,
    /// Connections that failed (reset, closed, a non-2xx answer).
    pub errors: u64,
    /// From the first request to the last response.
    pub elapsed: Duration,
    /// Median time from writing a request (batch) to its last response
    /// (for [`drive_fresh`]: from connecting to the server's close).
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

/// How a load's connections are made: what runs on a connected socket
/// before the first request (nothing, or a TLS handshake).
pub trait Connector: Clone + Send + Sync + 'static {
    /// The stream requests go over.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Makes the stream from a connected socket.
    fn connect(&self, tcp: tokio::net::TcpStream) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Plain TCP: the socket is the stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Connector for Plain {
    type Stream = tokio::net::TcpStream;

    async fn connect(&self, tcp: tokio::net::TcpStream) -> io::Result<Self::Stream> {
        Ok(tcp)
    }
}

/// Drives `options` against `addr` over plain TCP (see [`drive_over`]).
///
/// # Errors
///
/// When the connections cannot be opened.
pub fn drive(addr: SocketAddr, options: &LoadOptions) -> io::Result<LoadReport> {
    drive_over(addr, options, &Plain)
}

/// Drives `options` against `addr` on keep-alive connections made by
/// `connector`. Connections are opened (TLS: handshaken) before the clock
/// starts.
///
/// # Errors
///
/// When the connections cannot be opened.
pub fn drive_over<C: Connector>(
    addr: SocketAddr,
    options: &LoadOptions,
    connector: &C,
) -> io::Result<LoadReport> {
    runtime(options.threads)?.block_on(async {
        let mut streams = Vec::with_capacity(options.connections);
        for i in 0..options.connections {
            let stream = open(addr, connector)
                .await
                .map_err(|e| annotate(e, i, options.connections))?;
            streams.push(stream);
        }
        let batch: Arc<[u8]> = options.request.repeat(options.depth).into();
        let plan = Plan::new(options.limit);
        let shared = Arc::new(Shared::default());
        let tasks = streams
            .into_iter()
            .map(|stream| {
                let shared = Arc::clone(&shared);
                let batch = Arc::clone(&batch);
                let depth = options.depth as u64;
                tokio::spawn(async move { connection(stream, batch, depth, plan, shared).await })
            })
            .collect();
        gather(tasks, &shared, plan.start).await
    })
}

/// Drives `options.connections` loops against `addr`, each opening a
/// connection with `connector` (with TLS: a handshake), sending
/// `options.request` on it (it should ask for `Connection: close`), reading
/// the answer and waiting for the server to close, then opening the next:
/// the rate of whole connections. A loop stops at its first failure.
/// Waiting for the server's close leaves the `TIME_WAIT` on its side, so a
/// long load does not use up the client's ephemeral ports.
///
/// # Errors
///
/// When `options.depth` is not 1, or the runtime cannot start.
pub fn drive_fresh<C: Connector>(
    addr: SocketAddr,
    options: &LoadOptions,
    connector: &C,
) -> io::Result<LoadReport> {
    if options.depth != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a load of fresh connections sends one request on each, not {}",
                options.depth
            ),
        ));
    }
    runtime(options.threads)?.block_on(async {
        let request: Arc<[u8]> = options.request.clone().into();
        let plan = Plan::new(options.limit);
        let shared = Arc::new(Shared::default());
        let tasks = (0..options.connections)
            .map(|_| {
                let (shared, request, connector) =
                    (Arc::clone(&shared), Arc::clone(&request), connector.clone());
                tokio::spawn(async move { fresh_connections(addr, connector, request, plan, shared).await })
            })
            .collect();
        gather(tasks, &shared, plan.start).await
    })
}

/// The longest a connect (with its TLS handshake), one batch (its writes
/// and its answers) or a fresh connection's whole exchange may take before
/// the connection counts as failed.
pub const STALL: Duration = Duration::from_secs(10);

fn runtime(threads: usize) -> io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Connects to `addr` and makes the stream, within [`STALL`].
async fn open<C: Connector>(addr: SocketAddr, connector: &C) -> io::Result<C::Stream> {
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        connector.connect(tcp).await
    };
    tokio::time::timeout(STALL, connect).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting to {addr} took over {STALL:?}"),
        )
    })?
}

/// When the load started, and when it stops.
#[derive(Clone, Copy, Debug)]
struct Plan {
    start: Instant,
    /// Requests in all (`u64::MAX`: no count limit).
    total: u64,
    deadline: Option<Instant>,
}

impl Plan {
    fn new(limit: Limit) -> Self {
        let start = Instant::now();
        let (total, time) = match limit {
            Limit::Requests(n) => (n, None),
            Limit::Time(t) => (u64::MAX, Some(t)),
            Limit::Either(n, t) => (n, Some(t)),
        };
        Plan {
            start,
            total,
            deadline: time.map(|t| start + t),
        }
    }
}

/// What every connection of a load shares.
#[derive(Default)]
struct Shared {
    /// Requests claimed so far (for the count limit).
    tickets: AtomicU64,
    errors: AtomicU64,
}

impl Shared {
    /// Claims up to `want` more requests: how many (at least one), or
    /// `None` when the load is over.
    fn claim(&self, plan: &Plan, want: u64) -> Option<u64> {
        if plan.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let claimed = self.tickets.fetch_add(want, Ordering::Relaxed);
        // The last batch may be partial, so the total is exact.
        (claimed < plan.total).then(|| want.min(plan.total - claimed))
    }

    fn failed(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits for every connection's task and adds up their answers and
/// latencies.
async fn gather(
    tasks: Vec<JoinHandle<(u64, Histogram<u64>)>>,
    shared: &Shared,
    start: Instant,
) -> io::Result<LoadReport> {
    let mut histogram = new_histogram();
    let mut requests = 0;
    for task in tasks {
        let (done, latencies) = task.await.map_err(io::Error::other)?;
        requests += done;
        histogram.add(latencies).map_err(io::Error::other)?;
    }
    Ok(LoadReport {
        requests,
        errors: shared.errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        p50: Duration::from_nanos(histogram.value_at_quantile(0.5)),
        p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
    })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("3 significant digits is valid")
}

/// Bounds `exchange` by [`STALL`]: a server that stalls fails the
/// connection instead of hanging the load.
async fn bounded<T>(exchange: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(STALL, exchange)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    batch: Arc<[u8]>,
    depth: u64,
    plan: Plan,
    shared: Arc<Shared>,
) -> (u64, Histogram<u64>) {
    let mut histogram = new_histogram();
    let mut buf = ReadBuf::new();
    let mut done = 0;
    while let Some(n) = shared.claim(&plan, depth) {
        let sent = Instant::now();
        let request = &batch[..batch.len() / depth as usize * n as usize];
        let exchange = async {
            stream.write_all(request).await?;
            read_responses(&mut stream, &mut buf, n).await
        };
        if bounded(exchange).await.is_err() {
            shared.failed();
            break;
        }
        done += n;
        let _ = histogram.record(sent.elapsed().as_nanos() as u64);
    }
    (done, histogram)
}

/// One loop of [`drive_fresh`].
async fn fresh_connections<C: Connector>(
    addr: SocketAddr,
    connector: C,
    request: Arc<[u8]>,
    plan: Plan,
    shared: Arc<Shared>,
) -> (u64, Histogram<u64>) {
    let mut histogram = new_histogram();
    let mut buf = ReadBuf::new();
    let mut done = 0;
    while shared.claim(&plan, 1).is_some() {
        let started = Instant::now();
        let exchange = async {
            let mut stream = open(addr, &connector).await?;
            stream.write_all(&request).await?;
            read_responses(&mut stream, &mut buf, 1).await?;
            closed_by_server(&mut stream, &mut buf).await
        };
        if bounded(exchange).await.is_err() {
            shared.failed();
            break;
        }
        done += 1;
        let _ = histogram.record(started.elapsed().as_nanos() as u64);
    }
    (done, histogram)
}

/// Waits for the server to close `stream` after its answer: end of stream,
/// or (TLS without `close_notify`) an unexpected end.
async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S, rb: &mut ReadBuf) -> io::Result<()> {
    if rb.start != rb.end {
        return Err(io::Error::other("bytes after the answer"));
    }
    match stream.read(&mut rb.buf).await {
        Ok(0) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        Ok(_) => Err(io::Error::other("bytes after the answer")),
        Err(e) => Err(e),
    }
}

/// A connection's receive buffer: allocated once, read into at `end`,
/// answers taken from `start`; compacted only when full.
struct ReadBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> Self {
        ReadBuf {
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

/// Reads `n` `Content-Length` responses, all 2xx.
async fn read_responses<S: AsyncRead + Unpin>(
    stream: &mut S,
    rb: &mut ReadBuf,
    mut n: u64,
) -> io::Result<()> {
    while n > 0 {
        match parse_response(&rb.buf[rb.start..rb.end])? {
            Some(len) => {
                rb.start += len;
                if rb.start == rb.end {
                    (rb.start, rb.end) = (0, 0);
                }
                n -= 1;
            }
            None => {
                if rb.end == rb.buf.len() {
                    if rb.start == 0 {
                        return Err(io::Error::other("an answer larger than 64 KiB"));
                    }
                    rb.buf.copy_within(rb.start..rb.end, 0);
                    (rb.start, rb.end) = (0, rb.end - rb.start);
                }
                let read = stream.read(&mut rb.buf[rb.end..]).await?;
                if read == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                rb.end += read;
            }
        }
    }
    Ok(())
}

/// Where the head at the start of `buf` ends (the index of its `\r\n\r\n`).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 3;
    while i < buf.len() {
        match buf[i] {
            b'\n' if buf[i - 1] == b'\r' && buf[i - 2] == b'\n' && buf[i - 3] == b'\r' => return Some(i - 3),
            b'\r' | b'\n' => i += 1,
            // A terminator ending at i..=i+3 would contain this byte.
            _ => i += 4,
        }
    }
    None
}

/// The length of the complete response at the start of `buf`, if it is all
/// there.
pub(crate) fn parse_response(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = head_end(buf) else {
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
        .skip(1)
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let name = line.get(..15)?;
            if !name.eq_ignore_ascii_case(b"content-length:") {
                return None;
            }
            line[15..]
                .iter()
                .filter(|b| !b.is_ascii_whitespace())
                .try_fold(0usize, |n, &b| {
                    b.is_ascii_digit()
                        .then(|| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))
                        .flatten()
                })
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
    let mut standing = Standing::new(addr, request.to_vec());
    standing.open(n)?;
    Ok(standing.conns)
}

fn annotate(err: io::Error, opened: usize, wanted: usize) -> io::Error {
    let hint = if err.raw_os_error() == Some(24) {
        " (the open-file limit, RLIMIT_NOFILE: see `ulimit -n`)"
    } else {
        ""
    };
    io::Error::new(
        err.kind(),
        format!("opening connection {} of {wanted}: {err}{hint}", opened + 1),
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

/// Standing keep-alive connections, each of which has completed a request:
/// what `rwsgi bench hold` keeps and what the `standing` bench times. The
/// sockets are blocking (with [`STALL`] as their read and write timeout), so
/// holding them costs nothing but the descriptors, and a round of requests
/// is one write to each, then one read from each.
pub struct Standing {
    addr: SocketAddr,
    request: Vec<u8>,
    conns: Vec<TcpStream>,
    buf: Vec<u8>,
}

/// Connections opened at once before their answers are read.
const OPEN_BATCH: usize = 256;

impl Standing {
    /// None yet, to `addr`; `request` is what each connection sends.
    pub fn new(addr: SocketAddr, request: Vec<u8>) -> Self {
        Standing {
            addr,
            request,
            conns: Vec::new(),
            buf: Vec::with_capacity(4096),
        }
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Opens `n` more, each completing one request before this returns.
    ///
    /// # Errors
    ///
    /// When a connection cannot be opened or its request fails; the
    /// connections opened before it stay held.
    pub fn open(&mut self, n: usize) -> io::Result<()> {
        let wanted = self.conns.len() + n;
        while self.conns.len() < wanted {
            let batch = OPEN_BATCH.min(wanted - self.conns.len());
            let mut fresh = Vec::with_capacity(batch);
            for _ in 0..batch {
                let opened = self.conns.len() + fresh.len();
                let stream =
                    TcpStream::connect_timeout(&self.addr, STALL).map_err(|e| annotate(e, opened, wanted))?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(STALL))?;
                stream.set_write_timeout(Some(STALL))?;
                (&stream)
                    .write_all(&self.request)
                    .map_err(|e| annotate(e, opened, wanted))?;
                fresh.push(stream);
            }
            for (i, stream) in fresh.iter().enumerate() {
                read_one(stream, &mut self.buf).map_err(|e| annotate(e, self.conns.len() + i, wanted))?;
            }
            self.conns.extend(fresh);
        }
        Ok(())
    }

    /// One request on every connection: written to all, then every answer
    /// read. Returns how many connections failed; they are dropped.
    pub fn round(&mut self) -> usize {
        let mut failed = vec![false; self.conns.len()];
        for (stream, failed) in self.conns.iter().zip(&mut failed) {
            *failed = (&*stream).write_all(&self.request).is_err();
        }
        for (stream, failed) in self.conns.iter().zip(&mut failed) {
            if !*failed {
                *failed = read_one(stream, &mut self.buf).is_err();
            }
        }
        let errors = failed.iter().filter(|f| **f).count();
        if errors > 0 {
            let mut failed = failed.into_iter();
            self.conns.retain(|_| !failed.next().unwrap_or(true));
        }
        errors
    }

    /// How many the server still holds open (see [`still_open`]).
    pub fn still_open(&self) -> usize {
        still_open(&self.conns)
    }
}

/// Reads exactly one `Content-Length` answer from `stream` (which has one
/// request outstanding).
fn read_one(mut stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(len) = parse_response(buf)? {
            if len != buf.len() {
                return Err(io::Error::other("more bytes than one answer"));
            }
            return Ok(());
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
}

/// What the tests of the loads run against.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A responder on 127.0.0.1, on a thread of its own: answers each
    /// request with demo:hello's bytes, and closes after a `Connection:
    /// close` one. `wrap` makes each accepted socket's stream (a TLS
    /// handshake, say; `None` drops the connection).
    pub(crate) fn responder<S, F>(wrap: impl Fn(tokio::net::TcpStream) -> F + Send + 'static) -> SocketAddr
    where
        F: Future<Output = Option<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let addr = listener.local_addr().expect("its address");
        std::thread::spawn(move || {
            let runtime = runtime(1).expect("a runtime");
            runtime.block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                while let Ok((tcp, _)) = listener.accept().await {
                    let stream = wrap(tcp);
                    tokio::spawn(async move {
                        if let Some(stream) = stream.await {
                            answer(stream).await;
                        }
                    });
                }
            });
        });
        addr
    }

    async fn answer(mut stream: impl AsyncRead + AsyncWrite + Unpin) {
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            request.extend_from_slice(&chunk[..n]);
            while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = request.drain(..end + 4).collect();
                if stream.write_all(super::super::control::ANSWER).await.is_err() {
                    return;
                }
                if head
                    .windows(17)
                    .any(|w| w.eq_ignore_ascii_case(b"connection: close"))
                {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::control;
    use super::*;

    fn fresh(connections: usize, limit: Limit) -> LoadOptions {
        let mut options = LoadOptions::hello(connections, limit);
        options.request = REQUEST_CLOSE.to_vec();
        options
    }

    #[test]
    fn loads_stop_at_their_count_or_their_time() {
        let addr = testing::responder(|tcp| async { Some(tcp) });
        let keep_alive = drive(addr, &LoadOptions::hello(4, Limit::Requests(203))).unwrap();
        assert_eq!((keep_alive.requests, keep_alive.errors), (203, 0));
        let report = drive_fresh(
            addr,
            &fresh(4, Limit::Either(50, Duration::from_secs(60))),
            &Plain,
        )
        .unwrap();
        assert_eq!((report.requests, report.errors), (50, 0));
        let timed = drive_fresh(
            addr,
            &fresh(2, Limit::Either(u64::MAX, Duration::from_millis(200))),
            &Plain,
        )
        .unwrap();
        assert!(timed.requests > 0 && timed.errors == 0, "{timed:?}");
        assert!(
            timed.elapsed >= Duration::from_millis(200) && timed.elapsed < Duration::from_secs(5),
            "{timed:?}"
        );
        let mut pipelined = fresh(1, Limit::Requests(1));
        pipelined.depth = 2;
        let refused = drive_fresh(addr, &pipelined, &Plain).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
    }

    /// A server that sends more than the answer, or closes before it,
    /// fails the loop, which stops.
    #[test]
    fn a_fresh_connection_fails_on_a_bad_close() {
        for reply in [
            [control::ANSWER, control::ANSWER].concat(),
            control::ANSWER[..20].to_vec(),
        ] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                for stream in listener.incoming().take(1) {
                    let mut stream = stream.unwrap();
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(&reply);
                }
            });
            let report = drive_fresh(addr, &fresh(1, Limit::Requests(3)), &Plain).unwrap();
            assert_eq!((report.requests, report.errors), (0, 1));
        }
    }

    #[test]
    fn parses_content_length_responses() {
        let one = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_response(one).unwrap(), Some(one.len()));
        assert_eq!(parse_response(&one[..20]).unwrap(), None);
        assert_eq!(parse_response(&one[..one.len() - 1]).unwrap(), None);
        assert!(parse_response(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        let two = [
            &one[..],
            &b"HTTP/1.0 204 No Content\r\nServer: x\r\nContent-Length:  0 \r\n\r\n"[..],
        ]
        .concat();
        assert_eq!(parse_response(&two).unwrap(), Some(one.len()));
        assert_eq!(
            parse_response(&two[one.len()..]).unwrap(),
            Some(two.len() - one.len())
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: x1\r\n\r\n").is_err());
        // Every split point of a head is found only once it is whole.
        for cut in 0..one.len() {
            assert_eq!(head_end(&one[..cut]), (cut >= 38).then_some(34), "{cut}");
        }
        assert_eq!(head_end(b"\r\n\r\n"), Some(0));
        assert_eq!(head_end(b"a\r\r\n\r\n"), Some(2));
    }
}
