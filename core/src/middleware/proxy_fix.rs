//! `ProxyFix`: believe the `X-Forwarded-*` headers that trusted proxies set.

use std::fmt::{self, Write as _};

use super::TrustedPeers;
use super::header_list::parse_list_header;
use crate::{Application, Body, BoxError, Environ, StartResponse};

/// werkzeug's `ProxyFix`, with werkzeug's semantics exactly, plus two
/// opt-in guards: a [`TrustedPeers`] list and RFC 7239 `Forwarded`.
///
/// Each count says how many proxies in front of the app set that header:
/// the value used is the count-th from the right, so values a client put
/// further left are ignored. A count of 0 ignores the header. With fewer
/// values than the count, the header is ignored (there is no fallback to
/// the leftmost value).
///
/// | option | header | rewrites | default |
/// |---|---|---|---|
/// | `x_for` | `X-Forwarded-For` | `REMOTE_ADDR` | 1 |
/// | `x_proto` | `X-Forwarded-Proto` | `wsgi.url_scheme` | 1 |
/// | `x_host` | `X-Forwarded-Host` | `HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT` | 0 |
/// | `x_port` | `X-Forwarded-Port` | `HTTP_HOST`'s port, `SERVER_PORT` | 0 |
/// | `x_prefix` | `X-Forwarded-Prefix` | `SCRIPT_NAME` | 0 |
///
/// The values before any change are kept under `werkzeug.proxy_fix.orig`
/// as a [`ProxyFixOrig`], on every request. Values are used as sent,
/// without validation, exactly as werkzeug does.
///
/// Behind nginx with `proxy_set_header X-Forwarded-For
/// $proxy_add_x_forwarded_for` and `X-Forwarded-Proto $scheme` (one proxy):
///
/// ```
/// use rwsgi_core::{Body, Environ, StartResponse, middleware::ProxyFix, testing};
///
/// fn app(environ: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
///     sr.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from(format!("{} {}", environ.url_scheme, environ.remote_addr.clone().unwrap_or_default())))
/// }
/// let app = ProxyFix::new(app).x_for(1).x_proto(1).x_host(1);
/// let environ = Environ::from_pairs([
///     ("REMOTE_ADDR", "127.0.0.1"),
///     ("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7"), // the client forged the left one
///     ("HTTP_X_FORWARDED_PROTO", "https"),
/// ])?;
/// assert_eq!(testing::call(app, environ).body, "https 203.0.113.7");
/// # Ok::<(), rwsgi_core::EnvironError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProxyFix<A> {
    app: A,
    x_for: usize,
    x_proto: usize,
    x_host: usize,
    x_port: usize,
    x_prefix: usize,
    trusted: Option<TrustedPeers>,
    forwarded: bool,
}

/// The environ key werkzeug keeps the original values under.
pub const ORIG_KEY: &str = "werkzeug.proxy_fix.orig";

/// The six values `ProxyFix` may change, as they were before it ran
/// (`None` for a missing key): `environ["werkzeug.proxy_fix.orig"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyFixOrig {
    /// `REMOTE_ADDR`.
    pub remote_addr: Option<String>,
    /// `wsgi.url_scheme`.
    pub url_scheme: Option<String>,
    /// `HTTP_HOST`.
    pub http_host: Option<String>,
    /// `SERVER_NAME`.
    pub server_name: Option<String>,
    /// `SERVER_PORT`.
    pub server_port: Option<String>,
    /// `SCRIPT_NAME`.
    pub script_name: Option<String>,
}

impl ProxyFixOrig {
    fn snapshot(environ: &Environ) -> Self {
        let get = |k| environ.get(k).map(|v| v.into_owned());
        ProxyFixOrig {
            remote_addr: get("REMOTE_ADDR"),
            url_scheme: get("wsgi.url_scheme"),
            http_host: get("HTTP_HOST"),
            server_name: get("SERVER_NAME"),
            server_port: get("SERVER_PORT"),
            script_name: get("SCRIPT_NAME"),
        }
    }
}

/// Shows as the Python dict werkzeug stores.
impl fmt::Display for ProxyFixOrig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = [
            ("REMOTE_ADDR", &self.remote_addr),
            ("wsgi.url_scheme", &self.url_scheme),
            ("HTTP_HOST", &self.http_host),
            ("SERVER_NAME", &self.server_name),
            ("SERVER_PORT", &self.server_port),
            ("SCRIPT_NAME", &self.script_name),
        ];
        f.write_str("{")?;
        for (i, (key, value)) in entries.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}'{key}': ")?;
            match value {
                Some(v) => python_repr(f, v)?,
                None => f.write_str("None")?,
            }
        }
        f.write_str("}")
    }
}

/// Python's `repr` of a `str`: single quotes unless the string holds a `'`
/// and no `"`; `\\`, `\t`, `\n`, `\r` and `\xNN` for the non-printable
/// latin-1 chars.
fn python_repr(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\t' => f.write_str("\\t")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            c if c == quote => write!(f, "\\{c}")?,
            '\0'..='\x1f' | '\x7f'..='\u{a0}' | '\u{ad}' => write!(f, "\\x{:02x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

impl<A> ProxyFix<A> {
    /// Wraps `app` with werkzeug's defaults: `x_for=1, x_proto=1`, the rest 0.
    pub fn new(app: A) -> Self {
        ProxyFix {
            app,
            x_for: 1,
            x_proto: 1,
            x_host: 0,
            x_port: 0,
            x_prefix: 0,
            trusted: None,
            forwarded: false,
        }
    }

    /// Trusted values of `X-Forwarded-For` (default 1).
    #[must_use]
    pub fn x_for(mut self, n: usize) -> Self {
        self.x_for = n;
        self
    }

    /// Trusted values of `X-Forwarded-Proto` (default 1).
    #[must_use]
    pub fn x_proto(mut self, n: usize) -> Self {
        self.x_proto = n;
        self
    }

    /// Trusted values of `X-Forwarded-Host` (default 0).
    #[must_use]
    pub fn x_host(mut self, n: usize) -> Self {
        self.x_host = n;
        self
    }

    /// Trusted values of `X-Forwarded-Port` (default 0).
    #[must_use]
    pub fn x_port(mut self, n: usize) -> Self {
        self.x_port = n;
        self
    }

    /// Trusted values of `X-Forwarded-Prefix` (default 0).
    #[must_use]
    pub fn x_prefix(mut self, n: usize) -> Self {
        self.x_prefix = n;
        self
    }

    /// Believes the headers only from these direct peers; from any other,
    /// the environ is left as it is (the snapshot is still taken). Not in
    /// werkzeug; gunicorn's `forwarded_allow_ips` does the same.
    #[must_use]
    pub fn trusted_peers(mut self, peers: TrustedPeers) -> Self {
        self.trusted = Some(peers);
        self
    }

    /// Reads RFC 7239 `Forwarded` when a request has it, instead of
    /// `X-Forwarded-For/-Proto/-Host`: its `for`, `proto` and `host`
    /// parameters, each taken from the element that `x_for`, `x_proto` and
    /// `x_host` count from the right. A `for` of `ip:port` or `"[v6]:port"`
    /// also sets `REMOTE_PORT`; obfuscated and `unknown` nodes change
    /// nothing. `X-Forwarded-Port` and `-Prefix` still apply (RFC 7239 has
    /// no such parameters). Not in werkzeug.
    ///
    /// Turn it on only when the proxy in front sets or overwrites
    /// `Forwarded` itself: a proxy that sends `X-Forwarded-*` and passes a
    /// client's own `Forwarded` through would let that client choose its
    /// address, since any `Forwarded` header takes precedence.
    #[must_use]
    pub fn forwarded(mut self, enabled: bool) -> Self {
        self.forwarded = enabled;
        self
    }

    fn fix(&self, environ: &mut Environ) {
        let orig = ProxyFixOrig::snapshot(environ);
        let trusted = self
            .trusted
            .as_ref()
            .is_none_or(|peers| peers.trusts(orig.remote_addr.as_deref()));
        environ.insert_value(ORIG_KEY, orig);
        if !trusted {
            return;
        }
        let forwarded = self
            .forwarded
            .then(|| environ.get("HTTP_FORWARDED").map(|v| parse_forwarded(&v)))
            .flatten();
        let (for_, proto, host) = match &forwarded {
            Some(elements) => (
                nth_from_right(elements, self.x_for).and_then(|e| param(e, "for")),
                nth_from_right(elements, self.x_proto).and_then(|e| param(e, "proto")),
                nth_from_right(elements, self.x_host).and_then(|e| param(e, "host")),
            ),
            None => (
                real_value(environ, self.x_for, "HTTP_X_FORWARDED_FOR"),
                real_value(environ, self.x_proto, "HTTP_X_FORWARDED_PROTO"),
                real_value(environ, self.x_host, "HTTP_X_FORWARDED_HOST"),
            ),
        };
        if let Some(addr) = for_ {
            if forwarded.is_some() {
                set_node(environ, &addr);
            } else {
                environ.remote_addr = Some(addr);
            }
        }
        if let Some(scheme) = proto {
            environ.url_scheme = scheme.into();
        }
        if let Some(host) = host {
            let _ = environ.set("HTTP_HOST", host.clone());
            match split_port(&host) {
                Some((name, port)) => {
                    environ.server_name = name.to_owned();
                    environ.server_port = port.to_owned();
                }
                None => environ.server_name = host,
            }
        }
        if let Some(port) = real_value(environ, self.x_port, "HTTP_X_FORWARDED_PORT") {
            if let Some(host) = environ.get("HTTP_HOST").filter(|h| !h.is_empty()) {
                let name = split_port(&host).map_or(&*host, |(name, _)| name);
                let host = format!("{name}:{port}");
                let _ = environ.set("HTTP_HOST", host);
            }
            environ.server_port = port;
        }
        if let Some(prefix) = real_value(environ, self.x_prefix, "HTTP_X_FORWARDED_PREFIX") {
            environ.script_name = prefix;
        }
    }
}

impl<A: Application> Application for ProxyFix<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        self.fix(environ);
        self.app.call(environ, start_response)
    }
}

/// werkzeug's `_get_real_value`: the `trusted`-th value from the right of a
/// list header, if there are that many and it is not empty.
fn real_value(environ: &Environ, trusted: usize, key: &str) -> Option<String> {
    if trusted == 0 {
        return None;
    }
    let raw = environ.get(key)?;
    let items = parse_list_header(&raw);
    nth_from_right(&items, trusted).filter(|v| !v.is_empty()).cloned()
}

fn nth_from_right<T>(items: &[T], n: usize) -> Option<&T> {
    (n > 0 && items.len() >= n).then(|| &items[items.len() - n])
}

/// `host:port` split at the last `:`, unless the host ends with `]` (a
/// bracketed IPv6 literal without a port) — werkzeug's rule.
fn split_port(host: &str) -> Option<(&str, &str)> {
    if host.ends_with(']') {
        return None;
    }
    host.rsplit_once(':')
}

/// RFC 7239 elements: each a list of `(name, value)` pairs, names
/// lower-cased, values unquoted.
fn parse_forwarded(header: &str) -> Vec<Vec<(String, String)>> {
    parse_list_header(header)
        .iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    let value = value.trim();
                    let value = value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(value);
                    Some((name.trim().to_ascii_lowercase(), value.to_owned()))
                })
                .collect()
        })
        .collect()
}

fn param(element: &[(String, String)], name: &str) -> Option<String> {
    element
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// Sets `REMOTE_ADDR` (and `REMOTE_PORT`) from an RFC 7239 node.
fn set_node(environ: &mut Environ, node: &str) {
    let (addr, port) = if let Some(rest) = node.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, port)) => (addr, port.strip_prefix(':')),
            None => return,
        }
    } else {
        match node.split_once(':') {
            // More than one `:`: an IPv6 address without brackets, no port.
            Some((_, port)) if port.contains(':') => (node, None),
            Some((addr, port)) => (addr, Some(port)),
            None => (node, None),
        }
    };
    // The node name decides, with or without a port (`unknown:4711`).
    if addr.eq_ignore_ascii_case("unknown") || addr.starts_with('_') {
        return;
    }
    environ.remote_addr = Some(addr.to_owned());
    if let Some(port) = port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        environ.remote_port = Some(port.to_owned());
    }
}
