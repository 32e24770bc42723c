//! The TLS handshake of a listener that speaks TLS (tokio-rustls).

use rwsgi_core::Level;
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::tls::LoadedTls;
use tokio::io::{ReadHalf, WriteHalf};
use tokio_rustls::server::TlsStream;

use crate::pipeline::Connection;

/// A TLS session reads and writes through one state, so its halves share
/// it behind a lock.
impl<C: Connection> Connection for TlsStream<C> {
    type Reader = ReadHalf<TlsStream<C>>;
    type Writer = WriteHalf<TlsStream<C>>;

    fn into_halves(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
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
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
    let timeout = tls.settings().handshake_timeout;
    match tokio::time::timeout(timeout, acceptor.accept(conn).into_fallible()).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err((err, conn))) => {
            log.log(
                Level::Debug,
                format_args!("TLS handshake with {} failed: {err}", info.peer),
            );
            crate::pipeline::refuse(conn, None).await;
            None
        }
        Err(_) => {
            log.log(
                Level::Debug,
                format_args!("TLS handshake with {} not done within {timeout:?}", info.peer),
            );
            None
        }
    }
}
