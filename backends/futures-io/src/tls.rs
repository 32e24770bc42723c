//! The TLS handshake of a listener that speaks TLS (futures-rustls).

use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{FutureExt, io};
use futures_rustls::server::TlsStream;
use rwsgi_core::Level;
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::tls::LoadedTls;

use crate::Connection;

/// A TLS session reads and writes through one state, so its halves share
/// it behind a lock.
impl<C: Connection> Connection for TlsStream<C> {
    type Reader = ReadHalf<TlsStream<C>>;
    type Writer = WriteHalf<TlsStream<C>>;

    fn into_halves(self) -> (Self::Reader, Self::Writer) {
        io::split(self)
    }
}

/// The handshake, within the configured timeout; `None` (logged at debug
/// level: any client can cause it) closes the connection.
pub(crate) async fn handshake<C: Connection>(
    conn: C,
    tls: &LoadedTls,
    info: &ConnInfo,
    gateway: &Gateway,
) -> Option<TlsStream<C>> {
    let log = &gateway.config().error_log;
    let acceptor = futures_rustls::TlsAcceptor::from(tls.server_config());
    let timeout = tls.settings().handshake_timeout;
    let sleep = gateway.timer().sleep(timeout);
    let outcome = async { Some(acceptor.accept(conn).into_fallible().await) }
        .or(async {
            sleep.await;
            None
        })
        .await;
    match outcome {
        Some(Ok(stream)) => Some(stream),
        Some(Err((err, conn))) => {
            log.log(
                Level::Debug,
                format_args!("TLS handshake with {} failed: {err}", info.peer),
            );
            crate::refuse(conn, None, gateway).await;
            None
        }
        None => {
            log.log(
                Level::Debug,
                format_args!("TLS handshake with {} not done within {timeout:?}", info.peer),
            );
            None
        }
    }
}
