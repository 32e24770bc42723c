//! # rwsgi-futures-io
//!
//! What happens to a connection between a `futures-io` runtime's accept
//! and the HTTP engine, written once for every such runtime (rwsgi-smol,
//! rwsgi-async-std):
//!
//! 1. on a listener marked for it, the PROXY protocol header
//!    ([`rwsgi_core::proxy_protocol`]);
//! 2. on a TLS listener, the handshake (futures-rustls, under the
//!    configured handshake timeout; a failed one is closed without
//!    resetting what the client sent);
//! 3. the engine the server was configured with: hyper, async-h1 or
//!    rwsgi-h1 for HTTP, or the uwsgi protocol.
//!
//! A backend implements [`Accept`] for its listeners, handing over its
//! sockets as [`Socket`]s, and [`Runtime`] for its runtime; [`run`] is
//! then its whole `Server::run`: the accept loops and each connection's
//! task on an executor of the server's own, on `io_threads` threads.

mod accept;
mod executor;
mod replay;
mod socket;
mod timer;
#[cfg(feature = "tls")]
mod tls;

pub use accept::{Accept, Task, accept_loop};
pub use executor::{Runtime, run};
pub use replay::Replay;
pub use socket::{Registered, Socket};
pub use timer::AsyncIoTimer;

use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::Boxed;
use rwsgi_core::conn::{CheckedIo, ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::proxy_protocol::{self, Start};
use rwsgi_core::{Engine, ListenerSetup};

/// A connected socket of a `futures-io` runtime.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The reading side of [`into_halves`](Connection::into_halves).
    type Reader: AsyncRead + Unpin + Send + Sync + 'static;
    /// The writing side; closing it must shut down the socket's sending
    /// side (a lingering close waits for the client's end, which comes only
    /// once it has seen ours).
    type Writer: AsyncWrite + Unpin + Send + Sync + 'static;

    /// Separate handles for reading and writing: rwsgi-h1 and the uwsgi
    /// protocol read the next request while a response is written.
    fn into_halves(self) -> (Self::Reader, Self::Writer);
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
pub fn serve<C: Connection>(conn: C, info: ConnInfo, gateway: Gateway, setup: &ListenerSetup) -> Boxed<()> {
    if !setup.proxy_protocol && setup.tls.is_none() {
        return serve_engine(conn, info, gateway, setup.engine);
    }
    let setup = setup.clone();
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
) -> Option<Boxed<()>> {
    if !setup.proxy_protocol {
        return start_tls(conn, info, gateway, setup).await;
    }
    let prefix = match proxy_protocol::accept(&mut conn, &mut info, &gateway).await {
        Start::Header => Vec::new(),
        Start::Plain(bytes) => bytes,
        Start::Refuse(answer) => {
            refuse(conn, answer, &gateway).await;
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
) -> Option<Boxed<()>> {
    match &setup.tls {
        None => Some(serve_engine(conn, info, gateway, setup.engine)),
        #[cfg(feature = "tls")]
        Some(tls) => {
            let conn = tls::handshake(conn, tls, &info, &gateway).await?;
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
pub(crate) async fn refuse<C: Connection>(mut conn: C, answer: Option<&[u8]>, gateway: &Gateway) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
    if let Some(answer) = answer {
        if conn.write_all(answer).await.is_err() {
            return;
        }
    }
    if conn.close().await.is_err() {
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
    drain
        .or(gateway.timer().sleep(std::time::Duration::from_secs(2)))
        .await;
}

/// The engine's future for the connection, boxed (see [`serve`]).
fn serve_engine<C: Connection>(conn: C, info: ConnInfo, gateway: Gateway, engine: Engine) -> Boxed<()> {
    let watch = ConnWatch::new(gateway.config());
    // hyper and async-h1 read through the scanner and the timeouts of the
    // IO policy; rwsgi-h1 and the uwsgi protocol apply their own.
    let checked = |conn| {
        let policy = ConnIo::new(Arc::clone(&watch), Arc::clone(gateway.timer()), gateway.config());
        CheckedIo::new(conn, policy)
    };
    match engine {
        Engine::Hyper => {
            let io = rwsgi_hyper::FuturesIo(checked(conn));
            Box::pin(rwsgi_hyper::serve_connection(io, info, gateway, watch))
        }
        Engine::AsyncH1 => Box::pin(rwsgi_async_h1::serve_connection(
            checked(conn),
            info,
            gateway,
            watch,
        )),
        Engine::H1 => {
            let (read, write) = conn.into_halves();
            Box::pin(rwsgi_h1::serve_connection(read, write, info, gateway, watch))
        }
        Engine::Uwsgi => {
            let (read, write) = conn.into_halves();
            Box::pin(rwsgi_uwsgi_proto::serve_connection(
                read, write, info, gateway, watch,
            ))
        }
        other => unreachable!("{other} was refused when the server was built"),
    }
}
