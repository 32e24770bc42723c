//! Where a server listens: the bind grammar, listening sockets, addresses.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::str::FromStr;

use socket2::{Domain, Socket, Type};

use super::Config;

/// One address to listen on, as operators write it.
///
/// | written | meaning |
/// |---|---|
/// | `HOST:PORT`, `[::1]:PORT` | TCP |
/// | `HOST` | TCP on port 8000 (gunicorn's default) |
/// | `:PORT` | TCP on every IPv4 interface |
/// | `unix:PATH` | a unix socket (a stale socket file is replaced) |
/// | `fd://N` | the inherited, already listening descriptor N |
/// | `systemd` | every socket systemd passed (`LISTEN_FDS`) |
///
/// ```
/// use rwsgi_core::Bind;
/// let bind: Bind = "[::1]:8080".parse()?;
/// assert_eq!(bind, Bind::Tcp { host: "::1".into(), port: 8080 });
/// assert_eq!(bind.to_string(), "[::1]:8080");
/// # Ok::<(), rwsgi_core::BindParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    /// TCP on `host` (a name or an address; IPv6 without brackets) and
    /// `port` (0: any free port).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port number.
        port: u16,
    },
    /// A unix socket at `path`, its permissions set to `mode` if given.
    Unix {
        /// The socket file.
        path: PathBuf,
        /// Permission bits for the socket file (e.g. `0o660`).
        mode: Option<u32>,
    },
    /// An inherited descriptor that is already a listening socket.
    Fd(RawFd),
    /// Every socket passed by systemd socket activation.
    Systemd,
}

/// A bind string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindParseError {
    input: String,
    why: &'static str,
}

impl fmt::Display for BindParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad bind {:?}: {} (expected HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N or systemd)",
            self.input, self.why
        )
    }
}

impl std::error::Error for BindParseError {}

impl FromStr for Bind {
    type Err = BindParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |why| BindParseError {
            input: input.to_owned(),
            why,
        };
        if let Some(path) = input.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(err("unix: needs a path"));
            }
            return Ok(Bind::Unix {
                path: path.into(),
                mode: None,
            });
        }
        if let Some(fd) = input.strip_prefix("fd://") {
            return fd.parse().map(Bind::Fd).map_err(|_| err("fd:// needs a number"));
        }
        if input == "systemd" {
            return Ok(Bind::Systemd);
        }
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| err("the port is not a number from 0 to 65535"))
        };
        if let Some(rest) = input.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| err("unclosed '['"))?;
            let port = match after {
                "" => 8000,
                p => port(p.strip_prefix(':').ok_or_else(|| err("expected ':' after ']'"))?)?,
            };
            return Ok(Bind::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        match input.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => Err(err("an IPv6 address needs brackets")),
            Some((host, p)) => Ok(Bind::Tcp {
                host: if host.is_empty() { "0.0.0.0" } else { host }.to_owned(),
                port: port(p)?,
            }),
            None if input.is_empty() => Err(err("empty")),
            None => Ok(Bind::Tcp {
                host: input.to_owned(),
                port: 8000,
            }),
        }
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bind::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Bind::Tcp { host, port } => write!(f, "{host}:{port}"),
            Bind::Unix { path, .. } => write!(f, "unix:{}", path.display()),
            Bind::Fd(fd) => write!(f, "fd://{fd}"),
            Bind::Systemd => f.write_str("systemd"),
        }
    }
}

/// A socket address, TCP or unix: where a server listens, or where a peer
/// connects from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An IPv4 or IPv6 address and port.
    Tcp(SocketAddr),
    /// A unix socket; unnamed for most peers.
    Unix(Option<PathBuf>),
}

impl Addr {
    /// The bind that listens here again (`None` for an unnamed unix
    /// socket): for servers that re-create their listeners from the
    /// addresses they had.
    pub fn to_bind(&self) -> Option<Bind> {
        match self {
            Addr::Tcp(addr) => Some(Bind::Tcp {
                host: addr.ip().to_string(),
                port: addr.port(),
            }),
            Addr::Unix(Some(path)) => Some(Bind::Unix {
                path: path.clone(),
                mode: None,
            }),
            Addr::Unix(None) => None,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(addr) => write!(f, "{addr}"),
            Addr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Addr::Unix(None) => f.write_str("unix:"),
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(addr: SocketAddr) -> Self {
        Addr::Tcp(addr)
    }
}

impl From<std::os::unix::net::SocketAddr> for Addr {
    fn from(addr: std::os::unix::net::SocketAddr) -> Self {
        Addr::Unix(addr.as_pathname().map(Into::into))
    }
}

/// A bound, listening, non-blocking socket, ready for any runtime to adopt.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A unix-socket listener.
    Unix(UnixListener),
}

impl Listener {
    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Addr::Tcp),
            Listener::Unix(l) => l.local_addr().map(Addr::from),
        }
    }

    /// A second handle to the same socket (for a worker, or a second loop).
    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }

    /// Adopts an inherited listening socket, TCP or unix.
    ///
    /// # Errors
    ///
    /// When the descriptor is not an open listening socket.
    pub fn from_fd(fd: RawFd, backlog: u32) -> io::Result<Listener> {
        Listener::from_socket(rwsgi_fd::adopt(fd)?, backlog)
    }

    fn from_socket(socket: Socket, backlog: u32) -> io::Result<Listener> {
        let unix = socket.local_addr()?.domain() == Domain::UNIX;
        socket.listen(backlog_arg(backlog))?;
        socket.set_nonblocking(true)?;
        Ok(if unix {
            Listener::Unix(UnixListener::from(std::os::fd::OwnedFd::from(socket)))
        } else {
            Listener::Tcp(socket.into())
        })
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }
}

fn backlog_arg(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}

/// Binds every address in `config.binds`, in order.
///
/// # Errors
///
/// The first bind that fails, with the bind named in the message.
pub fn bind_all(config: &Config) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for bind in &config.binds {
        let context = |err: io::Error| io::Error::new(err.kind(), format!("cannot bind {bind}: {err}"));
        match bind {
            Bind::Tcp { host, port } => listeners.push(bind_tcp(host, *port, config).map_err(context)?),
            Bind::Unix { path, mode } => listeners.push(bind_unix(path, *mode, config).map_err(context)?),
            Bind::Fd(fd) => listeners.push(Listener::from_fd(*fd, config.backlog).map_err(context)?),
            Bind::Systemd => {
                let sockets = rwsgi_fd::systemd_listeners().map_err(context)?;
                if sockets.is_empty() {
                    return Err(context(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no sockets were passed (LISTEN_FDS/LISTEN_PID unset or for another process)",
                    )));
                }
                for socket in sockets {
                    listeners.push(Listener::from_socket(socket, config.backlog).map_err(context)?);
                }
            }
        }
    }
    Ok(listeners)
}

fn bind_tcp(host: &str, port: u16, config: &Config) -> io::Result<Listener> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")))?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if config.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    Listener::from_socket(socket, config.backlog)
}

fn bind_unix(path: &std::path::Path, mode: Option<u32>, config: &Config) -> io::Result<Listener> {
    // A socket file left by a previous run would make bind fail; anything
    // else at that path is not ours to delete.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Listener::from_socket(socket, config.backlog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_grammar() {
        let tcp = |h: &str, p| Bind::Tcp {
            host: h.into(),
            port: p,
        };
        assert_eq!("127.0.0.1:8000".parse(), Ok(tcp("127.0.0.1", 8000)));
        assert_eq!("localhost".parse(), Ok(tcp("localhost", 8000)));
        assert_eq!(":5000".parse(), Ok(tcp("0.0.0.0", 5000)));
        assert_eq!("[::1]:0".parse(), Ok(tcp("::1", 0)));
        assert_eq!("[::1]".parse(), Ok(tcp("::1", 8000)));
        assert_eq!(
            "unix:/tmp/x.sock".parse(),
            Ok(Bind::Unix {
                path: "/tmp/x.sock".into(),
                mode: None
            })
        );
        assert_eq!(
            "unix:///tmp/x.sock".parse::<Bind>().unwrap().to_string(),
            "unix:/tmp/x.sock"
        );
        assert_eq!("fd://3".parse(), Ok(Bind::Fd(3)));
        assert_eq!("systemd".parse(), Ok(Bind::Systemd));
        for bad in [
            "",
            "host:port",
            "::1:80",
            "[::1",
            "[::1]x",
            "fd://x",
            "unix:",
            "h:70000",
        ] {
            let err = bad.parse::<Bind>().unwrap_err();
            assert!(err.to_string().contains("expected HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn binds_tcp_and_unix_and_adopts_fds() {
        let dir = std::env::temp_dir().join(format!("rwsgi-bind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s.sock");
        let mut config = Config::default();
        config.binds = vec![
            "127.0.0.1:0".parse().unwrap(),
            Bind::Unix {
                path: sock.clone(),
                mode: Some(0o600),
            },
        ];
        let listeners = bind_all(&config).unwrap();
        let Addr::Tcp(addr) = listeners[0].local_addr().unwrap() else {
            panic!()
        };
        assert_ne!(addr.port(), 0);
        assert_eq!(listeners[1].local_addr().unwrap(), Addr::Unix(Some(sock.clone())));
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // A second bind replaces the stale socket file.
        drop(listeners);
        bind_all(&config).unwrap();

        // fd:// adopts a listening socket and keeps its address.
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let want = std_listener.local_addr().unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(std_listener);
        config.binds = vec![Bind::Fd(fd)];
        let adopted = bind_all(&config).unwrap();
        assert_eq!(adopted[0].local_addr().unwrap(), Addr::Tcp(want));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_busy_port_names_the_bind() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = Config::default();
        config.binds = vec![Bind::Tcp {
            host: "127.0.0.1".into(),
            port: taken.local_addr().unwrap().port(),
        }];
        let err = bind_all(&config).unwrap_err();
        assert!(err.to_string().starts_with("cannot bind 127.0.0.1:"), "{err}");
    }
}
