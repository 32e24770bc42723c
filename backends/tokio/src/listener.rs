//! Accepting connections: TCP and unix sockets, one loop for both.

use std::io;
use std::sync::Arc;

use rwsgi_core::conn::{ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::{AcceptBackoff, Addr, ConnectionGuard, Engine, Listener};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::io::CheckedStream;

/// A listener adopted by tokio.
pub(crate) enum TokioListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl TokioListener {
    /// Registers a bound std listener with the current runtime.
    pub(crate) fn adopt(listener: Listener) -> io::Result<Self> {
        Ok(match listener {
            Listener::Tcp(l) => TokioListener::Tcp(TcpListener::from_std(l)?),
            Listener::Unix(l) => TokioListener::Unix(UnixListener::from_std(l)?),
        })
    }

    /// Accepts until shutdown, spawning a task per connection. Pauses while
    /// `max_connections` are open, and backs off when accept fails.
    pub(crate) async fn accept_loop(self, gateway: Gateway, engine: Engine) {
        let handle = gateway.handle().clone();
        let max = gateway.config().max_connections;
        let mut backoff = AcceptBackoff::new();
        loop {
            let accepted = tokio::select! {
                biased;
                () = handle.shutdown_requested() => return,
                accepted = async {
                    handle.room_for_connection(max).await;
                    self.accept().await
                } => accepted,
            };
            match accepted {
                Ok(conn) => {
                    backoff.on_success();
                    tokio::spawn(conn.serve(gateway.clone(), engine, handle.connection()));
                }
                Err(err) => {
                    let wait = backoff.on_error(&err, &gateway.config().error_log);
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            TokioListener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Small responses must not wait for Nagle's algorithm.
                stream.set_nodelay(true)?;
                let local = stream.local_addr()?;
                Ok(Accepted {
                    info: info(Addr::Tcp(peer), Addr::Tcp(local)),
                    stream: Stream::Tcp(stream),
                })
            }
            TokioListener::Unix(l) => {
                let (stream, peer) = l.accept().await?;
                let local = stream.local_addr()?;
                Ok(Accepted {
                    info: info(
                        Addr::Unix(peer.as_pathname().map(Into::into)),
                        Addr::Unix(local.as_pathname().map(Into::into)),
                    ),
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
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

struct Accepted {
    info: ConnInfo,
    stream: Stream,
}

impl Accepted {
    async fn serve(self, gateway: Gateway, engine: Engine, slot: ConnectionGuard) {
        match (self.stream, engine) {
            // rwsgi-h1 reads and writes from separate halves, and checks the
            // stream itself.
            (Stream::Tcp(s), Engine::H1) => {
                let (read, write) = s.into_split();
                serve_h1(read, write, self.info, gateway).await;
            }
            (Stream::Unix(s), Engine::H1) => {
                let (read, write) = s.into_split();
                serve_h1(read, write, self.info, gateway).await;
            }
            (Stream::Tcp(s), _) => serve_stream(s, self.info, gateway, engine).await,
            (Stream::Unix(s), _) => serve_stream(s, self.info, gateway, engine).await,
        }
        drop(slot);
    }
}

async fn serve_h1<R, W>(read: R, write: W, info: ConnInfo, gateway: Gateway)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
    let watch = ConnWatch::new(gateway.config());
    rwsgi_h1::serve_connection(read.compat(), write.compat_write(), info, gateway, watch).await;
}

async fn serve_stream<S>(stream: S, info: ConnInfo, gateway: Gateway, engine: Engine)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = ConnWatch::new(gateway.config());
    let policy = ConnIo::new(Arc::clone(&watch), Arc::clone(gateway.timer()), gateway.config());
    let checked = CheckedStream::new(stream, policy);
    match engine {
        Engine::Hyper => {
            let io = hyper_util::rt::TokioIo::new(checked);
            rwsgi_hyper::serve_connection(io, info, gateway, watch).await;
        }
        other => unreachable!("{other} was refused when the server was built"),
    }
}
