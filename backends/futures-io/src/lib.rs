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
//! sockets as [`Socket`]s; [`spawn_accept`] runs a listener's accept loop
//! on the server's executor, and [`run_executor`] runs that executor on
//! `io_threads` threads with the runtime's [`BlockOn`].

mod accept;
mod executor;
mod socket;
mod timer;
#[cfg(feature = "tls")]
mod tls;

pub use accept::{Accept, Task, accept_loop};
pub use executor::{BlockOn, run_executor, spawn_accept, spawn_tls_reload};
pub use socket::Socket;
pub use timer::AsyncIoTimer;

use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use rwsgi_core::conn::{CheckedIo, ConnIo, ConnWatch};
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::{Engine, ListenerSetup, proxy_protocol};

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

/// Serves a connection just accepted, as `setup` says, until it closes.
pub async fn serve<C: Connection>(mut conn: C, mut info: ConnInfo, gateway: Gateway, setup: &ListenerSetup) {
    if setup.proxy_protocol && !proxy_protocol::accept(&mut conn, &mut info, &gateway).await {
        return;
    }
    match &setup.tls {
        None => serve_engine(conn, info, gateway, setup.engine).await,
        #[cfg(feature = "tls")]
        Some(tls) => {
            if let Some(conn) = tls::handshake(conn, tls, &info, &gateway).await {
                info.secure = true;
                serve_engine(conn, info, gateway, setup.engine).await;
            }
        }
        #[cfg(not(feature = "tls"))]
        Some(tls) => match **tls {},
    }
}

async fn serve_engine<C: Connection>(conn: C, info: ConnInfo, gateway: Gateway, engine: Engine) {
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
            rwsgi_hyper::serve_connection(io, info, gateway, watch).await;
        }
        Engine::AsyncH1 => rwsgi_async_h1::serve_connection(checked(conn), info, gateway, watch).await,
        Engine::H1 => {
            let (read, write) = conn.into_halves();
            rwsgi_h1::serve_connection(read, write, info, gateway, watch).await;
        }
        Engine::Uwsgi => {
            let (read, write) = conn.into_halves();
            rwsgi_uwsgi_proto::serve_connection(read, write, info, gateway, watch).await;
        }
        other => unreachable!("{other} was refused when the server was built"),
    }
}
