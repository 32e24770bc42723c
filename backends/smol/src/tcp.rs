//! TCP listeners.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use rwsgi_futures_io::{Accept, Registered, Socket};
use smol::Async;
use smol::net::TcpListener;

/// A TCP listener registered with smol's reactor.
pub(crate) struct Tcp(pub(crate) TcpListener);

impl Accept for Tcp {
    type Conn = Socket<Registered<std::net::TcpStream>>;

    async fn accept(&self) -> io::Result<(Self::Conn, ConnInfo)> {
        let (stream, peer) = self.0.accept().await?;
        // Small responses must not wait for Nagle's algorithm.
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::Tcp(peer), Addr::Tcp(local));
        let stream = Registered::from(Arc::<Async<_>>::from(stream));
        Ok((
            Socket::new(stream, |s| s.get_ref().shutdown(Shutdown::Write)),
            info,
        ))
    }
}
