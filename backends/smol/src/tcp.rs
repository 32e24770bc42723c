//! TCP listeners.

use std::io;
use std::net::Shutdown;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use rwsgi_futures_io::{Accept, Socket};
use smol::net::{TcpListener, TcpStream};

/// A TCP listener registered with smol's reactor.
pub(crate) struct Tcp(pub(crate) TcpListener);

impl Accept for Tcp {
    type Conn = Socket<TcpStream>;

    async fn accept(&self) -> io::Result<(Self::Conn, ConnInfo)> {
        let (stream, peer) = self.0.accept().await?;
        // Small responses must not wait for Nagle's algorithm.
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::Tcp(peer), Addr::Tcp(local));
        Ok((Socket::new(stream, |s| s.shutdown(Shutdown::Write)), info))
    }
}
