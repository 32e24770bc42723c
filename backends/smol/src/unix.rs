//! Unix socket listeners.

use std::io;
use std::net::Shutdown;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use rwsgi_futures_io::{Accept, Socket};
use smol::net::unix::{UnixListener, UnixStream};

/// A unix socket listener registered with smol's reactor.
pub(crate) struct Unix(pub(crate) UnixListener);

impl Accept for Unix {
    type Conn = Socket<UnixStream>;

    async fn accept(&self) -> io::Result<(Self::Conn, ConnInfo)> {
        let (stream, peer) = self.0.accept().await?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::from(peer), Addr::from(local));
        Ok((Socket::new(stream, |s| s.shutdown(Shutdown::Write)), info))
    }
}
