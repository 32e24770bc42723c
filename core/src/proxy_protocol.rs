//! HAProxy's PROXY protocol, versions 1 and 2: a load balancer that
//! forwards a TCP connection first sends a header naming the client, so that
//! the server can report the client's address (`REMOTE_ADDR`,
//! `REMOTE_PORT`) instead of the balancer's.
//!
//! * [`parse`] reads a header from bytes — a pure function, for fuzzing and
//!   for any engine;
//! * [`read_header`] reads one from a connection without consuming a byte of
//!   what follows it, under a deadline;
//! * [`accept`] is what a backend calls on a connection accepted from a
//!   listener marked by [`Config::proxy_protocol`](crate::Config): read,
//!   then rewrite the connection's [`ConnInfo`].
//!
//! A listener that expects the header refuses a connection without one (the
//! specification forbids guessing: a client must not be able to pose as a
//! proxy by sending a header, nor a proxy's header be taken for a request).
//!
//! ```
//! use rwsgi_core::proxy_protocol::{parse, Parsed, ProxyHeader};
//! let bytes = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\n\r\n";
//! let Ok(Parsed::Complete { header, consumed }) = parse(bytes) else { panic!() };
//! assert_eq!(consumed, 44);
//! let ProxyHeader::Proxied { source, .. } = header else { panic!() };
//! assert_eq!(source.to_string(), "203.0.113.7:51234");
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_io::AsyncRead;

use crate::Level;
use crate::conn::Deadline;
use crate::gateway::{ConnInfo, Gateway};
use crate::server::Addr;
use crate::timer::Timer;

/// The 12 bytes that open a version 2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest version 1 header, CRLF included (the specification's 107).
pub const V1_MAX: usize = 107;

/// The shortest header of either version (`PROXY UNKNOWN\r\n`).
const MIN_HEADER: usize = 15;

/// Which listeners expect a PROXY header before the request.
///
/// gunicorn's `--proxy-protocol` is [`All`](ProxyProtocol::All); twisted's
/// `haproxy:` strports prefix marks single endpoints
/// ([`Listeners`](ProxyProtocol::Listeners)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// No listener (the default).
    #[default]
    Off,
    /// Every listener.
    All,
    /// The listeners at these positions, counted in the order the server
    /// holds them: `bind_all`'s order over [`Config::binds`](crate::Config),
    /// or the order of the listeners handed to `from_listeners`.
    Listeners(Vec<usize>),
}

impl ProxyProtocol {
    /// Whether the listener at `index` expects the header.
    pub fn applies_to(&self, index: usize) -> bool {
        match self {
            ProxyProtocol::Off => false,
            ProxyProtocol::All => true,
            ProxyProtocol::Listeners(list) => list.contains(&index),
        }
    }
}

/// How a listener that expects PROXY headers treats what arrives.
///
/// The default is HAProxy's rule (twisted's `haproxy:` endpoints): every
/// connection starts with a header of either version, from anyone; without
/// one it is closed. gunicorn's `--proxy-protocol` is optional (plain HTTP
/// is served too), limited to `--proxy-allow-from`, and answers a refused
/// header in HTTP (400 malformed, 403 not allowed).
#[derive(Clone, Debug, Default)]
pub struct ProxyPolicy {
    /// A connection may start with plain HTTP instead. Default: `false`.
    pub optional: bool,
    /// The versions accepted. Default: both.
    pub versions: ProxyVersions,
    /// The peers that may send a header; `None`: anyone. Default: `None`.
    pub allow_from: Option<crate::middleware::TrustedPeers>,
}

/// Which versions of the header a listener accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyVersions {
    /// Both (the default).
    #[default]
    Any,
    /// The text form only.
    V1,
    /// The binary form only.
    V2,
}

/// How a connection on a listener that expects PROXY headers begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// With a header, which was read (and applied to the connection's
    /// addresses); the request follows.
    Header,
    /// Without one, as the policy allows: these bytes, already read, begin
    /// the request.
    Plain(Vec<u8>),
    /// It must be closed, after this answer if there is one (the policy is
    /// optional, so the client may speak HTTP).
    Refuse(Option<&'static [u8]>),
}

/// The answers of [`Start::Refuse`].
const MALFORMED: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n";
const FORBIDDEN: &[u8] =
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nForbidden\n";

/// What a header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The proxy relays a client: `source` is the client, `destination` the
    /// address it connected to.
    Proxied {
        /// The client's address.
        source: SocketAddr,
        /// The address the client connected to (the proxy's front end).
        destination: SocketAddr,
    },
    /// The connection's own addresses stand: a version 2 `LOCAL` command
    /// (the proxy's own health check), version 1 `UNKNOWN`, or a version 2
    /// address family other than IPv4 and IPv6 (unix, unspecified).
    Local,
}

/// The outcome of [`parse`] on a prefix of a connection's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header, `consumed` bytes long; what follows is the request.
    Complete {
        /// What it says.
        header: ProxyHeader,
        /// Its length in bytes.
        consumed: usize,
    },
    /// More bytes are needed: the input is a valid beginning, and at least
    /// `at_least` bytes in all are needed before [`parse`] can decide —
    /// never more than the header itself, so that reading up to there
    /// consumes nothing of the request.
    Incomplete {
        /// The fewest bytes, counted from the start, worth parsing again.
        at_least: usize,
    },
}

/// A header that cannot be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// The bytes are not a PROXY header at all (a client speaking directly).
    NotProxy,
    /// A version 1 header, malformed: what is wrong.
    V1(&'static str),
    /// A version 2 header, malformed: what is wrong.
    V2(&'static str),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotProxy => f.write_str("no PROXY protocol header where one is required"),
            ProxyError::V1(why) => write!(f, "bad PROXY protocol v1 header: {why}"),
            ProxyError::V2(why) => write!(f, "bad PROXY protocol v2 header: {why}"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Parses a PROXY header, version 1 or 2, at the start of `bytes`.
///
/// # Errors
///
/// [`ProxyError::NotProxy`] when the bytes cannot begin a header, or what
/// is malformed in one that does.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    match bytes.first() {
        None => Ok(Parsed::Incomplete { at_least: MIN_HEADER }),
        Some(b'P') => parse_v1(bytes),
        Some(b'\r') => parse_v2(bytes),
        Some(_) => Err(ProxyError::NotProxy),
    }
}

fn parse_v1(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    let bad = ProxyError::V1;
    let prefix = b"PROXY ";
    let head = &bytes[..bytes.len().min(prefix.len())];
    if !prefix.starts_with(head) {
        return Err(ProxyError::NotProxy);
    }
    let window = &bytes[..bytes.len().min(V1_MAX)];
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        if bytes.len() >= V1_MAX {
            return Err(bad("longer than 107 bytes"));
        }
        if let Some(at) = window.iter().position(|&b| b == b'\r') {
            if at + 1 < window.len() {
                return Err(bad("CR not followed by LF"));
            }
        }
        // The line still needs its CRLF: one byte if the CR is here.
        let more = if bytes.last() == Some(&b'\r') { 1 } else { 2 };
        return Ok(Parsed::Incomplete {
            at_least: (bytes.len() + more).max(MIN_HEADER),
        });
    };
    if end == 0 || window[end - 1] != b'\r' {
        return Err(bad("the line must end with CRLF"));
    }
    let line = &window[..end - 1];
    if line.contains(&b'\r') {
        return Err(bad("CR inside the line"));
    }
    let line = std::str::from_utf8(line).map_err(|_| bad("not ASCII"))?;
    let mut fields = line.split(' ');
    fields.next(); // "PROXY", checked above
    let header = match fields.next() {
        // The rest of the line is to be ignored (the specification).
        Some("UNKNOWN") => ProxyHeader::Local,
        Some(family @ ("TCP4" | "TCP6")) => {
            let parts: Vec<&str> = fields.collect();
            let [src, dst, sport, dport] = parts[..] else {
                return Err(bad("expected PROXY TCP4|TCP6 SRC DST SPORT DPORT, single spaces"));
            };
            let ip = |text: &str| -> Result<IpAddr, ProxyError> {
                if family == "TCP4" {
                    text.parse::<Ipv4Addr>()
                        .map(IpAddr::V4)
                        .map_err(|_| bad("not an IPv4 address"))
                } else {
                    text.parse::<Ipv6Addr>()
                        .map(IpAddr::V6)
                        .map_err(|_| bad("not an IPv6 address"))
                }
            };
            ProxyHeader::Proxied {
                source: SocketAddr::new(ip(src)?, v1_port(sport)?),
                destination: SocketAddr::new(ip(dst)?, v1_port(dport)?),
            }
        }
        _ => return Err(bad("the protocol must be TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Parsed::Complete {
        header,
        consumed: end + 1,
    })
}

/// A port: decimal, 0 to 65535, no sign and no leading zero.
fn v1_port(text: &str) -> Result<u16, ProxyError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return Err(ProxyError::V1("a port is a decimal number without leading zeros"));
    }
    text.parse()
        .map_err(|_| ProxyError::V1("a port is at most 65535"))
}

fn parse_v2(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    let bad = ProxyError::V2;
    let sig = &bytes[..bytes.len().min(V2_SIGNATURE.len())];
    if !V2_SIGNATURE.starts_with(sig) {
        return Err(ProxyError::NotProxy);
    }
    if bytes.len() < 16 {
        return Ok(Parsed::Incomplete { at_least: 16 });
    }
    let version = bytes[12] >> 4;
    let command = bytes[12] & 0x0f;
    if version != 2 {
        return Err(bad("the version must be 2"));
    }
    let family = bytes[13];
    let len = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let total = 16 + len;
    if bytes.len() < total {
        return Ok(Parsed::Incomplete { at_least: total });
    }
    let body = &bytes[16..total];
    let header = match command {
        0 => ProxyHeader::Local,
        1 => match family >> 4 {
            // INET
            1 => {
                if body.len() < 12 {
                    return Err(bad("an IPv4 address block is 12 bytes"));
                }
                let ip =
                    |at: usize| IpAddr::V4(Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]));
                let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(8)),
                    destination: SocketAddr::new(ip(4), port(10)),
                }
            }
            // INET6
            2 => {
                if body.len() < 36 {
                    return Err(bad("an IPv6 address block is 36 bytes"));
                }
                let ip = |at: usize| {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(&body[at..at + 16]);
                    IpAddr::V6(Ipv6Addr::from(octets))
                };
                let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(32)),
                    destination: SocketAddr::new(ip(16), port(34)),
                }
            }
            // UNSPEC, UNIX: nothing an environ can carry.
            0 | 3 => ProxyHeader::Local,
            _ => return Err(bad("unknown address family")),
        },
        _ => return Err(bad("the command must be LOCAL or PROXY")),
    };
    Ok(Parsed::Complete {
        header,
        consumed: total,
    })
}

/// Reads a PROXY header from `reader`, taking no byte beyond it, within
/// `timeout`.
///
/// # Errors
///
/// `InvalidData` for a missing or malformed header, `UnexpectedEof` when
/// the connection ends first, `TimedOut` past the deadline, or the read's
/// own error.
pub async fn read_header<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    timer: &dyn Timer,
    timeout: Option<Duration>,
) -> io::Result<ProxyHeader> {
    match read_start(reader, timer, timeout).await? {
        (Ok(header), _) => Ok(header),
        (Err(err), _) => Err(io::Error::new(io::ErrorKind::InvalidData, err)),
    }
}

/// Reads until a header is complete or cannot be one: the header or why
/// not, and the bytes read (a header's, or the start of whatever it is).
async fn read_start<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    timer: &dyn Timer,
    timeout: Option<Duration>,
) -> io::Result<(Result<ProxyHeader, ProxyError>, Vec<u8>)> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut sleep = Deadline::default();
    let mut buf: Vec<u8> = Vec::with_capacity(V1_MAX);
    loop {
        let want = match parse(&buf) {
            Ok(Parsed::Complete { header, .. }) => return Ok((Ok(header), buf)),
            Ok(Parsed::Incomplete { at_least }) => at_least,
            Err(err) => return Ok((Err(err), buf)),
        };
        let have = buf.len();
        buf.resize(want, 0);
        let read = poll_fn(|cx| {
            if let Poll::Ready(result) = Pin::new(&mut *reader).poll_read(cx, &mut buf[have..]) {
                return Poll::Ready(result);
            }
            match deadline {
                Some(at) if sleep.poll(timer, at, cx).is_ready() => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the PROXY protocol header did not arrive in time",
                ))),
                _ => Poll::Pending,
            }
        })
        .await;
        match read {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection ended before its PROXY protocol header",
                ));
            }
            Ok(n) => buf.truncate(have + n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => buf.truncate(have),
            Err(err) => return Err(err),
        }
    }
}

/// Rewrites a connection's addresses as the header says.
pub fn apply(info: &mut ConnInfo, header: &ProxyHeader) {
    if let ProxyHeader::Proxied { source, destination } = header {
        info.proxy = Some(std::mem::replace(&mut info.peer, Addr::Tcp(*source)));
        info.local = Addr::Tcp(*destination);
    }
}

/// For backends: how a connection just accepted on a listener marked by
/// [`Config::proxy_protocol`](crate::Config) begins, under
/// [`Config::proxy_policy`](crate::Config), read within
/// `header_read_timeout`; a header's addresses are applied to `info`.
/// What is refused is logged at debug level (any client can cause it).
pub async fn accept<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    info: &mut ConnInfo,
    gateway: &Gateway,
) -> Start {
    let config = gateway.config();
    let policy = &config.proxy_policy;
    let refuse = |why: &dyn fmt::Display, answer: &'static [u8]| {
        config.error_log.log(
            Level::Debug,
            format_args!("closing a connection from {}: {why}", info.peer),
        );
        Start::Refuse(policy.optional.then_some(answer))
    };
    let (parsed, bytes) = match read_start(reader, &**gateway.timer(), config.header_read_timeout).await {
        Ok(read) => read,
        Err(err) => return refuse(&err, MALFORMED),
    };
    let header = match parsed {
        Ok(header) => header,
        Err(ProxyError::NotProxy) if policy.optional => return Start::Plain(bytes),
        Err(err) => return refuse(&err, MALFORMED),
    };
    let v1 = bytes.first() == Some(&b'P');
    match (policy.versions, v1) {
        (ProxyVersions::V1, false) => {
            return refuse(&"a PROXY protocol v2 header where v1 is expected", MALFORMED);
        }
        (ProxyVersions::V2, true) => {
            return refuse(&"a PROXY protocol v1 header where v2 is expected", MALFORMED);
        }
        _ => {}
    }
    let allowed = match (&policy.allow_from, &info.peer) {
        (None, _) => true,
        (Some(peers), Addr::Tcp(peer)) => peers.trusts_ip(peer.ip()),
        // A unix peer is local: the machine's own proxy.
        (Some(_), Addr::Unix(_)) => true,
    };
    if !allowed {
        return refuse(
            &"a PROXY protocol header from a peer not allowed to send one",
            FORBIDDEN,
        );
    }
    apply(info, &header);
    Start::Header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> (ProxyHeader, usize) {
        match parse(bytes) {
            Ok(Parsed::Complete { header, consumed }) => (header, consumed),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(family);
        out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn v1_tcp4_tcp6_unknown() {
        let (header, used) = complete(b"PROXY TCP4 192.0.2.5 198.51.100.1 56324 443\r\nGET /");
        assert_eq!(used, 45);
        assert_eq!(
            header,
            ProxyHeader::Proxied {
                source: "192.0.2.5:56324".parse().unwrap(),
                destination: "198.51.100.1:443".parse().unwrap(),
            }
        );
        let (header, _) = complete(b"PROXY TCP6 2001:db8::1 ::1 65535 0\r\n");
        assert_eq!(
            header,
            ProxyHeader::Proxied {
                source: "[2001:db8::1]:65535".parse().unwrap(),
                destination: "[::1]:0".parse().unwrap(),
            }
        );
        assert_eq!(complete(b"PROXY UNKNOWN\r\n"), (ProxyHeader::Local, 15));
        assert_eq!(
            complete(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").0,
            ProxyHeader::Local
        );
    }

    #[test]
    fn v1_refusals() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..],
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ProxyError::V1(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("PROXY UNKNOWN {}", "x".repeat(100));
        assert_eq!(
            parse(long.as_bytes()),
            Err(ProxyError::V1("longer than 107 bytes"))
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Err(ProxyError::NotProxy));
        assert_eq!(parse(b"POST / HTTP/1.1\r\n"), Err(ProxyError::NotProxy));
    }

    #[test]
    fn incomplete_never_asks_past_the_header() {
        let full = b"PROXY TCP4 192.0.2.5 198.51.100.1 56324 443\r\n";
        for cut in 0..full.len() {
            match parse(&full[..cut]) {
                Ok(Parsed::Incomplete { at_least }) => {
                    assert!(at_least > cut && at_least <= full.len(), "cut {cut}: {at_least}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let full = v2(1, 0x11, &[1, 2, 3, 4, 5, 6, 7, 8, 0, 80, 1, 187]);
        for cut in 0..full.len() {
            match parse(&full[..cut]) {
                Ok(Parsed::Incomplete { at_least }) => {
                    assert!(at_least > cut && at_least <= full.len(), "cut {cut}: {at_least}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let unknown = b"PROXY UNKNOWN\r\n";
        assert!(matches!(
            parse(&unknown[..3]),
            Ok(Parsed::Incomplete { at_least: 15 })
        ));
    }

    #[test]
    fn v2_families_and_commands() {
        let body = [192, 0, 2, 5, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb];
        let (header, used) = complete(&[v2(1, 0x11, &body), b"GET".to_vec()].concat());
        assert_eq!(used, 28);
        assert_eq!(
            header,
            ProxyHeader::Proxied {
                source: "192.0.2.5:56324".parse().unwrap(),
                destination: "198.51.100.1:443".parse().unwrap(),
            }
        );
        // TLVs after the addresses are skipped.
        let mut with_tlv = body.to_vec();
        with_tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]);
        assert_eq!(complete(&v2(1, 0x11, &with_tlv)).1, 16 + 16);
        let mut six = vec![0u8; 36];
        six[15] = 1;
        six[31] = 2;
        six[32..34].copy_from_slice(&8080u16.to_be_bytes());
        six[34..36].copy_from_slice(&443u16.to_be_bytes());
        assert_eq!(
            complete(&v2(1, 0x21, &six)).0,
            ProxyHeader::Proxied {
                source: "[::1]:8080".parse().unwrap(),
                destination: "[::2]:443".parse().unwrap(),
            }
        );
        assert_eq!(complete(&v2(0, 0x00, &[])).0, ProxyHeader::Local);
        assert_eq!(complete(&v2(0, 0x11, &body)).0, ProxyHeader::Local);
        assert_eq!(complete(&v2(1, 0x31, &[0; 216])).0, ProxyHeader::Local);
        assert!(matches!(parse(&v2(1, 0x11, &body[..8])), Err(ProxyError::V2(_))));
        assert!(matches!(parse(&v2(1, 0x21, &body)), Err(ProxyError::V2(_))));
        assert!(matches!(parse(&v2(2, 0x11, &body)), Err(ProxyError::V2(_))));
        assert!(matches!(parse(&v2(1, 0x41, &body)), Err(ProxyError::V2(_))));
        let mut v1_version = v2(1, 0x11, &body);
        v1_version[12] = 0x11;
        assert!(matches!(parse(&v1_version), Err(ProxyError::V2(_))));
        assert_eq!(parse(b"\r\n\r\nnope"), Err(ProxyError::NotProxy));
    }

    #[test]
    fn applies_to_listeners() {
        assert!(!ProxyProtocol::Off.applies_to(0));
        assert!(ProxyProtocol::All.applies_to(7));
        let some = ProxyProtocol::Listeners(vec![1, 3]);
        assert!(some.applies_to(3) && !some.applies_to(0));
    }

    #[test]
    fn read_header_leaves_the_request() {
        let mut bytes = &b"PROXY TCP4 10.0.0.1 10.0.0.2 1000 80\r\nGET / HTTP/1.1\r\n\r\n"[..];
        let header =
            futures_lite::future::block_on(read_header(&mut bytes, &crate::ThreadTimer, None)).unwrap();
        assert!(matches!(header, ProxyHeader::Proxied { .. }));
        assert_eq!(bytes, b"GET / HTTP/1.1\r\n\r\n");
        let mut v2_bytes: &[u8] = &[v2(0, 0, &[]), b"rest".to_vec()].concat();
        let header =
            futures_lite::future::block_on(read_header(&mut v2_bytes, &crate::ThreadTimer, None)).unwrap();
        assert_eq!(header, ProxyHeader::Local);
        assert_eq!(v2_bytes, b"rest");
        let mut short = &b"PROXY TCP4 10.0"[..];
        let err =
            futures_lite::future::block_on(read_header(&mut short, &crate::ThreadTimer, None)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
