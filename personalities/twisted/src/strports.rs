//! Twisted's strports: the endpoint descriptions `twistd web --listen`
//! takes (`twisted.internet.endpoints.serverFromString`).
//!
//! | description | meaning |
//! |---|---|
//! | `tcp:8080`, `tcp:port=8080:interface=127.0.0.1:backlog=50` | TCP over IPv4 (interface `""`: every interface); positional order `port`, `interface`, `backlog` |
//! | `tcp6:port=8080:interface=\:\:1` | TCP over IPv6 (interface default `::`); positional order `port`, `backlog`, `interface` |
//! | `unix:address=/run/app.sock:mode=660:lockfile=1:backlog=50` | a unix socket (mode octal, default 666; `lockfile=1` takes `ADDRESS.lock`); positional order `address`, `mode`, `backlog`, `lockfile` |
//! | `systemd:domain=INET:index=0`, `systemd:domain=UNIX:name=web` | a socket systemd passed (by position among `LISTEN_FDS`, or by `FileDescriptorName`) |
//! | `ssl:port=8443:privateKey=key.pem:certKey=cert.pem` | TLS over TCP (rustls); `certKey` defaults to `privateKey` (one PEM holding both), `extraCertChain=chain.pem` adds the rest of the chain; positional order `port`, `privateKey`, `certKey`, `sslmethod`, `interface`, `backlog`, `extraCertChain`, `dhParameters` |
//! | `haproxy:tcp:8080` | any of the above, expecting HAProxy's PROXY protocol (v1 or v2) first |
//!
//! The grammar is twisted's: `:` separates arguments, the first `=` in an
//! argument separates a keyword from its value (later `=` are part of the
//! value), and a backslash takes the next character literally (`\:` for a
//! colon inside an IPv6 address or a path). Arguments without `=` are
//! positional. The endpoint type is matched as twisted matches it.
//!
//! [`parse`] is a pure function over a string; every error names the part
//! of the description at fault.
//!
//! ```
//! use rwsgi_twisted::strports::{parse, Endpoint};
//! let ep = parse(r"tcp6:port=8080:interface=\:\:1").unwrap();
//! assert_eq!(ep, Endpoint::Tcp6 { port: 8080, interface: "::1".into(), backlog: 50 });
//! let err = parse("tcp:port=80:colour=blue").unwrap_err();
//! assert!(err.to_string().contains("colour"));
//! ```

use std::fmt;

/// A listening endpoint, as a strports description names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp:`: TCP over IPv4.
    Tcp {
        /// The port (0: any free port).
        port: u16,
        /// The interface to bind; `""` is every IPv4 interface.
        interface: String,
        /// `listen(2)`'s backlog (default 50).
        backlog: u32,
    },
    /// `tcp6:`: TCP over IPv6.
    Tcp6 {
        /// The port.
        port: u16,
        /// The interface (default `::`).
        interface: String,
        /// The backlog (default 50).
        backlog: u32,
    },
    /// `ssl:`: TLS over TCP.
    Ssl {
        /// The port.
        port: u16,
        /// The interface; `""` is every IPv4 interface.
        interface: String,
        /// The backlog (default 50).
        backlog: u32,
        /// The private key file (default `server.pem`).
        private_key: String,
        /// The certificate file (default: `private_key`).
        cert_key: String,
        /// More certificates of the chain.
        extra_cert_chain: Option<String>,
    },
    /// `unix:`: a unix socket.
    Unix {
        /// The socket's path.
        address: String,
        /// The socket file's permission bits (default `0o666`).
        mode: u32,
        /// The backlog (default 50).
        backlog: u32,
        /// Take a lock file `ADDRESS.lock` naming this process (default
        /// true), so that a second server refuses the same socket.
        lockfile: bool,
    },
    /// `systemd:`: an inherited socket.
    Systemd {
        /// The address family, without `AF_`: `INET`, `INET6` or `UNIX`.
        domain: String,
        /// Which inherited socket.
        which: SystemdSocket,
    },
    /// `haproxy:`: the wrapped endpoint, expecting a PROXY header.
    Haproxy(Box<Endpoint>),
}

/// How a `systemd:` endpoint picks its socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemdSocket {
    /// The position among the passed sockets (`index=0` is descriptor 3).
    Index(usize),
    /// The `FileDescriptorName=` of the socket unit (`LISTEN_FDNAMES`).
    Name(String),
}

impl Endpoint {
    /// Whether the endpoint is wrapped by `haproxy:`.
    pub fn is_haproxy(&self) -> bool {
        matches!(self, Endpoint::Haproxy(_))
    }

    /// The endpoint under any `haproxy:` wrapping.
    pub fn inner(&self) -> &Endpoint {
        match self {
            Endpoint::Haproxy(inner) => inner.inner(),
            other => other,
        }
    }
}

/// A description that does not parse, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrportsError {
    /// The whole description.
    pub description: String,
    /// The byte range of the part at fault.
    pub span: (usize, usize),
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for StrportsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = self.span;
        let chars =
            |range: std::ops::Range<usize>| self.description.get(range).map_or(0, |s| s.chars().count());
        let width = chars(start..end.max(start)).max(1);
        let pad = chars(0..start);
        write!(
            f,
            "bad endpoint description: {}\n  {}\n  {}{}",
            self.message,
            self.description,
            " ".repeat(pad),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for StrportsError {}

/// One `:`-separated argument: its value(s) as tokenized, and where it is.
#[derive(Clone, Debug)]
struct Arg {
    /// `[value]` for a positional argument, `[key, value]` for a keyword.
    parts: Vec<String>,
    span: (usize, usize),
}

/// Parses a strports description.
///
/// # Errors
///
/// A [`StrportsError`] pointing at the unknown type, the unexpected or
/// missing argument, or the value that does not convert.
pub fn parse(description: &str) -> Result<Endpoint, StrportsError> {
    let args = tokenize(description)?;
    parse_args(description, &args)
}

/// [`parse`] over bytes (for fuzzing): they must be UTF-8.
///
/// # Errors
///
/// As [`parse`], and for bytes that are not UTF-8.
pub fn parse_bytes(description: &[u8]) -> Result<Endpoint, StrportsError> {
    let text = std::str::from_utf8(description).map_err(|err| StrportsError {
        description: String::from_utf8_lossy(description).into_owned(),
        // The lossy copy keeps the valid prefix; the first bad byte becomes
        // U+FFFD, which the span covers whole.
        span: (
            err.valid_up_to(),
            err.valid_up_to() + char::REPLACEMENT_CHARACTER.len_utf8(),
        ),
        message: "the description is not UTF-8".into(),
    })?;
    parse(text)
}

/// Twisted's `_tokenize` + `_parse`: splits on `:` and `=`, with `\`
/// escapes; after a `=` only `:` separates (a second `=` is literal).
fn tokenize(description: &str) -> Result<Vec<Arg>, StrportsError> {
    let mut args = Vec::new();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut equals_allowed = true;
    let mut chars = description.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            ':' => {
                parts.push(std::mem::take(&mut current));
                args.push(Arg {
                    parts: std::mem::take(&mut parts),
                    span: (start, at),
                });
                start = at + 1;
                equals_allowed = true;
            }
            '=' if equals_allowed => {
                parts.push(std::mem::take(&mut current));
                equals_allowed = false;
            }
            '\\' => match chars.next() {
                Some((_, escaped)) => current.push(escaped),
                None => {
                    return Err(StrportsError {
                        description: description.to_owned(),
                        span: (at, at + 1),
                        message: "a backslash at the end escapes nothing".into(),
                    });
                }
            },
            other => current.push(other),
        }
    }
    parts.push(current);
    args.push(Arg {
        parts,
        span: (start, description.len()),
    });
    Ok(args)
}

/// What a parameter converts to.
#[derive(Clone, Copy)]
enum Kind {
    Port,
    Int,
    Octal,
    Bool01,
    Text,
    /// A parameter twisted has and rwsgi refuses, with why.
    Unsupported(&'static str),
}

fn parse_args(description: &str, args: &[Arg]) -> Result<Endpoint, StrportsError> {
    let err = |span: (usize, usize), message: String| StrportsError {
        description: description.to_owned(),
        span,
        message,
    };
    let first = &args[0];
    if first.parts.len() != 1 || first.parts[0].is_empty() {
        return Err(err(
            first.span,
            "expected an endpoint type first (tcp, tcp6, ssl, unix, systemd, haproxy)".into(),
        ));
    }
    let kind = first.parts[0].as_str();
    // twisted looks tcp/unix/ssl up exactly, plugins case-insensitively.
    let lowered = kind.to_ascii_lowercase();
    let params: &[(&str, Kind)] = match (kind, lowered.as_str()) {
        ("tcp", _) => &[
            ("port", Kind::Port),
            ("interface", Kind::Text),
            ("backlog", Kind::Int),
        ],
        ("unix", _) => &[
            ("address", Kind::Text),
            ("mode", Kind::Octal),
            ("backlog", Kind::Int),
            ("lockfile", Kind::Bool01),
        ],
        (_, "tcp6") => &[
            ("port", Kind::Port),
            ("backlog", Kind::Int),
            ("interface", Kind::Text),
        ],
        (_, "systemd") => &[("domain", Kind::Text), ("index", Kind::Int), ("name", Kind::Text)],
        (_, "haproxy") => {
            if args.len() < 2 {
                return Err(err(
                    (first.span.1, first.span.1),
                    "haproxy: wraps another endpoint (haproxy:tcp:8080)".into(),
                ));
            }
            let inner = parse_args(description, &args[1..])?;
            if inner.is_haproxy() {
                return Err(err(args[1].span, "haproxy: cannot wrap haproxy:".into()));
            }
            return Ok(Endpoint::Haproxy(Box::new(inner)));
        }
        ("ssl", _) => &[
            ("port", Kind::Port),
            ("privateKey", Kind::Text),
            ("certKey", Kind::Text),
            (
                "sslmethod",
                Kind::Unsupported("rustls negotiates TLS 1.2 or 1.3 itself"),
            ),
            ("interface", Kind::Text),
            ("backlog", Kind::Int),
            ("extraCertChain", Kind::Text),
            (
                "dhParameters",
                Kind::Unsupported("rustls offers no finite-field Diffie-Hellman"),
            ),
        ],
        (_, "tls") => {
            return Err(err(
                first.span,
                "tls: is a client endpoint; a server listens with ssl:port=…:privateKey=…".into(),
            ));
        }
        (_, "stdio") => return Err(err(first.span, "stdio: cannot serve HTTP connections".into())),
        _ => return Err(err(first.span, format!("unknown endpoint type: '{lowered}'"))),
    };
    // Python's call rules: positionals fill parameters in order, keywords
    // by name; a parameter given twice, or one that does not exist, fails.
    let mut values: Vec<Option<(String, (usize, usize))>> = vec![None; params.len()];
    let mut positional = 0;
    for arg in &args[1..] {
        match &arg.parts[..] {
            [value] => {
                if positional >= params.len() {
                    return Err(err(
                        arg.span,
                        format!("{kind}: takes at most {} positional arguments", params.len()),
                    ));
                }
                values[positional] = Some((value.clone(), arg.span));
                positional += 1;
            }
            [key, value] => {
                let Some(slot) = params.iter().position(|(name, _)| name == key) else {
                    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
                    return Err(err(
                        arg.span,
                        format!(
                            "{kind}: unexpected argument '{key}' (expected {})",
                            names.join(", ")
                        ),
                    ));
                };
                if slot < positional {
                    return Err(err(arg.span, format!("{kind}: got multiple values for '{key}'")));
                }
                // A repeated keyword: the last wins, as in a Python dict.
                values[slot] = Some((value.clone(), arg.span));
            }
            _ => unreachable!("an argument has one or two parts"),
        }
    }
    let mut out: Vec<Converted> = Vec::with_capacity(params.len());
    for ((name, kind_of), value) in params.iter().zip(values) {
        out.push(match value {
            None => Converted::Missing,
            Some((text, span)) => {
                convert(&text, *kind_of).map_err(|why| err(span, format!("{name}: {why}")))?
            }
        });
    }
    let missing = |name: &str| {
        err(
            (description.len(), description.len()),
            format!("{kind}: missing required argument '{name}'"),
        )
    };
    let int = |c: &Converted, default: u64| match c {
        Converted::Int(n) => *n,
        _ => default,
    };
    let text = |c: &Converted, default: &str| match c {
        Converted::Text(t) => t.clone(),
        _ => default.to_owned(),
    };
    let backlog = |c: &Converted| u32::try_from(int(c, 50)).unwrap_or(u32::MAX);
    match lowered.as_str() {
        "tcp" => {
            let Converted::Int(port) = out[0] else {
                return Err(missing("port"));
            };
            Ok(Endpoint::Tcp {
                port: port as u16,
                interface: text(&out[1], ""),
                backlog: backlog(&out[2]),
            })
        }
        "tcp6" => {
            let Converted::Int(port) = out[0] else {
                return Err(missing("port"));
            };
            Ok(Endpoint::Tcp6 {
                port: port as u16,
                backlog: backlog(&out[1]),
                interface: text(&out[2], "::"),
            })
        }
        "ssl" => {
            let Converted::Int(port) = out[0] else {
                return Err(missing("port"));
            };
            let private_key = text(&out[1], "server.pem");
            Ok(Endpoint::Ssl {
                port: port as u16,
                cert_key: text(&out[2], &private_key),
                private_key,
                interface: text(&out[4], ""),
                backlog: backlog(&out[5]),
                extra_cert_chain: match &out[6] {
                    Converted::Text(t) => Some(t.clone()),
                    _ => None,
                },
            })
        }
        "unix" => {
            let Converted::Text(address) = &out[0] else {
                return Err(missing("address"));
            };
            if address.is_empty() {
                return Err(err(args[1].span, "unix: the address (a path) is empty".into()));
            }
            Ok(Endpoint::Unix {
                address: address.clone(),
                mode: u32::try_from(int(&out[1], 0o666)).unwrap_or(0o666),
                backlog: backlog(&out[2]),
                lockfile: !matches!(out[3], Converted::Int(0)),
            })
        }
        _ => {
            // systemd
            let Converted::Text(domain) = &out[0] else {
                return Err(missing("domain"));
            };
            if !matches!(domain.as_str(), "INET" | "INET6" | "UNIX") {
                return Err(err(
                    args[1].span,
                    format!("systemd: domain must be INET, INET6 or UNIX (AF_ names), not '{domain}'"),
                ));
            }
            let which = match (&out[1], &out[2]) {
                (Converted::Int(i), Converted::Missing) => SystemdSocket::Index(*i as usize),
                (Converted::Missing, Converted::Text(name)) => SystemdSocket::Name(name.clone()),
                _ => {
                    return Err(err(
                        first.span,
                        "systemd: specify exactly one of descriptor index or name".into(),
                    ));
                }
            };
            Ok(Endpoint::Systemd {
                domain: domain.clone(),
                which,
            })
        }
    }
}

enum Converted {
    Missing,
    Int(u64),
    Text(String),
}

fn convert(text: &str, kind: Kind) -> Result<Converted, String> {
    // Python's int() accepts surrounding whitespace and a sign.
    let trimmed = text.trim();
    let int = |radix: u32| -> Result<u64, String> {
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits = digits.replace('_', "");
        u64::from_str_radix(&digits, radix).map_err(|_| format!("'{text}' is not a number"))
    };
    match kind {
        Kind::Port => {
            let n = int(10)?;
            if n > 65_535 {
                return Err(format!("'{text}' is not a port number (0 to 65535)"));
            }
            Ok(Converted::Int(n))
        }
        Kind::Int => Ok(Converted::Int(int(10)?)),
        Kind::Octal => {
            let n = int(8).map_err(|_| format!("'{text}' is not an octal mode (like 660)"))?;
            if n > 0o7777 {
                return Err(format!("'{text}' is not a file mode"));
            }
            Ok(Converted::Int(n))
        }
        Kind::Bool01 => match int(10)? {
            0 => Ok(Converted::Int(0)),
            _ => Ok(Converted::Int(1)),
        },
        Kind::Text => Ok(Converted::Text(text.to_owned())),
        Kind::Unsupported(why) => Err(format!("not supported: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(port: u16, interface: &str, backlog: u32) -> Endpoint {
        Endpoint::Tcp {
            port,
            interface: interface.into(),
            backlog,
        }
    }

    #[test]
    fn ssl_endpoints() {
        let ssl =
            |port, private_key: &str, cert_key: &str, interface: &str, chain: Option<&str>| Endpoint::Ssl {
                port,
                interface: interface.into(),
                backlog: 50,
                private_key: private_key.into(),
                cert_key: cert_key.into(),
                extra_cert_chain: chain.map(Into::into),
            };
        assert_eq!(
            parse("ssl:443"),
            Ok(ssl(443, "server.pem", "server.pem", "", None))
        );
        assert_eq!(
            parse("ssl:443:key.pem"),
            Ok(ssl(443, "key.pem", "key.pem", "", None))
        );
        assert_eq!(
            parse("ssl:port=8443:privateKey=k.pem:certKey=c.pem:interface=127.0.0.1:extraCertChain=ca.pem"),
            Ok(ssl(8443, "k.pem", "c.pem", "127.0.0.1", Some("ca.pem")))
        );
        assert_eq!(
            parse("haproxy:ssl:443:k.pem"),
            Ok(Endpoint::Haproxy(Box::new(ssl(443, "k.pem", "k.pem", "", None))))
        );
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(parse("tcp:8080"), Ok(tcp(8080, "", 50)));
        assert_eq!(
            parse("tcp:port=80:interface=127.0.0.1:backlog=50"),
            Ok(tcp(80, "127.0.0.1", 50))
        );
        assert_eq!(parse("tcp:80:127.0.0.1:7"), Ok(tcp(80, "127.0.0.1", 7)));
        assert_eq!(parse("tcp:interface=10.0.0.1:port=0"), Ok(tcp(0, "10.0.0.1", 50)));
        assert_eq!(parse("tcp:port=1:port=2"), Ok(tcp(2, "", 50)));
    }

    #[test]
    fn tcp6_escaped_colons() {
        assert_eq!(
            parse(r"tcp6:port=80:interface=\:\:1"),
            Ok(Endpoint::Tcp6 {
                port: 80,
                interface: "::1".into(),
                backlog: 50
            })
        );
        assert_eq!(
            parse("tcp6:443"),
            Ok(Endpoint::Tcp6 {
                port: 443,
                interface: "::".into(),
                backlog: 50
            })
        );
        // tcp6's positional order is port, backlog, interface.
        assert_eq!(
            parse(r"tcp6:80:10:fe80\:\:1"),
            Ok(Endpoint::Tcp6 {
                port: 80,
                interface: "fe80::1".into(),
                backlog: 10
            })
        );
        assert_eq!(parse("TCP6:80").unwrap(), parse("tcp6:80").unwrap());
    }

    #[test]
    fn unix_options() {
        assert_eq!(
            parse("unix:address=/tmp/a.sock:mode=660:lockfile=1:backlog=7"),
            Ok(Endpoint::Unix {
                address: "/tmp/a.sock".into(),
                mode: 0o660,
                backlog: 7,
                lockfile: true
            })
        );
        assert_eq!(
            parse("unix:/run/x.sock"),
            Ok(Endpoint::Unix {
                address: "/run/x.sock".into(),
                mode: 0o666,
                backlog: 50,
                lockfile: true
            })
        );
        assert!(matches!(
            parse("unix:/x:600:5:0"),
            Ok(Endpoint::Unix {
                mode: 0o600,
                backlog: 5,
                lockfile: false,
                ..
            })
        ));
        // A value keeps its later '=' and escaped ':'.
        assert!(matches!(
            parse(r"unix:address=/tmp/a=b\:c"),
            Ok(Endpoint::Unix { address, .. }) if address == "/tmp/a=b:c"
        ));
    }

    #[test]
    fn systemd_and_haproxy() {
        assert_eq!(
            parse("systemd:domain=INET:index=0"),
            Ok(Endpoint::Systemd {
                domain: "INET".into(),
                which: SystemdSocket::Index(0)
            })
        );
        assert_eq!(
            parse("systemd:domain=UNIX:name=web"),
            Ok(Endpoint::Systemd {
                domain: "UNIX".into(),
                which: SystemdSocket::Name("web".into())
            })
        );
        assert_eq!(
            parse("haproxy:tcp:8080"),
            Ok(Endpoint::Haproxy(Box::new(tcp(8080, "", 50))))
        );
        assert_eq!(
            parse("haproxy:tcp:port=80:interface=127.0.0.1").unwrap().inner(),
            &tcp(80, "127.0.0.1", 50)
        );
        assert!(parse(r"haproxy:unix:/tmp/h.sock:mode=600").unwrap().is_haproxy());
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        let cases = [
            (
                "tcp:port=80:colour=blue",
                "colour=blue",
                "unexpected argument 'colour'",
            ),
            ("tcp:port=http", "port=http", "is not a number"),
            ("tcp:70000", "70000", "not a port number"),
            ("bogus:80", "bogus", "unknown endpoint type: 'bogus'"),
            ("8080", "8080", "unknown endpoint type"),
            ("unix:/x:mode=999", "mode=999", "octal"),
            ("tcp:1:2:3:4", "4", "at most 3 positional"),
            ("tcp:80:port=81", "port=81", "multiple values for 'port'"),
            (
                "systemd:domain=INET",
                "systemd",
                "exactly one of descriptor index or name",
            ),
            ("systemd:domain=INET:index=0:name=x", "systemd", "exactly one"),
            (
                "systemd:domain=AF_INET:index=0",
                "domain=AF_INET",
                "INET, INET6 or UNIX",
            ),
            (
                "ssl:443:sslmethod=TLSv1_2_METHOD",
                "sslmethod=TLSv1_2_METHOD",
                "rustls negotiates",
            ),
            (
                "ssl:443:dhParameters=dh.pem",
                "dhParameters=dh.pem",
                "Diffie-Hellman",
            ),
            ("tls:example.com:443", "tls", "client endpoint"),
            ("", "", "endpoint type first"),
            (":80", "", "endpoint type first"),
            ("haproxy:haproxy:tcp:80", "haproxy", "cannot wrap"),
        ];
        for (description, part, message) in cases {
            let err = parse(description).unwrap_err();
            assert!(err.message.contains(message), "{description}: {err}");
            assert_eq!(&description[err.span.0..err.span.1], part, "{description}: {err}");
        }
        let err = parse("tcp:interface=1.2.3.4").unwrap_err();
        assert!(err.message.contains("missing required argument 'port'"), "{err}");
        let err = parse("tcp:80\\").unwrap_err();
        assert!(err.message.contains("backslash"), "{err}");
        let shown = parse("tcp:port=80:colour=blue").unwrap_err().to_string();
        assert!(
            shown.ends_with("\n  tcp:port=80:colour=blue\n              ^^^^^^^^^^^"),
            "{shown}"
        );
        assert!(parse_bytes(b"tcp:\xff").is_err());
        // Found by the strports fuzz target: the caret line of a bad byte
        // after multi-byte text.
        let shown = parse_bytes(
            "tcp:port=1:interface=é\u{1}"
                .as_bytes()
                .iter()
                .copied()
                .chain([0xff, b'x'])
                .collect::<Vec<_>>()
                .as_slice(),
        )
        .unwrap_err()
        .to_string();
        assert!(shown.contains("not UTF-8"), "{shown}");
    }
}
