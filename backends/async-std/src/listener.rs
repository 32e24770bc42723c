//! Accepting connections: TCP and unix sockets, one loop for both.

use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};

use async_executor::Executor;
use async_std::net::{TcpListener, TcpStream};
use async_std::os::unix::net::{UnixListener, UnixStream};
use futures_lite::FutureExt;
use futures_lite::io::{AsyncRead, AsyncWrite};
use rwsgi_core::conn::{CheckedIo, ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::{AcceptBackoff, Addr, ConnectionGuard, Engine, Listener};

/// A listener adopted by async-std.
pub(crate) enum AsyncStdListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl AsyncStdListener {
    /// Hands a bound std listener to async-std.
    pub(crate) fn adopt(listener: Listener) -> Self {
        match listener {
            Listener::Tcp(l) => AsyncStdListener::Tcp(TcpListener::from(l)),
            Listener::Unix(l) => AsyncStdListener::Unix(UnixListener::from(l)),
        }
    }

    /// Accepts until shutdown, spawning a task per connection on `executor`
    /// (held weakly: tasks must not keep their executor alive). Pauses while
    /// `max_connections` are open, and backs off when accept fails.
    pub(crate) async fn accept_loop(
        self,
        gateway: Gateway,
        engine: Engine,
        executor: Weak<Executor<'static>>,
    ) {
        let handle = gateway.handle().clone();
        let max = gateway.config().max_connections;
        let mut backoff = AcceptBackoff::new();
        loop {
            // Shutdown is polled first, as tokio's `biased` select does.
            let accepted = async {
                handle.shutdown_requested().await;
                None
            }
            .or(async {
                handle.room_for_connection(max).await;
                Some(self.accept().await)
            })
            .await;
            let Some(accepted) = accepted else { return };
            match accepted {
                Ok(conn) => {
                    backoff.on_success();
                    let Some(executor) = executor.upgrade() else {
                        return;
                    };
                    executor
                        .spawn(conn.serve(gateway.clone(), engine, handle.connection()))
                        .detach();
                }
                Err(err) => {
                    let wait = backoff.on_error(&err, &gateway.config().error_log);
                    if !wait.is_zero() {
                        async_std::task::sleep(wait).await;
                    }
                }
            }
        }
    }

    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            AsyncStdListener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Small responses must not wait for Nagle's algorithm.
                stream.set_nodelay(true)?;
                let local = stream.local_addr()?;
                Ok(Accepted {
                    info: info(Addr::Tcp(peer), Addr::Tcp(local)),
                    stream: Stream::Tcp(stream),
                })
            }
            AsyncStdListener::Unix(l) => {
                let (stream, peer) = l.accept().await?;
                let local = stream.local_addr()?;
                Ok(Accepted {
                    info: info(Addr::from(peer), Addr::from(local)),
                    stream: Stream::Unix(stream),
                })
            }
        }
    }
}

fn info(peer: Addr, local: Addr) -> ConnInfo {
    ConnInfo {
        peer,
        local,
        secure: false,
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

struct Accepted {
    info: ConnInfo,
    stream: Stream,
}

impl Accepted {
    async fn serve(self, gateway: Gateway, engine: Engine, slot: ConnectionGuard) {
        match self.stream {
            // rwsgi-h1 reads and writes through two handles on the socket,
            // and checks the stream itself.
            Stream::Tcp(s) if engine == Engine::H1 => {
                serve_h1(s.clone(), Closing(s), self.info, gateway).await
            }
            Stream::Unix(s) if engine == Engine::H1 => {
                serve_h1(s.clone(), Closing(s), self.info, gateway).await
            }
            Stream::Tcp(s) => serve_stream(Closing(s), self.info, gateway, engine).await,
            Stream::Unix(s) => serve_stream(Closing(s), self.info, gateway, engine).await,
        }
        drop(slot);
    }
}

/// An async-std stream whose `poll_close` shuts down the sending side:
/// async-std's own only flushes, and then a lingering close (see
/// [`rwsgi_core::conn`]) would wait out its time for a client that is
/// waiting for the end of the response.
struct Closing<S>(S);

/// The streams [`Closing`] can shut down.
trait ShutdownWrite {
    fn shutdown_write(&self) -> io::Result<()>;
}

impl ShutdownWrite for TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl ShutdownWrite for UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Closing<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + ShutdownWrite + Unpin> AsyncWrite for Closing<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.0).poll_flush(cx))?;
        Poll::Ready(self.0.shutdown_write())
    }
}

async fn serve_h1<R, W>(read: R, write: W, info: ConnInfo, gateway: Gateway)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let watch = ConnWatch::new(gateway.config());
    rwsgi_h1::serve_connection(read, write, info, gateway, watch).await;
}

async fn serve_stream<S>(stream: S, info: ConnInfo, gateway: Gateway, engine: Engine)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = ConnWatch::new(gateway.config());
    let policy = ConnIo::new(Arc::clone(&watch), Arc::clone(gateway.timer()), gateway.config());
    let checked = CheckedIo::new(stream, policy);
    match engine {
        Engine::AsyncH1 => rwsgi_async_h1::serve_connection(checked, info, gateway, watch).await,
        other => unreachable!("{other} was refused when the server was built"),
    }
}
