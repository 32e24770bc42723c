//! `wsgi.input`: the request body as the application reads it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body as HttpBody;

use crate::request_error::RequestError;
use crate::timer::{Sleep, Timer};

/// A request body as an engine delivers it: data frames (trailers are
/// skipped), and errors already classified by the [error
/// table](crate::request_error).
pub type EngineBody = Pin<Box<dyn HttpBody<Data = Bytes, Error = RequestError> + Send>>;

/// The request body (`wsgi.input`).
///
/// Reads never go past `CONTENT_LENGTH` — the engine frames the body — and
/// return empty at the end. It reads the PEP 3333 way ([`read`](Input::read),
/// [`read_all`](Input::read_all), [`readline`](Input::readline),
/// [`readlines`](Input::readlines), iteration by line) and also implements
/// [`std::io::Read`]/[`BufRead`](std::io::BufRead) and, for async bodies,
/// [`futures_io::AsyncRead`]/[`AsyncBufRead`](futures_io::AsyncBufRead).
///
/// The blocking methods wait for the network. Under
/// [`Dispatch::Inline`](crate::Dispatch::Inline) the server reads the whole
/// body before calling the application, so they never wait there; on a
/// thread pool they wait on the pool thread, never on the event loop.
///
/// ```
/// use rwsgi_core::Input;
/// let mut input = Input::from_bytes("name=rwsgi\nsecond line\n");
/// assert_eq!(input.readline(None).unwrap(), "name=rwsgi\n");
/// assert_eq!(input.read(3).unwrap(), "sec");
/// assert_eq!(input.read_all().unwrap(), "ond line\n");
/// assert!(input.read(10).unwrap().is_empty());
/// ```
pub struct Input {
    /// Bytes received and not yet read.
    buf: Bytes,
    /// Where more bytes come from; `None` once the body has ended.
    source: Option<EngineBody>,
    /// The largest body accepted (`limit_request_body`), counted over
    /// everything received.
    limit: Option<u64>,
    received: u64,
    /// How long one read may wait for the client (`body_read_timeout`).
    timeout: Option<(Arc<dyn Timer>, Duration)>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
    /// A failure is sticky: once the body is broken, every read says so.
    failed: Option<RequestError>,
}

impl Input {
    /// An empty body.
    pub fn empty() -> Self {
        Input::from_bytes(Bytes::new())
    }

    /// A body that is already in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Input {
            buf: bytes.into(),
            source: None,
            limit: None,
            received: 0,
            timeout: None,
            sleep: None,
            failed: None,
        }
    }

    /// A body streamed by an engine. `limit` is `limit_request_body`;
    /// `timeout` is the longest one read may wait for the client.
    pub fn from_engine(
        body: EngineBody,
        limit: Option<u64>,
        timeout: Option<(Arc<dyn Timer>, Duration)>,
    ) -> Self {
        Input {
            source: Some(body),
            limit,
            timeout,
            ..Input::empty()
        }
    }

    /// Whether every byte of the body is already in memory.
    pub fn is_buffered(&self) -> bool {
        self.source.is_none()
    }

    /// Reads the rest of the body into memory, so that later reads never
    /// wait. The server does this before calling an application inline on
    /// its event loop.
    pub async fn buffer(&mut self) -> Result<(), RequestError> {
        if self.source.is_none() {
            return Ok(());
        }
        let mut all = BytesMut::from(std::mem::take(&mut self.buf).as_ref());
        loop {
            match poll_fn(|cx| self.poll_chunk(cx)).await {
                Ok(Some(chunk)) => all.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => return Err(err),
            }
        }
        self.buf = all.freeze();
        Ok(())
    }

    /// Reads and throws away what is left of the body, at most `budget`
    /// more bytes: `Ready(true)` once it has ended, `Ready(false)` when it
    /// is longer than that, broken, or stalls past the read timeout. The
    /// gateway does this with a body the application left unread, so that
    /// the connection's framing stays whole.
    pub fn poll_discard(&mut self, cx: &mut Context<'_>, budget: &mut u64) -> Poll<bool> {
        loop {
            let held = self.buf.len() as u64;
            if held > *budget {
                return Poll::Ready(false);
            }
            *budget -= held;
            self.buf.clear();
            match ready!(self.poll_chunk(cx)) {
                Ok(Some(chunk)) => self.buf = chunk,
                Ok(None) => return Poll::Ready(true),
                Err(_) => return Poll::Ready(false),
            }
        }
    }

    /// `read(size)`: up to `size` bytes, fewer only at the end of the body.
    pub fn read(&mut self, size: usize) -> io::Result<Bytes> {
        let mut out = BytesMut::new();
        while out.len() < size {
            if !self.fill_blocking()? {
                break;
            }
            let take = (size - out.len()).min(self.buf.len());
            if out.is_empty() && take == self.buf.len() && take == size {
                return Ok(self.buf.split_to(take));
            }
            out.extend_from_slice(&self.buf.split_to(take));
        }
        Ok(out.freeze())
    }

    /// `read()` with no size: the rest of the body.
    pub fn read_all(&mut self) -> io::Result<Bytes> {
        self.read(usize::MAX)
    }

    /// `readline(size)`: up to and including the next `\n`, at most `size`
    /// bytes when given; empty at the end of the body.
    pub fn readline(&mut self, size: Option<usize>) -> io::Result<Bytes> {
        let limit = size.unwrap_or(usize::MAX);
        let mut out = BytesMut::new();
        while out.len() < limit && self.fill_blocking()? {
            let room = (limit - out.len()).min(self.buf.len());
            let (take, done) = match memchr(b'\n', &self.buf[..room]) {
                Some(i) => (i + 1, true),
                None => (room, false),
            };
            out.extend_from_slice(&self.buf.split_to(take));
            if done {
                break;
            }
        }
        Ok(out.freeze())
    }

    /// `readlines()`: every remaining line.
    pub fn readlines(&mut self) -> io::Result<Vec<Bytes>> {
        self.collect()
    }

    /// Makes `buf` non-empty, waiting for the client if needed; `false` at
    /// the end of the body.
    fn fill_blocking(&mut self) -> io::Result<bool> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        futures_lite::future::block_on(poll_fn(|cx| self.poll_fill(cx)))
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        while self.buf.is_empty() {
            match ready!(self.poll_chunk(cx)) {
                Ok(Some(chunk)) => self.buf = chunk,
                Ok(None) => return Poll::Ready(Ok(false)),
                Err(err) => return Poll::Ready(Err(to_io(err))),
            }
        }
        Poll::Ready(Ok(true))
    }

    /// The next chunk from the engine, honouring the size limit and the
    /// read timeout.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, RequestError>> {
        if let Some(err) = &self.failed {
            return Poll::Ready(Err(err.clone()));
        }
        let Some(source) = self.source.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let polled = loop {
            match source.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => break Some(Ok(Some(data))),
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(err))) => break Some(Err(err)),
                Poll::Ready(None) => break Some(Ok(None)),
                Poll::Pending => break None,
            }
        };
        let result = match polled {
            Some(result) => result,
            None => {
                ready!(self.poll_timeout(cx));
                Err(RequestError::TruncatedBody)
            }
        };
        self.sleep = None;
        let result = result.and_then(|chunk| {
            if let Some(chunk) = &chunk {
                self.received += chunk.len() as u64;
                if self.limit.is_some_and(|limit| self.received > limit) {
                    return Err(RequestError::BodyTooLarge);
                }
            }
            Ok(chunk)
        });
        match &result {
            Ok(Some(_)) => {}
            Ok(None) => self.source = None,
            Err(err) => {
                self.source = None;
                self.failed = Some(err.clone());
            }
        }
        Poll::Ready(result)
    }

    /// Ready when the client has kept this read waiting too long.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((timer, timeout)) = &self.timeout else {
            return Poll::Pending;
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| timer.sleep_until(Instant::now() + *timeout));
        sleep.as_mut().poll(cx)
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn to_io(err: RequestError) -> io::Error {
    let kind = match err {
        RequestError::TruncatedBody => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, err)
}

impl Default for Input {
    fn default() -> Self {
        Input::empty()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("buffered", &self.buf.len())
            .field("streaming", &self.source.is_some())
            .finish()
    }
}

impl Iterator for Input {
    type Item = io::Result<Bytes>;

    /// Iterating `wsgi.input` yields lines.
    fn next(&mut self) -> Option<Self::Item> {
        match self.readline(None) {
            Ok(line) if line.is_empty() => None,
            other => Some(other),
        }
    }
}

impl io::Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || !self.fill_blocking()? {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len());
        self.buf.copy_to_slice(&mut out[..n]);
        Ok(n)
    }
}

impl io::BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill_blocking()?;
        Ok(&self.buf)
    }

    fn consume(&mut self, amt: usize) {
        self.buf.advance(amt);
    }
}

impl futures_io::AsyncRead for Input {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() || !ready!(this.poll_fill(cx))? {
            return Poll::Ready(Ok(0));
        }
        let n = out.len().min(this.buf.len());
        this.buf.copy_to_slice(&mut out[..n]);
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncBufRead for Input {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.buf))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().buf.advance(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use std::collections::VecDeque;

    /// An engine body that yields the given results, one per poll.
    struct Scripted(VecDeque<Result<Bytes, RequestError>>);

    impl HttpBody for Scripted {
        type Data = Bytes;
        type Error = RequestError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
            Poll::Ready(self.0.pop_front().map(|r| r.map(Frame::data)))
        }
    }

    fn streamed(parts: Vec<Result<&'static str, RequestError>>, limit: Option<u64>) -> Input {
        let parts = parts.into_iter().map(|p| p.map(Bytes::from)).collect();
        Input::from_engine(Box::pin(Scripted(parts)), limit, None)
    }

    #[test]
    fn reads_across_chunks_and_stops_at_the_end() {
        let mut input = streamed(vec![Ok("hel"), Ok(""), Ok("lo\nwor"), Ok("ld")], None);
        assert_eq!(input.readline(None).unwrap(), "hello\n");
        assert_eq!(input.read(4).unwrap(), "worl");
        assert_eq!(input.read(100).unwrap(), "d");
        assert_eq!(input.read(100).unwrap(), "");
        assert_eq!(input.readline(None).unwrap(), "");
    }

    #[test]
    fn readline_honours_its_size() {
        let mut input = Input::from_bytes("abcdef\nxyz");
        assert_eq!(input.readline(Some(4)).unwrap(), "abcd");
        assert_eq!(input.readline(Some(100)).unwrap(), "ef\n");
        assert_eq!(input.readlines().unwrap(), vec![Bytes::from("xyz")]);
    }

    #[test]
    fn errors_are_sticky_and_typed() {
        let mut input = streamed(vec![Ok("ab"), Err(RequestError::BadChunkedBody("size"))], None);
        assert_eq!(input.read(2).unwrap(), "ab");
        let err = input.read(1).unwrap_err();
        assert_eq!(
            RequestError::from_io(&err),
            Some(&RequestError::BadChunkedBody("size"))
        );
        assert!(input.read(1).is_err());
    }

    #[test]
    fn the_size_limit_counts_streamed_bytes() {
        let mut input = streamed(vec![Ok("12345"), Ok("678")], Some(6));
        let err = input.read_all().unwrap_err();
        assert_eq!(RequestError::from_io(&err), Some(&RequestError::BodyTooLarge));
    }

    #[test]
    fn buffer_makes_reads_local() {
        let mut input = streamed(vec![Ok("a"), Ok("b"), Ok("c")], None);
        futures_lite::future::block_on(input.buffer()).unwrap();
        assert!(input.is_buffered());
        assert_eq!(input.read_all().unwrap(), "abc");
    }

    #[test]
    fn io_traits_agree() {
        use std::io::Read;
        let mut input = streamed(vec![Ok("one\n"), Ok("two\n")], None);
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        assert_eq!(text, "one\ntwo\n");

        let mut input = streamed(vec![Ok("x"), Ok("y")], None);
        let mut out = Vec::new();
        futures_lite::future::block_on(futures_lite::AsyncReadExt::read_to_end(&mut input, &mut out))
            .unwrap();
        assert_eq!(out, b"xy");
    }
}
