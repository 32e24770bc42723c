//! A connection whose first bytes were read already.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::Connection;

/// A connection whose first bytes were read already (looking for a PROXY
/// protocol header that was not there): reads give them again first.
pub struct Replay<C> {
    prefix: Vec<u8>,
    at: usize,
    inner: C,
}

impl<C> Replay<C> {
    /// `inner`, with `prefix` read before its next bytes.
    pub fn new(inner: C, prefix: Vec<u8>) -> Self {
        Replay { prefix, at: 0, inner }
    }
}

impl<C: AsyncRead + Unpin> AsyncRead for Replay<C> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let left = &this.prefix[this.at..];
        if left.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        this.at += n;
        if this.at == this.prefix.len() {
            this.prefix = Vec::new();
            this.at = 0;
        }
        Poll::Ready(Ok(n))
    }
}

impl<C: AsyncWrite + Unpin> AsyncWrite for Replay<C> {
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
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<C: Connection> Connection for Replay<C> {
    type Reader = Replay<C::Reader>;
    type Writer = C::Writer;

    fn into_halves(self) -> (Self::Reader, Self::Writer) {
        let (read, write) = self.inner.into_halves();
        (
            Replay {
                prefix: self.prefix,
                at: self.at,
                inner: read,
            },
            write,
        )
    }
}
