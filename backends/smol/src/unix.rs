//! Unix socket listeners.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use rwsgi_futures_io::{Accept, Registered, Socket};
use smol::Async;
use smol::net::unix::UnixListener;

/// A unix socket listener registered with smol's reactor.
pub(crate) struct Unix(pub(crate) UnixListener);

impl Accept for Unix {
    type Conn = Socket<Registered<std::os::unix::net::UnixStream>>;

    async fn accept(&self) -> io::Result<(Self::Conn, ConnInfo)> {
        let (stream, peer) = self.0.accept().await?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::from(peer), Addr::from(local));
        let stream = Registered::from(Arc::<Async<_>>::from(stream));
        Ok((
            Socket::new(stream, |s| s.get_ref().shutdown(Shutdown::Write)),
            info,
        ))
    }
}
