//! The stream async-h1 reads: one message at a time, each head replaced by
//! one async-h1 can take.
//!
//! async-h1's `decode` wraps the stream in a fresh `BufReader` for every
//! request and drops it afterwards, so bytes it read ahead — the next
//! pipelined request — would be lost; it refuses HTTP/1.0, requests without
//! `Host`, methods `http-types` does not list, non-ASCII field values, heads
//! over 8 KiB and more than 128 fields; it frames only a body whose
//! `Transfer-Encoding` is exactly `chunked` (so `gzip, chunked` would be
//! read as the next request); its chunked decoder refuses chunk extensions
//! and hangs when a trailer section arrives in pieces; and its
//! `100 Continue` is written from a task spawned on async-global-executor,
//! off the backend's threads.
//!
//! So [`H1Io`] sits between [`CheckedIo`](rwsgi_core::conn::CheckedIo) and
//! async-h1. It keeps each head for the adapter ([`head::parse`]), and
//! hands async-h1 instead a head that carries only the framing; it never
//! hands over a byte past the end of the current message; it drops chunk
//! extensions and trailer fields (rwsgi drops trailers anyway); and it
//! writes `100 Continue` itself, before the first read of the body, as
//! hyper does. The limits, syntax and framing rules were enforced by the
//! scanner below, so none of async-h1's limits can refuse what the table
//! accepts.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};
use rwsgi_core::conn::request_failed;
use rwsgi_core::request_error::RequestError;

use crate::head::{self, Framing, Parsed};

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The start of every head async-h1 is given (it needs a `Host` to build a
/// URL, and HTTP/1.1), and the whole of one without a body.
const SYNTHETIC_LINE: &str = "GET / HTTP/1.1\r\nHost: rwsgi\r\n";
const SYNTHETIC: &[u8] = b"GET / HTTP/1.1\r\nHost: rwsgi\r\n\r\n";

/// How much is read from the socket at a time.
const READ_SIZE: usize = 8 * 1024;

/// The connection's stream as async-h1 sees it. Cheap to clone (async-h1
/// wants a clone per request); every clone is the same stream.
pub(crate) struct H1Io<I>(Arc<Mutex<Inner<I>>>);

impl<I> Clone for H1Io<I> {
    fn clone(&self) -> Self {
        H1Io(Arc::clone(&self.0))
    }
}

struct Inner<I> {
    io: I,
    /// Bytes read from `io` and not yet handed over: `buf[start..end]`.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// How far the bytes of the current head have been searched for its end.
    searched: usize,
    state: State,
    /// The head just read, until the adapter takes it.
    parsed: Option<Parsed>,
    /// A head the adapter must refuse (never expected: the scanner checked it).
    refusal: Option<RequestError>,
    /// `100 Continue` is owed before the body is read: how much of it is out.
    continue_due: Option<usize>,
}

enum State {
    /// Waiting for the next head.
    Head,
    /// Handing async-h1 its head; then the body.
    Synthetic {
        bytes: Vec<u8>,
        at: usize,
        body: Option<Body>,
    },
    Body(Body),
    /// The message is complete; reads end until [`H1Io::next_message`].
    Done,
}

#[derive(Clone, Copy)]
enum Body {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
}

/// Where a chunked body is (the scanner has checked its syntax).
#[derive(Clone, Copy)]
enum Chunk {
    Size(u64),
    /// A chunk extension, dropped.
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line or the final empty line.
    TrailerStart,
    /// A trailer field, dropped.
    Trailer,
    FinalLf,
    /// The final CR is out, its LF not yet.
    FinalHalf,
}

impl<I> H1Io<I> {
    pub(crate) fn new(io: I) -> Self {
        H1Io(Arc::new(Mutex::new(Inner {
            io,
            buf: Box::default(),
            start: 0,
            end: 0,
            searched: 0,
            state: State::Done,
            parsed: None,
            refusal: None,
            continue_due: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner<I>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts reading the next message, if the last one is complete;
    /// `false` if it is not (its body was not read to the end).
    pub(crate) fn next_message(&self) -> bool {
        let mut inner = self.lock();
        if !matches!(inner.state, State::Done) {
            return false;
        }
        inner.state = State::Head;
        true
    }

    /// The head async-h1 has just decoded.
    pub(crate) fn take_head(&self) -> Option<Parsed> {
        self.lock().parsed.take()
    }

    /// A head that could not be split, to be answered by the table.
    pub(crate) fn take_refusal(&self) -> Option<RequestError> {
        self.lock().refusal.take()
    }

    /// The response has begun: `100 Continue` can no longer be sent.
    pub(crate) fn response_started(&self) {
        self.lock().continue_due = None;
    }

    /// Whether the current message has been read to its end.
    pub(crate) fn message_complete(&self) -> bool {
        matches!(self.lock().state, State::Done)
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> Inner<I> {
    /// Reads more from the socket into `buf`; `Ok(0)` at its end.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < READ_SIZE / 2 {
            // Make room: move what is left to the front, and grow for a
            // head longer than the buffer.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < READ_SIZE / 2 {
                let mut bigger = vec![0; (self.buf.len() * 2).max(READ_SIZE)].into_boxed_slice();
                bigger[..self.end].copy_from_slice(&self.buf[..self.end]);
                self.buf = bigger;
            }
        }
        let n = ready!(Pin::new(&mut self.io).poll_read(cx, &mut self.buf[self.end..]))?;
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Writes what is owed of `100 Continue`.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(at) = self.continue_due {
            if at == CONTINUE.len() {
                ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                self.continue_due = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &CONTINUE[at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.continue_due = Some(at + n);
        }
        Poll::Ready(Ok(()))
    }

    /// Reads a head: `Ok(true)` once one is parsed, `Ok(false)` at the end
    /// of the stream.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(len) = head::head_end(pending, self.searched) {
                let parsed = head::parse(&pending[..len]);
                self.start += len;
                self.searched = 0;
                let parsed = match parsed {
                    Ok(parsed) => parsed,
                    Err(err) => {
                        self.refusal = Some(err.clone());
                        return Poll::Ready(Err(request_failed(err)));
                    }
                };
                // What async-h1 acts on, and nothing else: the framing.
                let (bytes, body) = match parsed.framing {
                    Framing::None => (SYNTHETIC.to_vec(), None),
                    Framing::Length(n) => (
                        format!("{SYNTHETIC_LINE}Content-Length: {n}\r\n\r\n").into_bytes(),
                        Some(Body::Length(n)),
                    ),
                    Framing::Chunked => (
                        format!("{SYNTHETIC_LINE}Transfer-Encoding: chunked\r\n\r\n").into_bytes(),
                        Some(Body::Chunked(Chunk::Size(0))),
                    ),
                };
                self.continue_due = parsed.expect_continue.then_some(0);
                self.parsed = Some(parsed);
                self.state = State::Synthetic { bytes, at: 0, body };
                return Poll::Ready(Ok(true));
            }
            self.searched = pending.len();
            if ready!(self.fill(cx))? == 0 {
                // The scanner hands over whole heads only: what is left
                // here is empty lines.
                self.start = self.end;
                self.searched = 0;
                return Poll::Ready(Ok(false));
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match &mut self.state {
                State::Done => return Poll::Ready(Ok(0)),
                State::Head => {
                    if !ready!(self.poll_head(cx))? {
                        self.state = State::Done;
                        return Poll::Ready(Ok(0));
                    }
                }
                State::Synthetic { bytes, at, body } => {
                    let n = (bytes.len() - *at).min(out.len());
                    out[..n].copy_from_slice(&bytes[*at..*at + n]);
                    *at += n;
                    if *at == bytes.len() {
                        self.state = body.map_or(State::Done, State::Body);
                    }
                    return Poll::Ready(Ok(n));
                }
                State::Body(Body::Length(left)) => {
                    let left = *left;
                    ready!(self.poll_continue(cx))?;
                    let room = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = if self.start < self.end {
                        let n = room.min(self.end - self.start);
                        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                        self.start += n;
                        n
                    } else {
                        // Straight into async-h1's buffer.
                        let n = ready!(Pin::new(&mut self.io).poll_read(cx, &mut out[..room]))?;
                        if n == 0 && room > 0 {
                            return Poll::Ready(Err(request_failed(RequestError::TruncatedBody)));
                        }
                        n
                    };
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Body(Body::Length(left))
                    };
                    return Poll::Ready(Ok(n));
                }
                State::Body(Body::Chunked(chunk)) => {
                    let mut chunk = *chunk;
                    ready!(self.poll_continue(cx))?;
                    if self.start == self.end && ready!(self.fill(cx))? == 0 {
                        return Poll::Ready(Err(request_failed(RequestError::TruncatedBody)));
                    }
                    let (used, made, done) = filter(&mut chunk, &self.buf[self.start..self.end], out);
                    self.start += used;
                    self.state = if done {
                        State::Done
                    } else {
                        State::Body(Body::Chunked(chunk))
                    };
                    if made > 0 || done {
                        return Poll::Ready(Ok(made));
                    }
                }
            }
        }
    }
}

/// Copies a chunked body from `input` to `out` without its chunk extensions
/// and trailer fields (async-h1's decoder takes neither). Returns the bytes
/// used, the bytes made, and whether the body ended. The final CRLF is
/// handed over whole: async-h1's trailer parser stalls on half of it.
fn filter(state: &mut Chunk, input: &[u8], out: &mut [u8]) -> (usize, usize, bool) {
    let (mut used, mut made) = (0, 0);
    while used < input.len() && made < out.len() {
        let b = input[used];
        match *state {
            Chunk::Data(left) => {
                let n = (input.len() - used)
                    .min(out.len() - made)
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                out[made..made + n].copy_from_slice(&input[used..used + n]);
                used += n;
                made += n;
                *state = if left == n as u64 {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left - n as u64)
                };
                continue;
            }
            Chunk::Size(size) => match b {
                b'\r' => {
                    out[made] = b;
                    made += 1;
                    *state = Chunk::SizeLf(size);
                }
                b';' | b' ' | b'\t' => *state = Chunk::Extension(size),
                _ => {
                    out[made] = b;
                    made += 1;
                    let digit = (b as char).to_digit(16).unwrap_or(0);
                    *state = Chunk::Size(size.saturating_mul(16).saturating_add(u64::from(digit)));
                }
            },
            Chunk::Extension(size) => {
                if b == b'\r' {
                    out[made] = b;
                    made += 1;
                    *state = Chunk::SizeLf(size);
                }
            }
            Chunk::SizeLf(size) => {
                out[made] = b;
                made += 1;
                *state = if size == 0 {
                    Chunk::TrailerStart
                } else {
                    Chunk::Data(size)
                };
            }
            Chunk::DataCr => {
                out[made] = b;
                made += 1;
                *state = Chunk::DataLf;
            }
            Chunk::DataLf => {
                out[made] = b;
                made += 1;
                *state = Chunk::Size(0);
            }
            Chunk::TrailerStart => {
                *state = if b == b'\r' {
                    Chunk::FinalLf
                } else {
                    Chunk::Trailer
                };
            }
            Chunk::Trailer => {
                if b == b'\n' {
                    *state = Chunk::TrailerStart;
                }
            }
            Chunk::FinalLf if out.len() - made >= 2 => {
                out[made..made + 2].copy_from_slice(b"\r\n");
                return (used + 1, made + 2, true);
            }
            Chunk::FinalLf if made > 0 => break,
            Chunk::FinalLf => {
                // Room for one byte only (async-h1 never reads so little).
                out[made] = b'\r';
                *state = Chunk::FinalHalf;
                return (used, 1, false);
            }
            Chunk::FinalHalf => {
                out[made] = b'\n';
                return (used + 1, made + 1, true);
            }
        }
        used += 1;
    }
    (used, made, false)
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for H1Io<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.lock().poll_read(cx, buf)
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for H1Io<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.lock().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.lock().io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.lock().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.lock().io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], piece: usize) -> (Vec<u8>, usize) {
        let mut state = Chunk::Size(0);
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let end = (at + piece).min(input.len());
            let mut buf = [0u8; 64];
            let (used, made, done) = filter(&mut state, &input[at..end], &mut buf);
            out.extend_from_slice(&buf[..made]);
            at += used;
            if done {
                return (out, at);
            }
        }
        panic!("the body did not end: {:?}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn drops_extensions_and_trailers_and_stops_at_the_end() {
        let body = b"5;a=b\r\nhello\r\n1 ; x=\"y z\"\r\n \r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nGET / HTTP/1.1\r\n";
        for piece in [1, 2, 3, 7, 64] {
            let (out, used) = run(body, piece);
            assert_eq!(out, b"5\r\nhello\r\n1\r\n \r\n0\r\n\r\n", "pieces of {piece}");
            assert_eq!(&body[used..], b"GET / HTTP/1.1\r\n");
        }
    }
}
