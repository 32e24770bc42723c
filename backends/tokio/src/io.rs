//! A tokio stream under rwsgi's connection policy.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rwsgi_core::conn::{ConnIo, RawIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A tokio stream whose bytes are checked and whose timeouts are enforced
/// by a [`ConnIo`] (see [`rwsgi_core::conn`]); the futures-io twin is
/// [`rwsgi_core::conn::CheckedIo`].
pub(crate) struct CheckedStream<S> {
    inner: S,
    policy: ConnIo,
}

impl<S> CheckedStream<S> {
    pub(crate) fn new(inner: S, policy: ConnIo) -> Self {
        CheckedStream { inner, policy }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for CheckedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        loop {
            let ready = this.policy.ready_bytes(buf.remaining());
            if !ready.is_empty() {
                let n = ready.len();
                buf.put_slice(ready);
                this.policy.consumed(n);
                return Poll::Ready(Ok(()));
            }
            ready!(this.policy.poll_refusal(cx, &mut Raw(&mut this.inner)))?;
            let eof = match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => true,
                Poll::Ready(Ok(())) => {
                    let keep = this.policy.inspect(&buf.filled()[before..]);
                    buf.set_filled(before + keep);
                    if keep == 0 {
                        continue;
                    }
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => false,
            };
            if ready!(this.policy.after_read(eof, cx)) {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// A tokio stream as [`RawIo`].
struct Raw<'a, S>(&'a mut S);

impl<S: AsyncRead + AsyncWrite + Unpin> RawIo for Raw<'_, S> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut *self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CheckedStream<S> {
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

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.policy.after_write(result, true, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = this.policy.poll_close(cx, &mut Raw(&mut this.inner));
        this.policy.after_write(result, true, cx)
    }
}
