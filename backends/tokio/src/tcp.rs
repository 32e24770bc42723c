//! TCP listeners and connections.

use std::io;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::pipeline::{Accept, Connection};

impl Accept for TcpListener {
    type Conn = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, ConnInfo)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Small responses must not wait for Nagle's algorithm.
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(Addr::Tcp(peer), Addr::Tcp(local));
        Ok((stream, info))
    }
}

impl Connection for TcpStream {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn into_halves(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}
