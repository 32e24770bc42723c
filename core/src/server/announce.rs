//! The lines every rwsgi command prints once it is bound.

use std::fmt;
use std::io::Write as _;

use super::Addr;

/// What a listener speaks, for its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// The uwsgi protocol (for nginx's `uwsgi_pass`).
    Uwsgi,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Uwsgi => "uwsgi",
        }
    }
}

/// The URL a client uses: `SCHEME://HOST:PORT` for TCP; for a unix socket
/// `unix:PATH`, followed by ` (SCHEME)` unless it is plain HTTP.
pub struct Url<'a>(pub &'a Addr, pub Scheme);

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Addr::Tcp(addr), scheme) => write!(f, "{}://{addr}", scheme.as_str()),
            (unix, Scheme::Http) => write!(f, "{unix}"),
            (unix, scheme) => write!(f, "{unix} ({})", scheme.as_str()),
        }
    }
}

/// Prints `rwsgi: listening on URL` for each listener, then `rwsgi:
/// serving WHAT`, on standard output: the lines operators see and tests
/// and tools wait for.
pub fn announce<'a>(listeners: impl IntoIterator<Item = (&'a Addr, Scheme)>, what: &str) {
    let mut out = std::io::stdout().lock();
    for (addr, scheme) in listeners {
        let _ = writeln!(out, "rwsgi: listening on {}", Url(addr, scheme));
    }
    let _ = writeln!(out, "rwsgi: serving {what}");
    let _ = out.flush();
}
