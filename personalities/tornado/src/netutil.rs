//! `tornado.netutil`: binding listening sockets as tornado does.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use rwsgi_core::Listener;
use socket2::{Domain, Socket, Type};

/// tornado's `_DEFAULT_BACKLOG`.
pub const DEFAULT_BACKLOG: u32 = 128;

/// Where and how to listen: the arguments of `listen()`, `bind()` and
/// `bind_sockets()` after the port.
///
/// ```
/// use rwsgi_tornado::Listen;
/// let all_interfaces: Listen = 8888.into();
/// let loopback: Listen = (8888, "127.0.0.1").into();
/// let shared = Listen::new(8888).reuse_port(true).backlog(1024);
/// # drop((all_interfaces, loopback, shared));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// The port; 0 picks a free one (the same for every address).
    pub port: u16,
    /// An address or host name; `None` or `""`: every interface, IPv4 and
    /// IPv6.
    pub address: Option<String>,
    /// `listen(2)`'s backlog. Default: 128.
    pub backlog: u32,
    /// `SO_REUSEPORT`, so that several processes can bind the same port.
    pub reuse_port: bool,
}

impl Listen {
    /// `port` on every interface.
    pub fn new(port: u16) -> Self {
        Listen {
            port,
            address: None,
            backlog: DEFAULT_BACKLOG,
            reuse_port: false,
        }
    }

    /// Only on `address` (an IP address or a host name).
    #[must_use]
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// `listen(2)`'s backlog.
    #[must_use]
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets `SO_REUSEPORT`.
    #[must_use]
    pub fn reuse_port(mut self, reuse_port: bool) -> Self {
        self.reuse_port = reuse_port;
        self
    }
}

impl From<u16> for Listen {
    fn from(port: u16) -> Self {
        Listen::new(port)
    }
}

impl From<(u16, &str)> for Listen {
    fn from((port, address): (u16, &str)) -> Self {
        Listen::new(port).address(address)
    }
}

impl From<(u16, String)> for Listen {
    fn from((port, address): (u16, String)) -> Self {
        Listen::new(port).address(address)
    }
}

/// `tornado.netutil.bind_sockets`: a listening socket for each address
/// `address` resolves to (every interface, IPv4 and IPv6, when it is empty),
/// all on the same port, IPv6 ones with `IPV6_V6ONLY` so that both families
/// can be bound, with `SO_REUSEADDR` (and `SO_REUSEPORT` if asked).
///
/// # Errors
///
/// When an address does not resolve or cannot be bound. Without an
/// address, an IPv6 wildcard that the host cannot bind is skipped.
pub fn bind_sockets(listen: &Listen) -> io::Result<Vec<Listener>> {
    let wildcard = listen.address.as_deref().is_none_or(str::is_empty);
    let addrs: Vec<SocketAddr> = if wildcard {
        vec![
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, listen.port)),
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, listen.port)),
        ]
    } else {
        let host = listen.address.as_deref().unwrap_or_default();
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in (host, listen.port).to_socket_addrs()? {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ));
        }
        addrs
    };
    let mut listeners = Vec::new();
    let mut bound_port = None;
    for mut addr in addrs {
        // Port 0: every socket takes the port the first one got.
        if listen.port == 0 {
            if let Some(port) = bound_port {
                addr.set_port(port);
            }
        }
        match bind_one(addr, listen) {
            Ok(listener) => {
                if bound_port.is_none() {
                    if let Ok(rwsgi_core::Addr::Tcp(local)) = listener.local_addr() {
                        bound_port = Some(local.port());
                    }
                }
                listeners.push(listener);
            }
            Err(err) if wildcard && addr.is_ipv6() && !listeners.is_empty() && ipv6_unavailable(&err) => {}
            Err(err) => {
                return Err(io::Error::new(err.kind(), format!("cannot bind {addr}: {err}")));
            }
        }
    }
    Ok(listeners)
}

fn ipv6_unavailable(err: &io::Error) -> bool {
    let errno = err.raw_os_error().map(Errno::from_raw);
    matches!(errno, Some(Errno::EAFNOSUPPORT | Errno::EADDRNOTAVAIL))
}

fn bind_one(addr: SocketAddr, listen: &Listen) -> io::Result<Listener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if listen.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(listen.backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(Listener::Tcp(socket.into()))
}

/// `tornado.netutil.bind_unix_socket`: a listening unix socket at `path`
/// (a stale socket file there is replaced), with permissions `mode`
/// (tornado's default 0o600).
///
/// # Errors
///
/// When something that is not a socket is at `path`, or binding fails.
pub fn bind_unix_socket(path: impl AsRef<Path>, mode: u32, backlog: u32) -> io::Result<Listener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let path: PathBuf = path.as_ref().to_owned();
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(&path)?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("File {} exists and is not a socket", path.display()),
            ));
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(&path)?)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(Listener::Unix(std::os::unix::net::UnixListener::from(
        std::os::fd::OwnedFd::from(socket),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_socket_shares_the_chosen_port() {
        let listeners = bind_sockets(&Listen::new(0)).unwrap();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| match l.local_addr().unwrap() {
                rwsgi_core::Addr::Tcp(a) => a.port(),
                rwsgi_core::Addr::Unix(_) => 0,
            })
            .collect();
        assert!(!ports.is_empty() && ports[0] != 0);
        assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");

        let one = bind_sockets(&(0, "127.0.0.1").into()).unwrap();
        assert_eq!(one.len(), 1);
    }
}
