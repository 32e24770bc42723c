//! The writing side: response heads and bodies serialized into one buffer,
//! written when it fills or when the connection is about to wait — so the
//! answers to a pipelined batch leave together.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_io::AsyncWrite;
use rwsgi_core::Timer;
use rwsgi_core::conn::Deadline;
use rwsgi_core::gateway::{Framing, ResponseHead};

/// Past this much buffered output, a response's body is written out before
/// more is produced.
pub(crate) const HIGH_WATER: usize = 64 * 1024;

pub(crate) struct Output<W> {
    writer: W,
    /// Bytes not yet written; no allocation while empty.
    buf: Vec<u8>,
    written: usize,
    timer: Arc<dyn Timer>,
    timeout: Option<Duration>,
    stall: Deadline,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    pub(crate) fn new(writer: W, timer: Arc<dyn Timer>, timeout: Option<Duration>) -> Self {
        Output {
            writer,
            buf: Vec::new(),
            written: 0,
            timer,
            timeout,
            stall: Deadline::default(),
        }
    }

    /// Queues a response head, framed as the gateway decided.
    pub(crate) fn head(&mut self, head: &ResponseHead) {
        let reason = head
            .reason
            .as_deref()
            .or(head.status.canonical_reason())
            .unwrap_or("");
        self.buf.extend_from_slice(b"HTTP/1.1 ");
        self.buf.extend_from_slice(head.status.as_str().as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(reason.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        for (name, value) in &head.headers {
            self.buf.extend_from_slice(name.as_str().as_bytes());
            self.buf.extend_from_slice(b": ");
            self.buf.extend_from_slice(value.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        }
        if head.framing == Framing::Chunked {
            self.buf.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Queues a piece of body.
    pub(crate) fn data(&mut self, framing: Framing, data: &[u8]) {
        match framing {
            Framing::None => {}
            Framing::Chunked => {
                self.buf
                    .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                self.buf.extend_from_slice(data);
                self.buf.extend_from_slice(b"\r\n");
            }
            Framing::Length(_) | Framing::Close => self.buf.extend_from_slice(data),
        }
    }

    /// Queues the end of a body.
    pub(crate) fn end(&mut self, framing: Framing) {
        if framing == Framing::Chunked {
            self.buf.extend_from_slice(b"0\r\n\r\n");
        }
    }

    /// Queues bytes as they are (an interim `100 Continue`, a refusal).
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Writes everything queued and flushes; a write that makes no progress
    /// for the write timeout fails.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(self.poll_stall(cx, |w, cx, buf| Pin::new(w).poll_write(cx, buf)))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        ready!(self.poll_stall(cx, |w, cx, _| Pin::new(w).poll_flush(cx).map_ok(|()| 0)))?;
        // Idle connections hold no buffer.
        self.buf = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Writes `data` straight to the socket, after what is queued.
    pub(crate) fn poll_write_now(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_flush(cx))?;
        Pin::new(&mut self.writer).poll_write(cx, data)
    }

    /// Shuts the sending side down.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_stall(cx, |w, cx, _| Pin::new(w).poll_close(cx).map_ok(|()| 0)))?;
        Poll::Ready(Ok(()))
    }

    /// One write operation under the write timeout.
    fn poll_stall(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(&mut W, &mut Context<'_>, &[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match op(&mut self.writer, cx, &self.buf[self.written..]) {
            Poll::Ready(result) => {
                self.stall.clear();
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(timeout) = self.timeout else {
                    return Poll::Pending;
                };
                ready!(self.stall.poll_after(&*self.timer, timeout, cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "writing the response timed out",
                )))
            }
        }
    }
}
