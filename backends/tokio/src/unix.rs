//! Unix socket listeners and connections.

use std::io;

use rwsgi_core::Addr;
use rwsgi_core::gateway::ConnInfo;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

use crate::pipeline::{Accept, Connection};

impl Accept for UnixListener {
    type Conn = UnixStream;

    async fn accept(&self) -> io::Result<(UnixStream, ConnInfo)> {
        let (stream, peer) = UnixListener::accept(self).await?;
        let local = stream.local_addr()?;
        let info = ConnInfo::new(
            Addr::Unix(peer.as_pathname().map(Into::into)),
            Addr::Unix(local.as_pathname().map(Into::into)),
        );
        Ok((stream, info))
    }
}

impl Connection for UnixStream {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn into_halves(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}
