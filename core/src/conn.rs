//! What happens to a connection's bytes below any engine: the request
//! stream is checked by the [scanner](crate::wire), and the keep-alive,
//! header-read and write timeouts are enforced — the same way whichever
//! engine then parses the bytes.
//!
//! hyper has one timeout for "waiting for a head", async-h1 none, neither
//! answers a slow head with 408, and their parsers differ from each other
//! and from the [error table](crate::request_error). So each backend wraps
//! its streams in an IO wrapper (one per IO trait family: [`CheckedIo`] for
//! `futures-io`, a tokio one in rwsgi-tokio) that runs every read and write
//! through a [`ConnIo`], and the engine tells the shared [`ConnWatch`] when
//! a request starts and when its response is done.
//!
//! | phase | a pending read waits until | then |
//! |---|---|---|
//! | fresh (just accepted) | accept + `header_read_timeout` | close (408 if bytes came) |
//! | idle (between requests) | response end + `keep_alive` | close quietly |
//! | head (bytes of a new request came) | first byte + `header_read_timeout` | 408, close |
//! | busy (request being served) | no limit (the body has its own) | — |
//!
//! A write that makes no progress for `write_timeout` fails, which ends the
//! connection: a client that stops reading is cut.
//!
//! An engine never sees part of a head: bytes of a head that has not ended
//! are held back (in a buffer that exists only while a head is split
//! across reads) and handed over once the scanner has accepted the whole
//! head. A bad head is never handed over at all: reads stall until every
//! earlier (pipelined) response has been written and flushed, then the
//! table's answer is written and the read fails. A bad body fails the
//! engine's read with the [`RequestError`] inside the `io::Error`, so that
//! the gateway answers it by the table.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use crate::request_error::RequestError;
use crate::server::Config;
use crate::timer::{Sleep, Timer};
use crate::wire::{Event, Limits, RequestScanner};

const FRESH: u8 = 0;
const IDLE: u8 = 1;
const HEAD: u8 = 2;
const BUSY: u8 = 3;

/// What to do when a read has waited too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Close quietly: report end-of-stream to the engine.
    Close,
    /// Answer 408 (the error table's), then fail the read.
    RequestTimeout,
}

/// The timing state of one connection, shared by its IO wrapper and its
/// engine.
#[derive(Debug)]
pub struct ConnWatch {
    phase: AtomicU8,
    /// When the current phase began, in nanoseconds after `base`.
    since: AtomicU64,
    base: Instant,
    responses: AtomicU64,
    keep_alive: Duration,
    header_read: Option<Duration>,
}

impl ConnWatch {
    /// A watch for a connection accepted now.
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(ConnWatch {
            phase: AtomicU8::new(FRESH),
            since: AtomicU64::new(0),
            base: Instant::now(),
            responses: AtomicU64::new(0),
            keep_alive: config.keep_alive,
            header_read: config.header_read_timeout,
        })
    }

    /// Whether no byte has arrived on the connection yet. A graceful
    /// shutdown must not close such a connection: its client may have
    /// sent a request that is still on its way (it was accepted, so the
    /// client is owed an answer).
    pub fn is_fresh(&self) -> bool {
        self.phase.load(Ordering::Acquire) == FRESH
    }

    /// Whether the connection waits between requests with nothing of the
    /// next one received: the only state a graceful shutdown closes at
    /// once.
    pub fn is_idle(&self) -> bool {
        self.phase.load(Ordering::Acquire) == IDLE
    }

    /// The engine parsed a head and hands the request to the gateway.
    pub fn request_started(&self) {
        self.phase.store(BUSY, Ordering::Release);
    }

    /// The engine finished a response; the connection waits for the next
    /// request.
    pub fn response_finished(&self) {
        self.responses.fetch_add(1, Ordering::AcqRel);
        self.set(IDLE);
    }

    /// Bytes of a request arrived.
    pub fn bytes_received(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set(HEAD);
        } else {
            let _ = self
                .phase
                .compare_exchange(FRESH, HEAD, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// How long a pending read may wait now, and what happens then; `None`
    /// while a request is being served.
    pub fn read_deadline(&self) -> Option<(Instant, Expiry)> {
        let since = self.base + Duration::from_nanos(self.since.load(Ordering::Acquire));
        match self.phase.load(Ordering::Acquire) {
            FRESH => Some((since + self.header_read?, Expiry::Close)),
            IDLE => Some((since + self.keep_alive, Expiry::Close)),
            HEAD => Some((since + self.header_read?, Expiry::RequestTimeout)),
            _ => None,
        }
    }

    /// How long the read alarm may sleep while a request is being served:
    /// every later deadline starts after it is set, so firing that soon is
    /// never too late.
    fn shortest_timeout(&self) -> Duration {
        let shortest = self
            .header_read
            .map_or(self.keep_alive, |h| h.min(self.keep_alive));
        if shortest.is_zero() {
            Duration::from_secs(1)
        } else {
            shortest
        }
    }

    fn set(&self, phase: u8) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.since.store(nanos, Ordering::Release);
        self.phase.store(phase, Ordering::Release);
    }
}

/// An `io::Error` that carries a [`RequestError`]; the gateway finds it
/// again with [`RequestError::from_io`].
pub fn request_failed(err: RequestError) -> io::Error {
    let kind = match err {
        RequestError::HeaderReadTimeout => io::ErrorKind::TimedOut,
        RequestError::TruncatedBody | RequestError::IncompleteHead => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, err)
}

/// One re-armable deadline, its sleep allocated once per connection.
#[derive(Default)]
pub struct Deadline {
    sleep: Option<Pin<Box<dyn Sleep>>>,
    at: Option<Instant>,
    /// The sleep for `at` has completed: some timers (async-io's) complete
    /// only once, so a passed deadline is remembered rather than re-polled.
    fired: bool,
}

impl Deadline {
    /// Ready once `at` has passed.
    pub fn poll(&mut self, timer: &dyn Timer, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if self.at != Some(at) {
            self.at = Some(at);
            self.fired = false;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(at),
                None => self.sleep = Some(timer.sleep_until(at)),
            }
        }
        if self.fired {
            return Poll::Ready(());
        }
        match &mut self.sleep {
            Some(sleep) => {
                ready!(sleep.as_mut().poll(cx));
                self.fired = true;
                Poll::Ready(())
            }
            None => Poll::Pending,
        }
    }

    /// Ready once `timeout` has passed since the first call after the last
    /// [`clear`](Deadline::clear).
    pub fn poll_after(&mut self, timer: &dyn Timer, timeout: Duration, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at.unwrap_or_else(|| Instant::now() + timeout);
        self.poll(timer, at, cx)
    }

    /// Disarms it (progress was made).
    pub fn clear(&mut self) {
        self.at = None;
        self.fired = false;
    }

    /// Whether it is armed.
    pub fn is_armed(&self) -> bool {
        self.at.is_some()
    }
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("at", &self.at)
            .field("fired", &self.fired)
            .finish()
    }
}

/// The read-side alarm of a connection: armed once and only ever early.
/// When it goes off, the [`ConnWatch`]'s phase says whether a deadline has
/// really passed; if not, it is moved on. So serving requests touches no
/// timer: every deadline starts after the alarm was set, and the alarm is at
/// most the shortest timeout away.
#[derive(Debug, Default)]
pub struct ReadAlarm(Deadline);

impl ReadAlarm {
    /// Ready with what to do once a pending read has waited past its
    /// deadline; pending (with the waker registered) until then.
    pub fn poll_expired(
        &mut self,
        watch: &ConnWatch,
        timer: &dyn Timer,
        cx: &mut Context<'_>,
    ) -> Poll<Expiry> {
        loop {
            // Armed for a later deadline than the phase now has (armed
            // while fresh, for `header_read_timeout`, and the connection is
            // now idle with a shorter `keep_alive`): move it earlier.
            let wanted = alarm(watch);
            if self.0.at.is_none_or(|at| wanted < at) {
                let _ = self.0.poll(timer, wanted, cx);
            }
            let at = self.0.at.expect("armed just above");
            ready!(self.0.poll(timer, at, cx));
            match watch.read_deadline() {
                Some((deadline, expiry)) if deadline <= Instant::now() => {
                    self.0.clear();
                    return Poll::Ready(expiry);
                }
                _ => {
                    let _ = self.0.poll(timer, alarm(watch), cx);
                }
            }
        }
    }
}

/// When the read alarm should go off next: the phase's deadline, or while
/// busy the shortest timeout from now.
fn alarm(watch: &ConnWatch) -> Instant {
    match watch.read_deadline() {
        Some((at, _)) => at,
        None => Instant::now() + watch.shortest_timeout(),
    }
}

/// Closing a connection: shut down the sending side and, when the client
/// may still be sending, read and drop what it sends until it closes too —
/// for at most 2 s and 256 KiB. Closing with unread input makes the kernel
/// send a reset, which can destroy the last response before the client has
/// read it (nginx's "lingering close").
#[derive(Debug, Default)]
pub struct Closer {
    state: Option<Close>,
    wait: Deadline,
}

impl Closer {
    /// Drives the close; `linger` says whether unread input is possible.
    pub fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut dyn RawIo,
        timer: &dyn Timer,
        linger: bool,
    ) -> Poll<io::Result<()>> {
        loop {
            match self.state.get_or_insert(Close::ShuttingDown) {
                Close::ShuttingDown => {
                    let result = ready!(io.poll_shutdown(cx));
                    self.state = Some(if result.is_ok() && linger {
                        Close::Lingering { discarded: 0 }
                    } else {
                        Close::Done
                    });
                    result?;
                }
                Close::Lingering { discarded } => {
                    let mut sink = [0u8; 4096];
                    match io.poll_read(cx, &mut sink) {
                        Poll::Ready(Ok(n)) if n > 0 && *discarded + n < LINGER_BYTES => *discarded += n,
                        Poll::Ready(_) => self.state = Some(Close::Done),
                        Poll::Pending => {
                            if self.wait.poll_after(timer, LINGER_TIME, cx).is_pending() {
                                return Poll::Pending;
                            }
                            self.state = Some(Close::Done);
                        }
                    }
                }
                Close::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// What becomes of scanned bytes that are not handed over now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rest {
    /// The start of a head still open: held until it ends.
    Hold,
    /// A refused request, or bytes after a closing one: never delivered.
    Drop,
}

/// A refusal waiting to be delivered.
#[derive(Debug)]
enum Refusal {
    /// A bad or late head: answer per the table once earlier responses are
    /// out, then fail reads.
    Head { err: RequestError, stage: Stage },
    /// A bad body: fail reads with it.
    Body(RequestError),
}

/// How far the answer to a refused head has got.
#[derive(Debug)]
enum Stage {
    /// Writing the answer; this much is out.
    Writing(usize),
    /// The answer is out; closing.
    Closing,
}

/// How far a close has got.
#[derive(Clone, Copy, Debug)]
enum Close {
    /// The sending side is being shut down.
    ShuttingDown,
    /// Reading and dropping what the client still sends: closing with
    /// unread input makes the kernel send a reset, which can destroy the
    /// last response before the client has read it (nginx's "lingering
    /// close").
    Lingering {
        discarded: usize,
    },
    Done,
}

/// What a lingering close reads at most, and for how long.
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// The socket under a wrapper, for the answers the policy writes itself.
pub trait RawIo {
    /// Writes to the socket.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Shuts down the sending side.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Reads from the socket.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
}

/// The per-connection IO policy every wrapper applies: the scanner, the
/// timeouts, the held-back head bytes and the answers to refused heads.
///
/// A wrapper's read does, in a loop: hand over
/// [`ready_bytes`](Self::ready_bytes) if there are any; else
/// [`poll_refusal`](Self::poll_refusal); else read from the socket into the
/// engine's buffer and keep only the first [`inspect`](Self::inspect) bytes
/// (0: go round again); on a pending read or end of stream, ask
/// [`after_read`](Self::after_read). Every write's result goes through
/// [`after_write`](Self::after_write).
pub struct ConnIo {
    watch: Arc<ConnWatch>,
    timer: Arc<dyn Timer>,
    scanner: RequestScanner,
    read: ReadAlarm,
    write: Deadline,
    write_timeout: Option<Duration>,
    /// Heads accepted by the scanner.
    heads: u64,
    /// Bytes read but not handed over: `held[..ready]` may go now,
    /// `held[ready..]` is a head that has not ended.
    held: Vec<u8>,
    ready: usize,
    /// Whether everything written has been flushed.
    flushed: bool,
    refusal: Option<Refusal>,
    read_waker: Option<Waker>,
    closer: Closer,
}

impl ConnIo {
    /// The policy for a connection watched by `watch`.
    pub fn new(watch: Arc<ConnWatch>, timer: Arc<dyn Timer>, config: &Config) -> Self {
        ConnIo {
            write_timeout: config.write_timeout,
            scanner: RequestScanner::new(Limits::from(config)),
            watch,
            timer,
            read: ReadAlarm::default(),
            write: Deadline::default(),
            heads: 0,
            held: Vec::new(),
            ready: 0,
            flushed: true,
            refusal: None,
            read_waker: None,
            closer: Closer::default(),
        }
    }

    /// Held-back bytes that may now go to the engine, at most `room`;
    /// report what was taken with [`consumed`](Self::consumed).
    pub fn ready_bytes(&self, room: usize) -> &[u8] {
        &self.held[..self.ready.min(room)]
    }

    /// The engine took `n` of the [`ready_bytes`](Self::ready_bytes).
    pub fn consumed(&mut self, n: usize) {
        self.held.drain(..n);
        self.ready -= n;
        if self.held.is_empty() {
            // Idle connections hold no buffer.
            self.held = Vec::new();
        }
    }

    /// Checks bytes just read into the engine's buffer; returns how many of
    /// them, from the front, stay there. The rest are held back (the start
    /// of a head that has not ended) or dropped (a refused request). On 0
    /// the wrapper goes round its loop again; it never reports end of
    /// stream for it.
    pub fn inspect(&mut self, data: &[u8]) -> usize {
        if !data.is_empty() {
            self.watch.bytes_received();
        }
        if self.held.is_empty() {
            let (deliver, rest) = self.scan(data, None);
            if rest == Rest::Hold {
                self.held.extend_from_slice(&data[deliver..]);
            }
            return deliver;
        }
        // A head is open: the new bytes go behind it.
        let from = self.held.len();
        self.held.extend_from_slice(data);
        let held = std::mem::take(&mut self.held);
        let (deliver, rest) = self.scan(&held[from..], Some(0));
        self.held = held;
        // `deliver` counts from `from` unless the open head is still open
        // (or was refused), in which case it is the head's start: 0.
        let deliver = if deliver == 0 { 0 } else { from + deliver };
        if rest == Rest::Drop {
            self.held.truncate(deliver);
        }
        self.ready = deliver;
        0
    }

    /// Runs the scanner over `bytes`; returns how many of them may be handed
    /// over (up to the start of a head still open, or of a refused head, or
    /// to the first bad body byte, or to the end of a closing request), and
    /// what becomes of the rest. `open` is where a head already open before
    /// `bytes` began (`Some(0)`).
    fn scan(&mut self, bytes: &[u8], mut open: Option<usize>) -> (usize, Rest) {
        let mut at = 0;
        while at < bytes.len() {
            if self.scanner.is_closed() {
                // Bytes after a request that closes the connection are
                // never a request: no engine sees them.
                return (at, Rest::Drop);
            }
            if self.scanner.at_message_start() {
                open = Some(at);
            }
            match self.scanner.scan(&bytes[at..]) {
                Ok((used, event)) => {
                    at += used;
                    if event == Some(Event::HeadEnd) {
                        self.heads += 1;
                        open = None;
                    }
                }
                Err((offset, err)) => {
                    if self.scanner.in_head() || self.scanner.at_message_start() {
                        self.refusal = Some(Refusal::Head {
                            err,
                            stage: Stage::Writing(0),
                        });
                        return (open.unwrap_or(at + offset), Rest::Drop);
                    }
                    self.refusal = Some(Refusal::Body(err));
                    return (at + offset, Rest::Drop);
                }
            }
        }
        (open.unwrap_or(bytes.len()), Rest::Hold)
    }

    /// With nothing ready to hand over: `Ready(Ok(()))` to read from the
    /// socket, `Pending` while a refusal waits for earlier responses to be
    /// written (or lingers), `Ready(Err)` once it has been answered.
    pub fn poll_refusal(&mut self, cx: &mut Context<'_>, io: &mut dyn RawIo) -> Poll<io::Result<()>> {
        let (err, stage) = match &mut self.refusal {
            None => return Poll::Ready(Ok(())),
            Some(Refusal::Body(err)) => return Poll::Ready(Err(request_failed(err.clone()))),
            Some(Refusal::Head { err, stage }) => (err, stage),
        };
        if matches!(stage, Stage::Writing(0)) {
            let answered = self.watch.responses.load(Ordering::Acquire) >= self.heads;
            if !answered || !self.flushed {
                // Earlier responses are still on their way out; their
                // flush wakes this read again.
                self.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        if let Stage::Writing(written) = stage {
            let bytes = err.outcome().response_bytes();
            while *written < bytes.len() {
                match io.poll_write(cx, &bytes[*written..]) {
                    Poll::Ready(Ok(n)) if n > 0 => *written += n,
                    Poll::Ready(_) => break,
                    Poll::Pending => {
                        if let Some(timeout) = self.write_timeout {
                            if self.write.poll_after(&*self.timer, timeout, cx).is_ready() {
                                break;
                            }
                        }
                        return Poll::Pending;
                    }
                }
            }
            *stage = Stage::Closing;
        }
        let err = err.clone();
        let _ = ready!(self.poll_close(cx, io));
        Poll::Ready(Err(request_failed(err)))
    }

    /// Closes the connection: shuts down the sending side, and — when the
    /// client may still be sending (a refused request, a body not read to
    /// its end) — reads and drops what it sends until it closes too, for at
    /// most 2 s and 256 KiB. The wrappers' shutdown goes through here. An
    /// idle connection closes at once.
    pub fn poll_close(&mut self, cx: &mut Context<'_>, io: &mut dyn RawIo) -> Poll<io::Result<()>> {
        let linger = self.refusal.is_some() || !self.scanner.at_message_start();
        self.closer.poll_close(cx, io, &*self.timer, linger)
    }

    /// After a read that brought nothing (`eof`: the socket ended; else it
    /// is pending): `Pending` keeps waiting; `Ready(true)` reports end of
    /// stream; `Ready(false)` means a refusal was recorded (a late head) and
    /// the wrapper goes round its loop.
    pub fn after_read(&mut self, eof: bool, cx: &mut Context<'_>) -> Poll<bool> {
        if eof {
            // A head cut short is dropped: the engine sees the stream end
            // between messages.
            self.held.truncate(self.ready);
            return Poll::Ready(true);
        }
        match ready!(self.read.poll_expired(&self.watch, &*self.timer, cx)) {
            Expiry::Close => Poll::Ready(true),
            Expiry::RequestTimeout => {
                self.held.truncate(self.ready);
                self.refusal = Some(Refusal::Head {
                    err: RequestError::HeaderReadTimeout,
                    stage: Stage::Writing(0),
                });
                Poll::Ready(false)
            }
        }
    }

    /// After a write (`flush`: a flush or a shutdown): tracks whether all is
    /// flushed (a refusal waits for it) and the write timeout.
    pub fn after_write<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        flush: bool,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(result) => {
                self.write.clear();
                if result.is_ok() {
                    self.flushed = flush;
                    if flush {
                        if let Some(waker) = self.read_waker.take() {
                            waker.wake();
                        }
                    }
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !flush {
                    self.flushed = false;
                }
                let Some(timeout) = self.write_timeout else {
                    return Poll::Pending;
                };
                ready!(self.write.poll_after(&*self.timer, timeout, cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "writing the response timed out",
                )))
            }
        }
    }
}

/// A `futures-io` stream with its bytes checked and its timeouts applied
/// (see the [module docs](self)).
pub struct CheckedIo<T> {
    inner: T,
    policy: ConnIo,
}

impl<T> CheckedIo<T> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: T, policy: ConnIo) -> Self {
        CheckedIo { inner, policy }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> futures_io::AsyncRead for CheckedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            let ready = this.policy.ready_bytes(buf.len());
            if !ready.is_empty() {
                let n = ready.len();
                buf[..n].copy_from_slice(ready);
                this.policy.consumed(n);
                return Poll::Ready(Ok(n));
            }
            ready!(this.policy.poll_refusal(cx, &mut Raw(&mut this.inner)))?;
            let eof = match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(0)) => true,
                Poll::Ready(Ok(n)) => match this.policy.inspect(&buf[..n]) {
                    0 => continue,
                    keep => return Poll::Ready(Ok(keep)),
                },
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => false,
            };
            if ready!(this.policy.after_read(eof, cx)) {
                return Poll::Ready(Ok(0));
            }
        }
    }
}

/// A `futures-io` stream as [`RawIo`].
struct Raw<'a, T>(&'a mut T);

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> RawIo for Raw<'_, T> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_close(cx)
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for CheckedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.policy.after_write(result, false, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.policy.after_write(result, false, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.policy.after_write(result, true, cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = this.policy.poll_close(cx, &mut Raw(&mut this.inner));
        this.policy.after_write(result, true, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_and_deadlines() {
        let mut config = Config::default();
        config.keep_alive = Duration::from_secs(5);
        config.header_read_timeout = Some(Duration::from_secs(30));
        let watch = ConnWatch::new(&config);
        let (at, expiry) = watch.read_deadline().unwrap();
        assert_eq!(expiry, Expiry::Close);
        assert!(at > Instant::now() + Duration::from_secs(25));
        watch.bytes_received();
        assert_eq!(watch.read_deadline().unwrap().1, Expiry::RequestTimeout);
        watch.request_started();
        assert!(watch.read_deadline().is_none());
        watch.response_finished();
        let (at, expiry) = watch.read_deadline().unwrap();
        assert_eq!(expiry, Expiry::Close);
        assert!(at < Instant::now() + Duration::from_secs(6));
        watch.bytes_received();
        assert_eq!(watch.read_deadline().unwrap().1, Expiry::RequestTimeout);
    }

    #[test]
    fn an_alarm_armed_while_fresh_moves_to_a_shorter_keep_alive() {
        let mut config = Config::default();
        config.keep_alive = Duration::from_millis(50);
        config.header_read_timeout = Some(Duration::from_secs(30));
        let watch = ConnWatch::new(&config);
        let timer = crate::ThreadTimer;
        let mut alarm = ReadAlarm::default();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        // The first read waits before any byte came: armed for 30 s.
        assert!(alarm.poll_expired(&watch, &timer, &mut cx).is_pending());
        watch.bytes_received();
        watch.request_started();
        watch.response_finished();
        // Idle now: the keep-alive (50 ms) decides, not the 30 s.
        let started = Instant::now();
        let expiry =
            futures_lite::future::block_on(std::future::poll_fn(|cx| alarm.poll_expired(&watch, &timer, cx)));
        assert_eq!(expiry, Expiry::Close);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
