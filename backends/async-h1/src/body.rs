//! Bodies both ways: async-h1's request body as the gateway's
//! [`EngineBody`](rwsgi_core::EngineBody), and the gateway's [`Response`]
//! as the bytes to write.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_io::{AsyncBufRead, AsyncRead};
use http::header::CONTENT_TYPE;
use http_body::{Body as _, Frame, SizeHint};
use rwsgi_core::gateway::{Framing, Response, ResponseBody};
use rwsgi_core::request_error::RequestError;

use crate::head;

/// async-h1's request body, its errors sorted into the error table.
pub(crate) struct RequestBody {
    body: http_types::Body,
    /// Bytes still due under `Content-Length`.
    left: Option<u64>,
    ended: bool,
}

impl RequestBody {
    pub(crate) fn new(body: http_types::Body, framing: head::Framing) -> Self {
        RequestBody {
            body,
            left: match framing {
                head::Framing::Length(n) => Some(n),
                _ => None,
            },
            ended: framing == head::Framing::None,
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let data = match ready!(Pin::new(&mut this.body).poll_fill_buf(cx)) {
            Ok([]) => {
                this.ended = true;
                return Poll::Ready(None);
            }
            Ok(data) => Bytes::copy_from_slice(data),
            Err(err) => {
                this.ended = true;
                return Poll::Ready(Some(Err(classify(&err))));
            }
        };
        Pin::new(&mut this.body).consume(data.len());
        if let Some(left) = &mut this.left {
            *left = left.saturating_sub(data.len() as u64);
            this.ended = *left == 0;
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match (self.ended, self.left) {
            (true, _) => SizeHint::with_exact(0),
            (false, Some(n)) => SizeHint::with_exact(n),
            (false, None) => SizeHint::default(),
        }
    }
}

/// A body error as the table knows it: the one rwsgi's IO policy put in
/// the stream, or async-h1's own (a chunked body it cannot decode).
fn classify(err: &io::Error) -> RequestError {
    if let Some(found) = RequestError::from_io(err) {
        return found.clone();
    }
    match err.kind() {
        io::ErrorKind::InvalidData => RequestError::BadChunkedBody("malformed chunked framing"),
        _ => RequestError::TruncatedBody,
    }
}

/// A response as the bytes to write.
///
/// async-h1's `Encoder` writes it whenever `http-types` can carry the head
/// exactly: a status it lists with its canonical reason, visible-ASCII
/// field values, and a body framed by `Content-Length` or chunked. The
/// rest — a custom reason, a status `http-types` lacks, obs-text in a
/// value, a bodiless response (HEAD, 204, 304: the `Encoder` would add a
/// `Content-Length: 0` or `Transfer-Encoding: chunked` the gateway did not
/// decide) and an HTTP/1.0 body that ends with the connection (the
/// `Encoder` can only chunk) — is written by [`OwnEncoder`], byte for byte
/// as the gateway decided it.
// One per response, in the connection's task: boxing either variant
// would only add an allocation per response.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Encoded {
    H1(async_h1::server::Encoder),
    Own(OwnEncoder),
}

impl Encoded {
    pub(crate) fn new(response: Response) -> Self {
        match h1_response(&response) {
            Some((status, len)) => {
                let Response { head, body } = response;
                let mut out = http_types::Response::new(status);
                for (name, value) in &head.headers {
                    if let Ok(value) = value.to_str() {
                        out.append_header(name.as_str(), value);
                    }
                }
                let reader = Frames {
                    body,
                    chunk: Bytes::new(),
                    ended: false,
                };
                out.set_body(http_types::Body::from_reader(SyncFrames(Mutex::new(reader)), len));
                if !head.headers.contains_key(CONTENT_TYPE) {
                    // `set_body` adds the body's (application/octet-stream).
                    out.remove_header(CONTENT_TYPE.as_str());
                }
                Encoded::H1(async_h1::server::Encoder::new(out, http_types::Method::Get))
            }
            None => Encoded::Own(OwnEncoder::new(response)),
        }
    }
}

/// The status and body length for async-h1's `Encoder`, if it can write
/// this response exactly.
fn h1_response(response: &Response) -> Option<(http_types::StatusCode, Option<usize>)> {
    let head = &response.head;
    let len = match head.framing {
        Framing::Length(n) => Some(usize::try_from(n).ok()?),
        Framing::Chunked => None,
        Framing::None | Framing::Close => return None,
    };
    if head.reason.is_some() || head.headers.values().any(|v| v.to_str().is_err()) {
        return None;
    }
    let status = http_types::StatusCode::try_from(head.status.as_u16()).ok()?;
    Some((status, len))
}

impl AsyncRead for Encoded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Encoded::H1(encoder) => Pin::new(encoder).poll_read(cx, buf),
            Encoded::Own(encoder) => Pin::new(encoder).poll_read(cx, buf),
        }
    }
}

/// The gateway's body as bytes.
struct Frames {
    body: ResponseBody,
    chunk: Bytes,
    ended: bool,
}

impl Frames {
    /// The next bytes, empty at the end of the body.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.chunk.is_empty() && !self.ended {
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.chunk = data;
                    }
                }
                Some(Err(err)) => return Poll::Ready(Err(io::Error::other(err))),
                None => self.ended = true,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// [`Frames`] for `http_types::Body`, which wants a `Sync` reader: the
/// mutex makes it so, and is never locked (`get_mut` needs no lock).
struct SyncFrames(Mutex<Frames>);

impl SyncFrames {
    fn frames(&mut self) -> &mut Frames {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }
}

impl AsyncBufRead for SyncFrames {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let frames = self.get_mut().frames();
        ready!(frames.poll_next(cx))?;
        Poll::Ready(Ok(&frames.chunk))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().frames().chunk.advance(amt);
    }
}

impl AsyncRead for SyncFrames {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let data = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}

/// Writes a response head exactly as the gateway made it, and the body as
/// its framing says.
pub(crate) struct OwnEncoder {
    /// The chunk-size line of the current chunk, or the last chunk.
    prefix: Bytes,
    /// The head, then each chunk of the body.
    data: Bytes,
    suffix: &'static [u8],
    frames: Frames,
    chunked: bool,
}

impl OwnEncoder {
    fn new(response: Response) -> Self {
        let Response { head, body } = response;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(head.status.as_str().as_bytes());
        out.push(b' ');
        let reason = head
            .reason
            .as_deref()
            .or(head.status.canonical_reason())
            .unwrap_or("");
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &head.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let chunked = head.framing == Framing::Chunked;
        if chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        OwnEncoder {
            prefix: Bytes::new(),
            data: Bytes::from(out),
            suffix: b"",
            frames: Frames {
                body,
                chunk: Bytes::new(),
                // A bodiless response: the head is all.
                ended: head.framing == Framing::None,
            },
            chunked,
        }
    }
}

impl AsyncRead for OwnEncoder {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut n = 0;
        loop {
            for part in [&mut this.prefix, &mut this.data] {
                let take = part.len().min(buf.len() - n);
                buf[n..n + take].copy_from_slice(&part[..take]);
                part.advance(take);
                n += take;
            }
            let take = this.suffix.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&this.suffix[..take]);
            this.suffix = &this.suffix[take..];
            n += take;
            if n == buf.len() || !this.suffix.is_empty() || this.frames.ended {
                return Poll::Ready(Ok(n));
            }
            match this.frames.poll_next(cx) {
                Poll::Pending if n > 0 => return Poll::Ready(Ok(n)),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Ready(Ok(())) if this.frames.ended => {
                    if this.chunked {
                        this.suffix = b"0\r\n\r\n";
                    }
                }
                Poll::Ready(Ok(())) => {
                    let chunk = std::mem::take(&mut this.frames.chunk);
                    if this.chunked {
                        this.prefix = Bytes::from(format!("{:x}\r\n", chunk.len()));
                        this.suffix = b"\r\n";
                    }
                    this.data = chunk;
                }
            }
        }
    }
}
