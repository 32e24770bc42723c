//! Accepting connections: TCP and unix sockets, one loop for both.

use std::io;
use std::sync::{Arc, Weak};

use rwsgi_core::conn::{CheckedIo, ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::{AcceptBackoff, Addr, ConnectionGuard, Engine, Listener};
use smol::Executor;
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite};
use smol::net::unix::{UnixListener, UnixStream};
use smol::net::{TcpListener, TcpStream};

/// A listener registered with smol's reactor. smol's `net` types (not bare
/// `Async<TcpStream>`, whose `poll_close` only flushes): closing a stream
/// must shut down its sending side, or a lingering close never sees the
/// client's end.
pub(crate) enum SmolListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl SmolListener {
    /// Registers a bound std listener with the reactor.
    pub(crate) fn adopt(listener: Listener) -> io::Result<Self> {
        Ok(match listener {
            Listener::Tcp(l) => SmolListener::Tcp(TcpListener::try_from(l)?),
            Listener::Unix(l) => SmolListener::Unix(UnixListener::try_from(l)?),
        })
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
                        smol::Timer::after(wait).await;
                    }
                }
            }
        }
    }

    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            SmolListener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Small responses must not wait for Nagle's algorithm.
                stream.set_nodelay(true)?;
                let local = stream.local_addr()?;
                Ok(Accepted {
                    info: info(Addr::Tcp(peer), Addr::Tcp(local)),
                    stream: Stream::Tcp(stream),
                })
            }
            SmolListener::Unix(l) => {
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
            Stream::Tcp(s) if engine == Engine::H1 => serve_h1(s.clone(), s, self.info, gateway).await,
            Stream::Unix(s) if engine == Engine::H1 => serve_h1(s.clone(), s, self.info, gateway).await,
            Stream::Tcp(s) => serve_stream(s, self.info, gateway, engine).await,
            Stream::Unix(s) => serve_stream(s, self.info, gateway, engine).await,
        }
        drop(slot);
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
        Engine::Hyper => {
            let io = rwsgi_hyper::FuturesIo(checked);
            rwsgi_hyper::serve_connection(io, info, gateway, watch).await;
        }
        Engine::AsyncH1 => rwsgi_async_h1::serve_connection(checked, info, gateway, watch).await,
        other => unreachable!("{other} was refused when the server was built"),
    }
}
