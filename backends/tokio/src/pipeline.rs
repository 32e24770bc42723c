//! A connection from accept to engine: the PROXY header, the TLS
//! handshake, then the engine (the tokio twin of rwsgi-futures-io).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use rwsgi_core::conn::{ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::proxy_protocol::{self, Start};
use rwsgi_core::{AcceptBackoff, Engine, ListenerSetup};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use crate::io::CheckedStream;
use crate::replay::Replay;

/// An engine serving a connection.
type EngineFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A listening socket.
pub(crate) trait Accept: Send + Sync + 'static {
    type Conn: Connection;

    /// The next connection, with its addresses (`secure` false).
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Conn, ConnInfo)>> + Send;
}

/// A connected socket.
pub(crate) trait Connection: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {
    type Reader: AsyncRead + Unpin + Send + Sync + 'static;
    type Writer: AsyncWrite + Unpin + Send + Sync + 'static;

    /// Separate handles for reading and writing: rwsgi-h1 and the uwsgi
    /// protocol read the next request while a response is written.
    fn into_halves(self) -> (Self::Reader, Self::Writer);
}

/// Accepts until shutdown, spawning a task per connection. Pauses while
/// `max_connections` are open, and backs off when accept fails.
pub(crate) async fn accept_loop<L: Accept>(listener: L, gateway: Gateway, setup: ListenerSetup) {
    let handle = gateway.handle().clone();
    let max = gateway.config().max_connections;
    let mut backoff = AcceptBackoff::new();
    let setup = Arc::new(setup);
    loop {
        let accepted = tokio::select! {
            biased;
            () = handle.shutdown_requested() => return,
            accepted = async {
                handle.room_for_connection(max).await;
                listener.accept().await
            } => accepted,
        };
        match accepted {
            Ok((conn, info)) => {
                backoff.on_success();
                let serve = serve(conn, info, gateway.clone(), &setup);
                let slot = handle.connection();
                tokio::spawn(async move {
                    serve.await;
                    drop(slot);
                });
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

/// The future that serves a connection just accepted, as `setup` says,
/// until it closes.
///
/// A connection's task holds only the stage it is in — an idle rwsgi-h1
/// connection costs its engine's few hundred bytes, not the largest stage
/// any connection could reach: the engine's future is boxed on its own,
/// and the PROXY header and the TLS handshake, where the listener has them,
/// run in a boxed future freed once they are done. (Each is bound to a
/// `let`: a temporary in an `.await` statement keeps its room.)
fn serve<C: Connection>(
    conn: C,
    info: ConnInfo,
    gateway: Gateway,
    setup: &Arc<ListenerSetup>,
) -> EngineFuture {
    if !setup.proxy_protocol && setup.tls.is_none() {
        return serve_engine(conn, info, gateway, setup.engine);
    }
    let setup = Arc::clone(setup);
    Box::pin(async move {
        let start = Box::pin(start(conn, info, gateway, &setup));
        if let Some(engine) = start.await {
            engine.await;
        }
    })
}

/// The PROXY header and the TLS handshake, where the listener has them:
/// the engine's future, or `None` when the connection was refused on the
/// way.
async fn start<C: Connection>(
    mut conn: C,
    mut info: ConnInfo,
    gateway: Gateway,
    setup: &ListenerSetup,
) -> Option<EngineFuture> {
    if !setup.proxy_protocol {
        return start_tls(conn, info, gateway, setup).await;
    }
    let prefix = match proxy_protocol::accept(&mut (&mut conn).compat(), &mut info, &gateway).await {
        Start::Header => Vec::new(),
        Start::Plain(bytes) => bytes,
        Start::Refuse(answer) => {
            refuse(conn, answer).await;
            return None;
        }
    };
    start_tls(Replay::new(conn, prefix), info, gateway, setup).await
}

async fn start_tls<C: Connection>(
    conn: C,
    mut info: ConnInfo,
    gateway: Gateway,
    setup: &ListenerSetup,
) -> Option<EngineFuture> {
    match &setup.tls {
        None => Some(serve_engine(conn, info, gateway, setup.engine)),
        #[cfg(feature = "tls")]
        Some(tls) => {
            let conn = crate::tls::handshake(conn, tls, &info, &gateway).await?;
            info.secure = true;
            Some(serve_engine(conn, info, gateway, setup.engine))
        }
        #[cfg(not(feature = "tls"))]
        Some(tls) => {
            let _ = &mut info;
            match **tls {}
        }
    }
}

/// Closes a connection that is refused before any engine sees it (a bad
/// PROXY header, a failed TLS handshake), after `answer` if there is one:
/// our end first, then what the client sends is read and dropped until it
/// closes too (at most 2 s and 64 KiB), so that the close is a FIN, not a
/// reset that could destroy the answer.
pub(crate) async fn refuse<C: Connection>(mut conn: C, answer: Option<&[u8]>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Some(answer) = answer {
        if conn.write_all(answer).await.is_err() {
            return;
        }
    }
    if conn.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        // On the heap: a rare path should not enlarge every connection's task.
        let mut sink = vec![0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match conn.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

/// The engine's future for the connection, boxed (see [`serve`]).
fn serve_engine<C: Connection>(conn: C, info: ConnInfo, gateway: Gateway, engine: Engine) -> EngineFuture {
    let watch = ConnWatch::new(gateway.config());
    match engine {
        // hyper reads through the scanner and the timeouts of the IO
        // policy; rwsgi-h1 and the uwsgi protocol apply their own.
        Engine::Hyper => {
            let policy = ConnIo::new(Arc::clone(&watch), Arc::clone(gateway.timer()), gateway.config());
            let io = hyper_util::rt::TokioIo::new(CheckedStream::new(conn, policy));
            Box::pin(rwsgi_hyper::serve_connection(io, info, gateway, watch))
        }
        Engine::H1 => {
            let (read, write) = conn.into_halves();
            Box::pin(rwsgi_h1::serve_connection(
                read.compat(),
                write.compat_write(),
                info,
                gateway,
                watch,
            ))
        }
        Engine::Uwsgi => {
            let (read, write) = conn.into_halves();
            Box::pin(rwsgi_uwsgi_proto::serve_connection(
                read.compat(),
                write.compat_write(),
                info,
                gateway,
                watch,
            ))
        }
        other => unreachable!("{other} was refused when the server was built"),
    }
}
