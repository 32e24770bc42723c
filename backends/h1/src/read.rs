//! The reading side: bytes from the socket, through the scanner, into
//! heads and body data. Shared (behind a mutex) by the connection task,
//! which reads heads, and the request body, which may be read from a pool
//! thread.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_io::AsyncRead;
use http_body::{Frame, SizeHint};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::wire::{Event, Limits, RequestScanner};

/// How much the first read of a request takes, into a buffer on the stack:
/// a connection that waits for its next request holds no buffer at all.
const FIRST_READ: usize = 2048;
/// How much each later read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// What a wait for the next request found.
pub(crate) enum Next {
    /// A complete head, accepted by the scanner.
    Head(Bytes),
    /// The scanner refused what came.
    Refused(RequestError),
    /// End of stream (between requests, or mid-head: closed quietly).
    Eof,
}

/// The socket's reading half, and what has been read and not yet used.
pub(crate) struct Input<R> {
    reader: R,
    /// Bytes read and not yet handed on; no allocation while empty.
    buf: BytesMut,
    /// How much of `buf` the scanner has seen (the part of a head so far).
    scanned: usize,
    scanner: RequestScanner,
    /// A body error, kept for every later read.
    failed: Option<RequestError>,
}

pub(crate) type Shared<R> = Arc<Mutex<Input<R>>>;

pub(crate) fn lock<R>(shared: &Shared<R>) -> MutexGuard<'_, Input<R>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: AsyncRead + Unpin> Input<R> {
    pub(crate) fn new(reader: R, limits: Limits) -> Self {
        Input {
            reader,
            buf: BytesMut::new(),
            scanned: 0,
            scanner: RequestScanner::new(limits),
            failed: None,
        }
    }

    /// A complete head already in the buffer, if there is one; `None`
    /// means reading is needed (or the stream is over).
    pub(crate) fn buffered_head(&mut self) -> Option<Next> {
        while self.scanned < self.buf.len() {
            if self.scanner.is_closed() {
                return Some(Next::Eof);
            }
            match self.scanner.scan(&self.buf[self.scanned..]) {
                Ok((used, Some(Event::HeadEnd))) => {
                    let head = self.buf.split_to(self.scanned + used).freeze();
                    self.scanned = 0;
                    self.release_if_empty();
                    return Some(Next::Head(head));
                }
                Ok((used, _)) => self.scanned += used,
                Err((_, err)) => return Some(Next::Refused(err)),
            }
        }
        self.scanner.is_closed().then_some(Next::Eof)
    }

    /// Reads more of a head. `Pending` registers the waker; `Ready(true)`
    /// means bytes came, `Ready(false)` the end of the stream.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.buf.is_empty() {
            // Idle: read into the stack, so that nothing stays allocated
            // while the client thinks.
            let mut first = [0u8; FIRST_READ];
            let n = ready!(Pin::new(&mut self.reader).poll_read(cx, &mut first))?;
            self.buf.extend_from_slice(&first[..n]);
            return Poll::Ready(Ok(n > 0));
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let result = Pin::new(&mut self.reader).poll_read(cx, &mut self.buf[len..]);
        let n = match result {
            Poll::Ready(Ok(n)) => n,
            other => {
                self.buf.truncate(len);
                return other.map_ok(|_| true);
            }
        };
        self.buf.truncate(len + n);
        Poll::Ready(Ok(n > 0))
    }

    /// Whether the scanner is between requests (the last body was read to
    /// its end), so the connection can be reused.
    pub(crate) fn at_message_start(&self) -> bool {
        self.scanner.at_message_start() || self.scanner.is_closed()
    }

    /// Whether input may still be on its way (for a lingering close).
    pub(crate) fn mid_message(&self) -> bool {
        !self.at_message_start() || self.scanned > 0
    }

    /// Whether the buffer holds bytes of a next request.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next piece of the current request's body: data, its end, or an
    /// error.
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, RequestError>>> {
        if let Some(err) = &self.failed {
            return Poll::Ready(Some(Err(err.clone())));
        }
        loop {
            // The body ended (bytes after it belong to the next request).
            if self.at_message_start() {
                self.release_if_empty();
                return Poll::Ready(None);
            }
            if !self.buf.is_empty() {
                match self.scanner.scan(&self.buf) {
                    Ok((used, Some(Event::Data { at, len, .. }))) => {
                        let mut taken = self.buf.split_to(used);
                        taken.advance(at);
                        taken.truncate(len);
                        self.release_if_empty();
                        return Poll::Ready(Some(Ok(taken.freeze())));
                    }
                    Ok((used, _)) => self.buf.advance(used),
                    Err((_, err)) => {
                        self.failed = Some(err.clone());
                        return Poll::Ready(Some(Err(err)));
                    }
                }
                continue;
            }
            match ready!(self.poll_fill(cx)) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.failed = Some(RequestError::TruncatedBody);
                    return Poll::Ready(Some(Err(RequestError::TruncatedBody)));
                }
            }
        }
    }

    /// Reads whatever comes, for a lingering close.
    pub(crate) fn poll_discard(&mut self, cx: &mut Context<'_>, sink: &mut [u8]) -> Poll<io::Result<usize>> {
        self.buf = BytesMut::new();
        Pin::new(&mut self.reader).poll_read(cx, sink)
    }

    fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }
}

/// The request body as the gateway reads it.
pub(crate) struct Body<R> {
    input: Shared<R>,
    done: bool,
}

impl<R: AsyncRead + Unpin> Body<R> {
    /// The body of the request whose head was just read; empty when the
    /// scanner says it has none.
    pub(crate) fn new(input: Shared<R>) -> Self {
        let done = lock(&input).at_message_start();
        Body { input, done }
    }
}

impl<R: AsyncRead + Unpin + Send> http_body::Body for Body<R> {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = ready!(lock(&self.input).poll_body(cx));
        if !matches!(polled, Some(Ok(_))) {
            self.done = true;
        }
        Poll::Ready(polled.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
