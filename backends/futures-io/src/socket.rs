//! A runtime's socket as the pipeline takes it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use crate::Connection;

/// A connected socket of a `futures-io` runtime whose handles are cheap
/// clones of one socket (smol's and async-std's are). Closing it shuts down
/// its sending side, whatever the runtime's own `poll_close` does (some
/// only flush): a lingering close waits for the client's end, which comes
/// only once the client has seen ours.
#[derive(Clone, Debug)]
pub struct Socket<S> {
    inner: S,
    shutdown_write: fn(&S) -> io::Result<()>,
}

impl<S> Socket<S> {
    /// Wraps `inner`, which `shutdown_write` shuts down for sending.
    pub fn new(inner: S, shutdown_write: fn(&S) -> io::Result<()>) -> Self {
        Socket {
            inner,
            shutdown_write,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Socket<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Socket<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready((self.shutdown_write)(&self.inner))
    }
}

impl<S> Connection for Socket<S>
where
    S: AsyncRead + AsyncWrite + Clone + Unpin + Send + Sync + 'static,
{
    type Reader = Socket<S>;
    type Writer = Socket<S>;

    fn into_halves(self) -> (Socket<S>, Socket<S>) {
        (self.clone(), self)
    }
}
