//! A runtime's socket as the pipeline takes it.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use async_io::{Async, IoSafe};
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

/// A socket registered with async-io's reactor, its handles sharing one
/// [`Async`]: a pointer each, where async-net's streams also cache two
/// readiness futures — some 120 bytes a handle, two handles a connection,
/// kept for as long as it stands.
#[derive(Debug)]
pub struct Registered<T>(Arc<Async<T>>);

impl<T> Registered<T> {
    /// The socket.
    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }
}

impl<T> From<Arc<Async<T>>> for Registered<T> {
    fn from(socket: Arc<Async<T>>) -> Self {
        Registered(socket)
    }
}

impl<T> Clone for Registered<T> {
    fn clone(&self) -> Self {
        Registered(Arc::clone(&self.0))
    }
}

impl<T: IoSafe> AsyncRead for Registered<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl<T: IoSafe> AsyncWrite for Registered<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}
