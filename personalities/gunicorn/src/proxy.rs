//! `--proxy-protocol`: the PROXY protocol preamble (v1 text, v2 binary)
//! that HAProxy, stunnel or a cloud load balancer sends before the HTTP
//! bytes, naming the real client.
//!
//! The backends read HTTP from the first byte of a connection, so a worker
//! with `--proxy-protocol` puts a small relay in front of its server: the
//! relay accepts on the shared listeners, reads and checks the preamble,
//! and forwards the rest of the connection to the server over a private
//! loopback socket. A middleware then sets `REMOTE_ADDR`/`REMOTE_PORT` from
//! what the preamble said. This costs a copy of every byte and two threads
//! per connection: it is for deployments that need the client's address
//! from a TCP-level proxy, not for benchmarks.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use rwsgi_core::middleware::TrustedPeers;
use rwsgi_core::{Application, Body, BoxError, Environ, Listener, StartResponse};

use crate::glog::Log;
use crate::settings::ProxyProtocol;
use crate::worker::Control;

/// The v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included.
const V1_MAX: usize = 107;
/// How long a client may take to send its preamble.
const PREAMBLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a preamble said about one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// No preamble: the connection's own peer.
    Direct,
    /// `PROXY UNKNOWN`, v2 `LOCAL`, or an address family without one: the
    /// proxy's own connection.
    Unknown,
    /// The client, as the proxy saw it.
    Client(SocketAddr),
}

/// A malformed preamble (gunicorn's `InvalidProxyLine`: 400).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// What is wrong with it.
    Invalid(&'static str),
}

/// The outcome of reading the start of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// The preamble ends at this offset (0 when there is none).
    Done(Origin, usize),
}

/// Parses a preamble at the start of `buf`, in `mode`.
///
/// # Errors
///
/// A malformed preamble.
pub fn parse(buf: &[u8], mode: ProxyProtocol) -> Result<Parsed, Refusal> {
    let v1 = matches!(mode, ProxyProtocol::V1 | ProxyProtocol::Auto);
    let v2 = matches!(mode, ProxyProtocol::V2 | ProxyProtocol::Auto);
    let prefix_of = |sig: &[u8]| buf.len() < sig.len() && sig.starts_with(buf);
    if v2 && buf.starts_with(V2_SIGNATURE) {
        return parse_v2(buf);
    }
    if v1 && buf.starts_with(b"PROXY ") {
        return parse_v1(buf);
    }
    if (v2 && prefix_of(V2_SIGNATURE)) || (v1 && prefix_of(b"PROXY ")) {
        return Ok(Parsed::Incomplete);
    }
    Ok(Parsed::Done(Origin::Direct, 0))
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, Refusal> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(Refusal::Invalid("PROXY line too long"))
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    if end + 2 > V1_MAX {
        return Err(Refusal::Invalid("PROXY line too long"));
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| Refusal::Invalid("not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let origin = match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Origin::Unknown,
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let (src, _dst): (IpAddr, IpAddr) = match *proto {
                "TCP4" => (
                    src.parse::<Ipv4Addr>()
                        .map_err(|_| Refusal::Invalid("bad source address"))?
                        .into(),
                    dst.parse::<Ipv4Addr>()
                        .map_err(|_| Refusal::Invalid("bad destination address"))?
                        .into(),
                ),
                _ => (
                    src.parse::<Ipv6Addr>()
                        .map_err(|_| Refusal::Invalid("bad source address"))?
                        .into(),
                    dst.parse::<Ipv6Addr>()
                        .map_err(|_| Refusal::Invalid("bad destination address"))?
                        .into(),
                ),
            };
            let port = |p: &str| {
                (!p.starts_with('0') || p == "0")
                    .then(|| p.parse::<u16>().ok())
                    .flatten()
                    .ok_or(Refusal::Invalid("bad port"))
            };
            let sport = port(sport)?;
            port(dport)?;
            Origin::Client(SocketAddr::new(src, sport))
        }
        _ => return Err(Refusal::Invalid("malformed PROXY line")),
    };
    Ok(Parsed::Done(origin, end + 2))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Refusal> {
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete);
    }
    let version = buf[12] >> 4;
    let command = buf[12] & 0x0f;
    if version != 2 {
        return Err(Refusal::Invalid("unknown PROXY v2 version"));
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if buf.len() < total {
        return Ok(Parsed::Incomplete);
    }
    let body = &buf[16..total];
    let origin = match command {
        0x0 => Origin::Unknown,
        0x1 => match buf[13] {
            // TCP or UDP over IPv4.
            0x11 | 0x12 => {
                if body.len() < 12 {
                    return Err(Refusal::Invalid("short PROXY v2 IPv4 addresses"));
                }
                let src = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
                let port = u16::from_be_bytes([body[8], body[9]]);
                Origin::Client(SocketAddr::new(src.into(), port))
            }
            // TCP or UDP over IPv6.
            0x21 | 0x22 => {
                if body.len() < 36 {
                    return Err(Refusal::Invalid("short PROXY v2 IPv6 addresses"));
                }
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[..16]);
                let port = u16::from_be_bytes([body[32], body[33]]);
                Origin::Client(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
            }
            // UNSPEC, unix sockets: no IP address to report.
            _ => Origin::Unknown,
        },
        _ => return Err(Refusal::Invalid("unknown PROXY v2 command")),
    };
    Ok(Parsed::Done(origin, total))
}

/// The clients behind the relay's connections, by the relay's local port
/// (the `REMOTE_PORT` the server sees).
#[derive(Clone, Default)]
pub struct Peers(Arc<Mutex<HashMap<u16, Entry>>>);

/// What the preamble said, and the proxy's own address.
type Entry = (Origin, Option<SocketAddr>);

impl Peers {
    fn insert(&self, port: u16, origin: Origin, peer: Option<SocketAddr>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port, (origin, peer));
    }

    fn remove(&self, port: u16) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&port);
    }

    fn get(&self, port: u16) -> Option<Entry> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&port)
            .cloned()
    }
}

/// The proxy's own address, kept in the environ for the
/// `--forwarded-allow-ips` check (which is about the proxy, not the client).
#[derive(Clone, Debug)]
pub struct SocketPeer(pub Option<String>);

impl std::fmt::Display for SocketPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("-"))
    }
}

/// The environ key of [`SocketPeer`].
pub const SOCKET_PEER: &str = "gunicorn.socket_peer";

/// Sets `REMOTE_ADDR` and `REMOTE_PORT` to the client the preamble named.
pub struct ProxyPeer<A> {
    app: A,
    peers: Peers,
}

impl<A> ProxyPeer<A> {
    /// Wraps `app`.
    pub fn new(app: A, peers: Peers) -> Self {
        ProxyPeer { app, peers }
    }
}

impl<A: Application> Application for ProxyPeer<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let port = environ.remote_port.as_deref().and_then(|p| p.parse().ok());
        if let Some((origin, peer)) = port.and_then(|p| self.peers.get(p)) {
            let (addr, port) = match (origin, peer) {
                (Origin::Client(client), _) => {
                    (Some(client.ip().to_string()), Some(client.port().to_string()))
                }
                (_, Some(peer)) => (Some(peer.ip().to_string()), Some(peer.port().to_string())),
                (_, None) => (None, None),
            };
            environ.insert_value(SOCKET_PEER, SocketPeer(peer.map(|p| p.ip().to_string())));
            environ.remote_addr = addr;
            environ.remote_port = port;
        }
        self.app.call(environ, start_response)
    }
}

/// Starts the relay on `public`; returns the private listener the server
/// is to serve, and the map the [`ProxyPeer`] middleware reads.
///
/// # Errors
///
/// When the private listener cannot be bound.
pub fn start(
    public: Vec<Listener>,
    mode: ProxyProtocol,
    allow: TrustedPeers,
    control: Arc<Control>,
    log: Log,
) -> io::Result<(Listener, Peers)> {
    let private = TcpListener::bind("127.0.0.1:0")?;
    let target = private.local_addr()?;
    private.set_nonblocking(true)?;
    let peers = Peers::default();
    let allow = Arc::new(allow);
    for listener in public {
        let (peers, allow, control, log) = (
            peers.clone(),
            Arc::clone(&allow),
            Arc::clone(&control),
            log.clone(),
        );
        std::thread::Builder::new()
            .name("gunicorn-proxy-accept".into())
            .spawn(move || accept_loop(&listener, target, mode, &allow, &control, &peers, &log))?;
    }
    Ok((Listener::Tcp(private), peers))
}

enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    fn peer(&self) -> Option<SocketAddr> {
        match self {
            Client::Tcp(s) => s.peer_addr().ok(),
            Client::Unix(_) => None,
        }
    }

    fn try_clone(&self) -> io::Result<Client> {
        Ok(match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone()?),
            Client::Unix(s) => Client::Unix(s.try_clone()?),
        })
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_read_timeout(timeout),
            Client::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write),
            Client::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn accept_loop(
    listener: &Listener,
    target: SocketAddr,
    mode: ProxyProtocol,
    allow: &Arc<TrustedPeers>,
    control: &Arc<Control>,
    peers: &Peers,
    log: &Log,
) {
    while !control.stopping() {
        let fd = match listener {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::from(200u16)), Ok(n) if n > 0) {
            continue;
        }
        let accepted = match listener {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Client::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Client::Unix(s)),
        };
        let Ok(client) = accepted else { continue };
        let (peers, allow, conn_log) = (peers.clone(), Arc::clone(allow), log.clone());
        let spawned = std::thread::Builder::new()
            .name("gunicorn-proxy-conn".into())
            .spawn(move || {
                if let Err(err) = relay(client, target, mode, &allow, &peers) {
                    conn_log.debug(format_args!("PROXY protocol relay: {err}"));
                }
            });
        if let Err(err) = spawned {
            log.error(format_args!("PROXY protocol relay: cannot start a thread: {err}"));
        }
    }
}

fn set_blocking(client: &Client) -> io::Result<()> {
    match client {
        Client::Tcp(s) => s.set_nonblocking(false),
        Client::Unix(s) => s.set_nonblocking(false),
    }
}

fn relay(
    mut client: Client,
    target: SocketAddr,
    mode: ProxyProtocol,
    allow: &TrustedPeers,
    peers: &Peers,
) -> io::Result<()> {
    set_blocking(&client)?;
    client.set_read_timeout(Some(PREAMBLE_TIMEOUT))?;
    let peer = client.peer();
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    let (origin, used) = loop {
        match parse(&buf, mode) {
            Ok(Parsed::Done(origin, used)) if !buf.is_empty() || used > 0 => break (origin, used),
            Ok(_) => {}
            Err(Refusal::Invalid(why)) => {
                return refuse(
                    &mut client,
                    "400 Bad Request",
                    &format!("Invalid PROXY line: {why}"),
                );
            }
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    // gunicorn's `ForbiddenProxyRequest`: a preamble from a peer not in
    // `--proxy-allow-from`.
    if used > 0 && !allow.trusts(peer.map(|p| p.ip().to_string()).as_deref()) {
        return refuse(&mut client, "403 Forbidden", "Request forbidden");
    }
    client.set_read_timeout(None)?;
    let mut server = TcpStream::connect(target)?;
    server.set_nodelay(true)?;
    let port = server.local_addr()?.port();
    peers.insert(port, origin, peer);
    let result = (|| {
        server.write_all(&buf[used..])?;
        let mut back = server.try_clone()?;
        let mut to_client = client.try_clone()?;
        let downstream = std::thread::Builder::new()
            .name("gunicorn-proxy-back".into())
            .spawn(move || {
                let _ = io::copy(&mut back, &mut to_client);
                to_client.shutdown_write();
            })?;
        let _ = io::copy(&mut client, &mut server);
        let _ = server.shutdown(Shutdown::Write);
        let _ = downstream.join();
        Ok(())
    })();
    peers.remove(port);
    result
}

fn refuse(client: &mut Client, status: &str, message: &str) -> io::Result<()> {
    let body = format!("{message}\n");
    let response = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes())?;
    client.shutdown_write();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(origin: Origin, used: usize) -> Result<Parsed, Refusal> {
        Ok(Parsed::Done(origin, used))
    }

    #[test]
    fn v1() {
        let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(line, ProxyProtocol::Auto),
            done(Origin::Client("192.0.2.1:5555".parse().unwrap()), 40)
        );
        assert_eq!(parse(&line[..20], ProxyProtocol::V1), Ok(Parsed::Incomplete));
        assert_eq!(parse(b"PRO", ProxyProtocol::V1), Ok(Parsed::Incomplete));
        assert_eq!(
            parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n", ProxyProtocol::V1),
            done(Origin::Client("[2001:db8::1]:1".parse().unwrap()), 40)
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n", ProxyProtocol::Auto),
            done(Origin::Unknown, 15)
        );
        assert!(matches!(
            parse(b"PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", ProxyProtocol::Auto),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            parse(b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", ProxyProtocol::Auto),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            parse(&[b'P'; 200], ProxyProtocol::V1),
            Ok(Parsed::Done(Origin::Direct, 0))
        ));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n", ProxyProtocol::Auto),
            done(Origin::Direct, 0)
        );
        // v1 only: a v2 preamble is just bytes (the server refuses them).
        assert_eq!(parse(V2_SIGNATURE, ProxyProtocol::V1), done(Origin::Direct, 0));
    }

    #[test]
    fn v2() {
        let mut frame = V2_SIGNATURE.to_vec();
        frame.extend_from_slice(&[0x21, 0x11, 0, 12, 203, 0, 113, 7, 10, 0, 0, 1, 0x1f, 0x90, 0, 80]);
        frame.extend_from_slice(b"GET /");
        assert_eq!(
            parse(&frame, ProxyProtocol::Auto),
            done(Origin::Client("203.0.113.7:8080".parse().unwrap()), 28)
        );
        assert_eq!(parse(&frame[..20], ProxyProtocol::V2), Ok(Parsed::Incomplete));
        assert_eq!(parse(&frame[..5], ProxyProtocol::V2), Ok(Parsed::Incomplete));
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(parse(&local, ProxyProtocol::V2), done(Origin::Unknown, 16));
        let mut bad = V2_SIGNATURE.to_vec();
        bad.extend_from_slice(&[0x31, 0x11, 0, 0]);
        assert!(matches!(
            parse(&bad, ProxyProtocol::Auto),
            Err(Refusal::Invalid(_))
        ));
        // v2 only: a v1 line is just bytes.
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n", ProxyProtocol::V2),
            done(Origin::Direct, 0)
        );
    }
}
