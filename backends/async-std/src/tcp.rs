//! TCP listeners.

use std::io;
use std::net::Shutdown;

use async_std::net::{TcpListener, TcpStream};
use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use rwsgi_futures_io::{Accept, Socket};

/// A TCP listener handed to async-std.
pub(crate) struct Tcp(pub(crate) TcpListener);

impl Accept for Tcp {
    type Conn = Socket<TcpStream>;

    async fn accept(&self) -> io::Result<(Self::Conn, ConnInfo)> {
        let (stream, peer) = self.0.accept().await?;
        // Small responses must not wait for Nagle's algorithm.
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::Tcp(peer), Addr::Tcp(local));
        // async-std's `poll_close` only flushes: `Socket` shuts down.
        Ok((Socket::new(stream, |s| s.shutdown(Shutdown::Write)), info))
    }
}
