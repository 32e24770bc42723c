//! `ProxyFix`, table-driven.
//!
//! The expectations come from the rulebook
//! (`/work/shared/reference/proxyfix-semantics.md`: werkzeug 3.1.8's
//! `ProxyFix` and `parse_list_header`) and, for rwsgi's own extensions
//! (trusted peers, RFC 7239 `Forwarded`), from the doc comments of
//! `ProxyFix` and `TrustedPeers`. Section numbers in the comments (§2.3,
//! §3.4, …) are the rulebook's.
//!
//! Each case builds an environ from `(key, value)` pairs, runs it through
//! `ProxyFix` around a probe app with `testing::call`, and checks the six
//! values ProxyFix may change, the `werkzeug.proxy_fix.orig` snapshot, any
//! extra keys the case names, and that nothing else in the environ changed.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rwsgi_core::middleware::{ORIG_KEY, ProxyFix, ProxyFixOrig, TrustedPeers};
use rwsgi_core::{
    Application, Body, BoxError, ContractError, Environ, HeaderPair, Respond, SharedApp, StartResponse,
    testing,
};

// ---------------------------------------------------------------------------
// The table's vocabulary.

/// How the middleware is configured.
#[derive(Clone, Copy, Debug)]
struct Fix {
    /// `[x_for, x_proto, x_host, x_port, x_prefix]`; `None`: `ProxyFix::new`
    /// untouched, to pin the defaults.
    counts: Option<[usize; 5]>,
    /// `TrustedPeers` in `--forwarded-allow-ips` syntax.
    peers: Option<&'static str>,
    /// `.forwarded(true)`.
    forwarded: bool,
}

/// `ProxyFix::new(app)` with nothing set.
const DEFAULTS: Fix = Fix {
    counts: None,
    peers: None,
    forwarded: false,
};

/// `x_for, x_proto, x_host, x_port, x_prefix`.
const fn x(x_for: usize, x_proto: usize, x_host: usize, x_port: usize, x_prefix: usize) -> Fix {
    Fix {
        counts: Some([x_for, x_proto, x_host, x_port, x_prefix]),
        peers: None,
        forwarded: false,
    }
}

impl Fix {
    const fn peers(self, list: &'static str) -> Fix {
        Fix {
            peers: Some(list),
            ..self
        }
    }

    const fn forwarded(self) -> Fix {
        Fix {
            forwarded: true,
            ..self
        }
    }
}

/// The six keys ProxyFix may change (and snapshots), in werkzeug's order.
/// Only `REMOTE_ADDR` and `HTTP_HOST` can be missing from an rwsgi environ.
#[derive(Clone, Copy, Debug)]
struct Six {
    remote_addr: Option<&'static str>,
    url_scheme: &'static str,
    http_host: Option<&'static str>,
    server_name: &'static str,
    server_port: &'static str,
    script_name: &'static str,
}

/// `REMOTE_ADDR, wsgi.url_scheme, HTTP_HOST, SERVER_NAME, SERVER_PORT, SCRIPT_NAME`.
const fn six(
    remote_addr: Option<&'static str>,
    url_scheme: &'static str,
    http_host: Option<&'static str>,
    server_name: &'static str,
    server_port: &'static str,
    script_name: &'static str,
) -> Six {
    Six {
        remote_addr,
        url_scheme,
        http_host,
        server_name,
        server_port,
        script_name,
    }
}

const SIX_KEYS: [&str; 6] = [
    "REMOTE_ADDR",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
];

impl Six {
    fn values(&self) -> [Option<String>; 6] {
        [
            self.remote_addr.map(str::to_owned),
            Some(self.url_scheme.to_owned()),
            self.http_host.map(str::to_owned),
            Some(self.server_name.to_owned()),
            Some(self.server_port.to_owned()),
            Some(self.script_name.to_owned()),
        ]
    }

    fn orig(&self) -> ProxyFixOrig {
        let [
            remote_addr,
            url_scheme,
            http_host,
            server_name,
            server_port,
            script_name,
        ] = self.values();
        ProxyFixOrig {
            remote_addr,
            url_scheme,
            http_host,
            server_name,
            server_port,
            script_name,
        }
    }
}

type Pairs = &'static [(&'static str, &'static str)];

/// A backend behind one proxy at 10.0.0.1: what most cases start from.
const BACKEND: Pairs = &[
    ("REMOTE_ADDR", "10.0.0.1"),
    ("REMOTE_PORT", "54321"),
    ("HTTP_HOST", "backend:8000"),
    ("SERVER_NAME", "backend"),
    ("SERVER_PORT", "8000"),
];

/// [`BACKEND`]'s six values: the snapshot of most cases, and the result of
/// those that change nothing.
const BACKEND_SIX: Six = six(
    Some("10.0.0.1"),
    "http",
    Some("backend:8000"),
    "backend",
    "8000",
    "",
);

/// Nothing: `Environ::new()`'s `localhost:80`, `http`, no `REMOTE_ADDR`, no `HTTP_HOST`.
const BARE: Pairs = &[];

struct Case {
    name: &'static str,
    fix: Fix,
    /// Applied first; `env` is applied over it (a later pair replaces an
    /// earlier one).
    base: Pairs,
    env: Pairs,
    want: Six,
    orig: Six,
    /// Other keys to check after the middleware ran (`None`: absent).
    also: &'static [(&'static str, Option<&'static str>)],
}

// ---------------------------------------------------------------------------
// The table.

#[rustfmt::skip]
const CASES: &[Case] = &[
    // ---- §1 configuration and defaults ------------------------------------
    // §1: ProxyFix::new is x_for=1, x_proto=1, the rest 0: Host/Port/Prefix headers are ignored.
    Case {
        name: "defaults apply for and proto only",
        fix: DEFAULTS,
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "example.com"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/app"),
        ],
        want: six(Some("203.0.113.7"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.0: without any X-Forwarded header nothing changes, but the snapshot is still written.
    Case {
        name: "defaults without headers",
        fix: DEFAULTS,
        base: BACKEND,
        env: &[],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §1/§3.0: a count of 0 turns its header off; all five 0 changes nothing, yet the snapshot is written.
    Case {
        name: "all counts zero",
        fix: x(0, 0, 0, 0, 0),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "example.com"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/app"),
        ],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.0: the snapshot holds None for the keys that were missing (REMOTE_ADDR, HTTP_HOST).
    Case {
        name: "snapshot of a bare environ",
        fix: DEFAULTS,
        base: BARE,
        env: &[],
        want: six(None, "http", None, "localhost", "80", ""),
        orig: six(None, "http", None, "localhost", "80", ""),
        also: &[],
    },
    // §3.0/§3.1/§3.3: missing keys are snapshotted as None and then created by the headers.
    Case {
        name: "missing REMOTE_ADDR and HTTP_HOST are created",
        fix: x(1, 1, 1, 0, 0),
        base: BARE,
        env: &[("HTTP_X_FORWARDED_FOR", "203.0.113.7"), ("HTTP_X_FORWARDED_HOST", "example.com")],
        want: six(Some("203.0.113.7"), "http", Some("example.com"), "example.com", "80", ""),
        orig: six(None, "http", None, "localhost", "80", ""),
        also: &[],
    },
    // ---- §2.3 counting from the right ---------------------------------------
    // §2.3: x_for=1 takes the rightmost value; a client-forged value further left is ignored.
    Case {
        name: "x_for=1 takes the rightmost",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3: x_for=2 takes the second value from the right.
    Case {
        name: "x_for=2 takes the second from the right",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7, 198.51.100.2")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3: a count equal to the list's length takes the leftmost value.
    Case {
        name: "x_for equal to the length takes the leftmost",
        fix: x(3, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "203.0.113.7, 198.51.100.2, 192.0.2.1")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3: fewer values than trusted → the header is ignored; there is no fallback to the leftmost.
    Case {
        name: "fewer values than x_for: ignored",
        fix: x(3, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "203.0.113.7, 198.51.100.2")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3: the same for proto: x_proto=2 with one value leaves wsgi.url_scheme alone.
    Case {
        name: "fewer values than x_proto: ignored",
        fix: x(0, 2, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PROTO", "https")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3/§5: more hops than trusted → still the count-th from the right, never further left.
    Case {
        name: "more hops than trusted",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.3/§3.3: x_host=2 takes the second host from the right.
    Case {
        name: "x_host=2 takes the second from the right",
        fix: x(0, 0, 2, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "evil.example, example.com, cdn.internal")],
        want: six(Some("10.0.0.1"), "http", Some("example.com"), "example.com", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- §2.2 list parsing --------------------------------------------------
    // §2.2: a leading empty item is dropped before counting (upstream "ignore empty": one item < x_for=2).
    Case {
        name: "leading empty item dropped, x_for=2",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", ", 192.168.0.3")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: a leading empty item is dropped; x_for=1 still finds the only real item.
    Case {
        name: "leading empty item dropped, x_for=1",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", ", 192.168.0.3")],
        want: six(Some("192.168.0.3"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2/§5: a middle empty item is dropped, so x_for=2 selects `a` (werkzeug 3.0.x selected '').
    Case {
        name: "middle empty item dropped",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "192.0.2.1, , 198.51.100.2")],
        want: six(Some("192.0.2.1"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: trailing empty items (with or without spaces) are dropped before counting.
    Case {
        name: "trailing empty items dropped",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "192.0.2.1, 198.51.100.2, ,")],
        want: six(Some("198.51.100.2"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: a list of nothing but separators and whitespace is empty: nothing selected.
    Case {
        name: "only separators",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", " , ,\t, ")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.1: an empty header value gives "none".
    Case {
        name: "empty header value",
        fix: x(1, 1, 1, 1, 1),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", ""),
            ("HTTP_X_FORWARDED_PROTO", ""),
            ("HTTP_X_FORWARDED_HOST", ""),
            ("HTTP_X_FORWARDED_PORT", ""),
            ("HTTP_X_FORWARDED_PREFIX", ""),
        ],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: spaces and tabs around commas are stripped from each item.
    Case {
        name: "spaces and tabs around commas",
        fix: x(2, 1, 0, 0, 0),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "\t192.0.2.1 \t,\t 198.51.100.2\t"),
            ("HTTP_X_FORWARDED_PROTO", " \thttps\t "),
        ],
        want: six(Some("192.0.2.1"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: str.strip removes all Unicode whitespace, e.g. a latin-1 NO-BREAK SPACE (0xA0).
    Case {
        name: "no-break space stripped",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "192.0.2.1,\u{a0}198.51.100.2\u{a0}")],
        want: six(Some("198.51.100.2"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: a comma inside a quoted-string does not split; the outer quotes are removed.
    Case {
        name: "quoted item with a comma",
        fix: x(0, 0, 0, 0, 2),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PREFIX", r#""/a,b", /c"#)],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/a,b"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: in a quoted item every `\X` becomes `X` (an escaped quote).
    Case {
        name: "escaped quote in a quoted item",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"192.0.2.1, "a\"b""#)],
        want: six(Some(r#"a"b"#), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: an escaped backslash in a quoted item becomes one backslash.
    Case {
        name: "escaped backslash in a quoted item",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#""a\\b""#)],
        want: six(Some(r"a\b"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: a `"` mid-item opens a quoted-string (its comma does not split); the item keeps its quotes.
    Case {
        name: "partly quoted item keeps its quotes",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"a"b,c", d"#)],
        want: six(Some(r#"a"b,c""#), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: outside a quoted-string a backslash is an ordinary character and escapes nothing.
    Case {
        name: "backslash outside quotes is literal",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r"a\,b")],
        want: six(Some(r"a\"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: an unclosed quote empties the whole list: nothing is selected (not even the valid left item).
    Case {
        name: "unclosed quote empties the list",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"192.0.2.1, "198.51.100.2"#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: `\"` does not close the string, so `"x\"` at the end is an unclosed quote too.
    Case {
        name: "escaped closing quote leaves the string open",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"192.0.2.1, "x\""#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.4: a selected quoted "" unquotes to the empty string, which counts as "none" (no fallback).
    Case {
        name: "selected quoted empty string is none",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"192.0.2.1, """#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2.2: `""` survives the emptiness check (it is checked before unquoting), so it is counted.
    Case {
        name: "quoted empty string is counted",
        fix: x(2, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", r#"192.0.2.1, """#)],
        want: six(Some("192.0.2.1"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- §2 "never validated or normalised" ---------------------------------
    // §2: `unknown` is copied into REMOTE_ADDR as it is.
    Case {
        name: "unknown copied as is",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "unknown")],
        want: six(Some("unknown"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2/§3.2: an upper-case scheme is kept as sent.
    Case {
        name: "HTTPS kept upper-case",
        fix: x(0, 1, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PROTO", "HTTPS")],
        want: six(Some("10.0.0.1"), "HTTPS", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.1: an `[ipv6]:port` X-Forwarded-For keeps brackets and port in REMOTE_ADDR; REMOTE_PORT untouched.
    Case {
        name: "X-Forwarded-For [v6]:port kept whole",
        fix: x(1, 0, 0, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_FOR", "[2001:db8::1]:4711")],
        want: six(Some("[2001:db8::1]:4711"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // §2: a non-numeric port is copied into HTTP_HOST and SERVER_PORT.
    Case {
        name: "non-numeric port copied",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PORT", "abc")],
        want: six(Some("10.0.0.1"), "http", Some("backend:abc"), "backend", "abc", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §2: a host containing spaces is copied.
    Case {
        name: "host with spaces copied",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "not a host")],
        want: six(Some("10.0.0.1"), "http", Some("not a host"), "not a host", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- §3.3 host ----------------------------------------------------------
    // §3.3: a host without a port sets HTTP_HOST and SERVER_NAME; SERVER_PORT keeps the backend's 8000.
    Case {
        name: "x_host without port keeps SERVER_PORT",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "example.com")],
        want: six(Some("10.0.0.1"), "http", Some("example.com"), "example.com", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: `host:port` is split at the last `:` into SERVER_NAME and SERVER_PORT; HTTP_HOST keeps both.
    Case {
        name: "x_host with port",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "example.com:8443")],
        want: six(Some("10.0.0.1"), "http", Some("example.com:8443"), "example.com", "8443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: `[v6]:port` splits at the last `:`; the brackets stay in SERVER_NAME.
    Case {
        name: "x_host [v6]:port",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "[2001:db8::1]:8443")],
        want: six(Some("10.0.0.1"), "http", Some("[2001:db8::1]:8443"), "[2001:db8::1]", "8443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: `[::1]` ends with `]`, so it is not split and SERVER_PORT keeps its old value.
    Case {
        name: "x_host [::1] not split",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "[::1]")],
        want: six(Some("10.0.0.1"), "http", Some("[::1]"), "[::1]", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: a bare IPv6 address is split wrongly, as werkzeug does: NAME `2001:db8:`, PORT `1`.
    Case {
        name: "x_host bare v6 split wrongly",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "2001:db8::1")],
        want: six(Some("10.0.0.1"), "http", Some("2001:db8::1"), "2001:db8:", "1", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: `example.com:` gives an empty SERVER_PORT.
    Case {
        name: "x_host trailing colon",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "example.com:")],
        want: six(Some("10.0.0.1"), "http", Some("example.com:"), "example.com", "", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: `:8080` gives an empty SERVER_NAME.
    Case {
        name: "x_host port only",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", ":8080")],
        want: six(Some("10.0.0.1"), "http", Some(":8080"), "", "8080", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3: HTTP_HOST is created when it was missing (snapshot: None).
    Case {
        name: "x_host creates HTTP_HOST",
        fix: x(0, 0, 1, 0, 0),
        base: &[("REMOTE_ADDR", "10.0.0.1"), ("SERVER_NAME", "backend"), ("SERVER_PORT", "8000")],
        env: &[("HTTP_X_FORWARDED_HOST", "example.com:8443")],
        want: six(Some("10.0.0.1"), "http", Some("example.com:8443"), "example.com", "8443", ""),
        orig: six(Some("10.0.0.1"), "http", None, "backend", "8000", ""),
        also: &[],
    },
    // §2.2/§3.3: a quoted host is unquoted before the port split.
    Case {
        name: "x_host quoted [v6]:port",
        fix: x(0, 0, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", r#"evil.example, "[2001:db8::1]:8443""#)],
        want: six(Some("10.0.0.1"), "http", Some("[2001:db8::1]:8443"), "[2001:db8::1]", "8443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- §3.4 port ----------------------------------------------------------
    // §3.4: a host without a port gets `:p`; SERVER_PORT = p; SERVER_NAME untouched.
    Case {
        name: "x_port adds a port",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "spam"), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some("spam:8080"), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some("spam"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: a port already in HTTP_HOST is replaced.
    Case {
        name: "x_port replaces the host's port",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "spam:9000"), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some("spam:8080"), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some("spam:9000"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: `[v6]` without a port is not cut; the port is appended.
    Case {
        name: "x_port on [v6]",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "[2001:db8::a]"), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some("[2001:db8::a]:8080"), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some("[2001:db8::a]"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: `[v6]:port` has its port replaced.
    Case {
        name: "x_port on [v6]:port",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "[2001:db8::a]:9000"), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some("[2001:db8::a]:8080"), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some("[2001:db8::a]:9000"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: a bare `::1` is cut at its last `:` and mangled into `::8080`, as werkzeug does.
    Case {
        name: "x_port mangles bare ::1",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "::1"), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some("::8080"), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some("::1"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: a missing HTTP_HOST stays missing; SERVER_PORT is still set.
    Case {
        name: "x_port without HTTP_HOST",
        fix: x(0, 0, 0, 1, 0),
        base: &[("REMOTE_ADDR", "10.0.0.1"), ("SERVER_NAME", "backend"), ("SERVER_PORT", "8000")],
        env: &[("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", None, "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", None, "backend", "8000", ""),
        also: &[],
    },
    // §3.4: an empty HTTP_HOST stays empty; SERVER_PORT is still set.
    Case {
        name: "x_port with empty HTTP_HOST",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", ""), ("HTTP_X_FORWARDED_PORT", "8080")],
        want: six(Some("10.0.0.1"), "http", Some(""), "backend", "8080", ""),
        orig: six(Some("10.0.0.1"), "http", Some(""), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: the scheme's default port is kept in HTTP_HOST (`eggs:443`).
    Case {
        name: "x_port keeps a default port",
        fix: x(0, 1, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "eggs"), ("HTTP_X_FORWARDED_PROTO", "https"), ("HTTP_X_FORWARDED_PORT", "443")],
        want: six(Some("10.0.0.1"), "https", Some("eggs:443"), "backend", "443", ""),
        orig: six(Some("10.0.0.1"), "http", Some("eggs"), "backend", "8000", ""),
        also: &[],
    },
    // §3.4: SERVER_NAME is never changed by the port step, even when HTTP_HOST names another host.
    Case {
        name: "x_port never touches SERVER_NAME",
        fix: x(0, 0, 0, 1, 0),
        base: BACKEND,
        env: &[("HTTP_HOST", "public.example:80"), ("HTTP_X_FORWARDED_PORT", "8443")],
        want: six(Some("10.0.0.1"), "http", Some("public.example:8443"), "backend", "8443", ""),
        orig: six(Some("10.0.0.1"), "http", Some("public.example:80"), "backend", "8000", ""),
        also: &[],
    },
    // §2.3/§3.4: x_port=2 takes the second port from the right.
    Case {
        name: "x_port=2 from a list",
        fix: x(0, 0, 0, 2, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PORT", "443, 8443")],
        want: six(Some("10.0.0.1"), "http", Some("backend:443"), "backend", "443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- §3.3 + §3.4 host and port together ---------------------------------
    // §3.4: with x_host and x_port the port header wins; SERVER_NAME comes from the host step only.
    Case {
        name: "x_host then x_port: port header wins",
        fix: x(0, 0, 1, 1, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "h:1234"), ("HTTP_X_FORWARDED_PORT", "443")],
        want: six(Some("10.0.0.1"), "http", Some("h:443"), "h", "443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.4: the port step reads the HTTP_HOST the host step wrote (no port there → appended).
    Case {
        name: "x_host without port then x_port",
        fix: x(0, 0, 1, 1, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "example.com"), ("HTTP_X_FORWARDED_PORT", "8443")],
        want: six(Some("10.0.0.1"), "http", Some("example.com:8443"), "example.com", "8443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.3/§3.4: the same with a bracketed IPv6 host.
    Case {
        name: "x_host [v6]:port then x_port",
        fix: x(0, 0, 1, 1, 0),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_HOST", "[2001:db8::1]:1234"), ("HTTP_X_FORWARDED_PORT", "443")],
        want: six(Some("10.0.0.1"), "http", Some("[2001:db8::1]:443"), "[2001:db8::1]", "443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3/§4: upstream "all": every header with count 1.
    Case {
        name: "upstream all",
        fix: x(1, 1, 1, 1, 1),
        base: &[("REMOTE_ADDR", "192.168.0.2"), ("HTTP_HOST", "spam")],
        env: &[
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "eggs"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/ham"),
        ],
        want: six(Some("192.168.0.1"), "https", Some("eggs:443"), "eggs", "443", "/ham"),
        orig: six(Some("192.168.0.2"), "http", Some("spam"), "localhost", "80", ""),
        also: &[],
    },
    // ---- §3.5 prefix --------------------------------------------------------
    // §3.5: the prefix replaces an existing SCRIPT_NAME (it is not appended).
    Case {
        name: "x_prefix replaces SCRIPT_NAME",
        fix: x(0, 0, 0, 0, 1),
        base: BACKEND,
        env: &[("SCRIPT_NAME", "/old"), ("HTTP_X_FORWARDED_PREFIX", "/ham")],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/ham"),
        orig: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/old"),
        also: &[],
    },
    // §3.5: a trailing slash stays.
    Case {
        name: "x_prefix trailing slash kept",
        fix: x(0, 0, 0, 0, 1),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PREFIX", "/app/")],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/app/"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.5: a missing leading slash stays missing.
    Case {
        name: "x_prefix without leading slash",
        fix: x(0, 0, 0, 0, 1),
        base: BACKEND,
        env: &[("HTTP_X_FORWARDED_PREFIX", "app")],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "app"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3.5: `/` stays `/`.
    Case {
        name: "x_prefix slash",
        fix: x(0, 0, 0, 0, 1),
        base: BACKEND,
        env: &[("SCRIPT_NAME", "/old"), ("HTTP_X_FORWARDED_PREFIX", "/")],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/"),
        orig: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/old"),
        also: &[],
    },
    // §3.5: percent-escapes are not decoded; PATH_INFO is not touched.
    Case {
        name: "x_prefix percent-escapes kept",
        fix: x(0, 0, 0, 0, 1),
        base: BACKEND,
        env: &[("PATH_INFO", "/x"), ("HTTP_X_FORWARDED_PREFIX", "/a%20b")],
        want: six(Some("10.0.0.1"), "http", Some("backend:8000"), "backend", "8000", "/a%20b"),
        orig: BACKEND_SIX,
        also: &[("PATH_INFO", Some("/x"))],
    },
    // ---- §3 each count is independent ---------------------------------------
    // §3: upstream "prefix < for": x_for=2 and x_prefix=1 on two-item lists pick different positions.
    Case {
        name: "upstream prefix < for",
        fix: x(2, 0, 0, 0, 1),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1, 192.168.0.3"),
            ("HTTP_X_FORWARDED_PREFIX", "/ham, /eggs"),
        ],
        want: six(Some("192.168.0.1"), "http", Some("backend:8000"), "backend", "8000", "/eggs"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3: a count too large for one header does not stop the others.
    Case {
        name: "one header ignored, the others applied",
        fix: x(1, 3, 2, 0, 0),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https, http"),
            ("HTTP_X_FORWARDED_HOST", "example.com, cdn.internal:81"),
        ],
        want: six(Some("203.0.113.7"), "http", Some("example.com"), "example.com", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // §3: upstream "multiple": x_for/x_proto/x_host=2 each take the second from the right of their own list.
    Case {
        name: "upstream multiple",
        fix: x(2, 2, 2, 0, 0),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7, 10.0.0.2"),
            ("HTTP_X_FORWARDED_PROTO", "https, http"),
            ("HTTP_X_FORWARDED_HOST", "example.com, internal:81"),
        ],
        want: six(Some("203.0.113.7"), "https", Some("example.com"), "example.com", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // ---- rwsgi extension: trusted peers (TrustedPeers / ProxyFix::trusted_peers docs) ----
    // trusted_peers: an untrusted direct peer changes nothing, but the snapshot is still written.
    Case {
        name: "untrusted peer: nothing changes",
        fix: x(1, 1, 1, 1, 1).peers("127.0.0.1"),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "example.com"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/app"),
        ],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // trusted_peers: a listed address is trusted and every header applies.
    Case {
        name: "trusted peer by address",
        fix: x(1, 1, 1, 1, 1).peers("10.0.0.1"),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "example.com"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/app"),
        ],
        want: six(Some("203.0.113.7"), "https", Some("example.com:443"), "example.com", "443", "/app"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // TrustedPeers: a network (CIDR) matches the addresses inside it.
    Case {
        name: "trusted peer by network",
        fix: x(1, 0, 0, 0, 0).peers("10.0.0.0/8"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "10.1.2.3"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("10.1.2.3"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: an address outside the network is not trusted.
    Case {
        name: "peer outside the network",
        fix: x(1, 0, 0, 0, 0).peers("10.0.0.0/24"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "10.0.1.5"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("10.0.1.5"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("10.0.1.5"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: `*` trusts every peer.
    Case {
        name: "star trusts anyone",
        fix: x(1, 0, 0, 0, 0).peers("*"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "198.18.0.9"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("198.18.0.9"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: a peer without REMOTE_ADDR (a unix socket) is trusted.
    Case {
        name: "unix-socket peer is trusted",
        fix: x(1, 1, 0, 0, 0).peers("127.0.0.1"),
        base: &[("HTTP_HOST", "backend:8000"), ("SERVER_NAME", "backend"), ("SERVER_PORT", "8000")],
        env: &[("HTTP_X_FORWARDED_FOR", "203.0.113.7"), ("HTTP_X_FORWARDED_PROTO", "https")],
        want: six(Some("203.0.113.7"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: six(None, "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: an IPv4-mapped IPv6 peer matches its IPv4 entry.
    Case {
        name: "IPv4-mapped peer",
        fix: x(1, 0, 0, 0, 0).peers("127.0.0.1"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "::ffff:127.0.0.1"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("::ffff:127.0.0.1"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: IPv6 entries and networks in a list with spaces.
    Case {
        name: "IPv6 peer in a network",
        fix: x(1, 0, 0, 0, 0).peers("127.0.0.1 , ::1, 2001:db8::/32"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "2001:db8::5"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("203.0.113.7"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("2001:db8::5"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // TrustedPeers: a REMOTE_ADDR that is not an IP address is not trusted.
    Case {
        name: "non-IP peer is not trusted",
        fix: x(1, 0, 0, 0, 0).peers("127.0.0.1"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "not an ip"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7")],
        want: six(Some("not an ip"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("not an ip"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // trusted_peers: trust is decided by the direct peer, not by what X-Forwarded-For claims.
    Case {
        name: "trust comes from the peer, not the header",
        fix: x(1, 0, 0, 0, 0).peers("127.0.0.1"),
        base: BACKEND,
        env: &[("REMOTE_ADDR", "203.0.113.9"), ("HTTP_X_FORWARDED_FOR", "127.0.0.1")],
        want: six(Some("203.0.113.9"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: six(Some("203.0.113.9"), "http", Some("backend:8000"), "backend", "8000", ""),
        also: &[],
    },
    // ---- rwsgi extension: RFC 7239 Forwarded (ProxyFix::forwarded docs) -----
    // forwarded: for/proto/host parameters of the rightmost element; REMOTE_PORT untouched without a port.
    Case {
        name: "Forwarded for, proto and host",
        fix: x(1, 1, 1, 0, 0).forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=192.0.2.60;proto=https;host=example.com")],
        want: six(Some("192.0.2.60"), "https", Some("example.com"), "example.com", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: each parameter comes from the element its own count picks, from the right.
    Case {
        name: "Forwarded counted from the right",
        fix: x(2, 1, 0, 0, 0).forwarded(),
        base: BACKEND,
        env: &[(
            "HTTP_FORWARDED",
            "for=6.6.6.6;proto=http, for=192.0.2.60;proto=http, for=198.51.100.17;proto=https",
        )],
        want: six(Some("192.0.2.60"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: quoted "[v6]:port" sets REMOTE_ADDR without brackets and REMOTE_PORT.
    Case {
        name: "Forwarded quoted [v6]:port",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="[2001:db8::1]:4711""#)],
        want: six(Some("2001:db8::1"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("4711"))],
    },
    // forwarded: quoted "ip:port" sets REMOTE_ADDR and REMOTE_PORT.
    Case {
        name: "Forwarded quoted ipv4:port",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="192.0.2.60:8080""#)],
        want: six(Some("192.0.2.60"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("8080"))],
    },
    // forwarded: "[v6]" without a port sets REMOTE_ADDR only.
    Case {
        name: "Forwarded [v6] without port",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="[2001:db8::1]""#)],
        want: six(Some("2001:db8::1"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: an `unknown` node changes nothing (the other parameters still apply).
    Case {
        name: "Forwarded for=unknown",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=unknown;proto=https")],
        want: six(Some("10.0.0.1"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: an obfuscated `_hidden` node changes nothing.
    Case {
        name: "Forwarded for=_hidden",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=_hidden")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: `unknown` with a port is still an unknown node: neither REMOTE_ADDR nor REMOTE_PORT change.
    Case {
        name: "Forwarded for=\"unknown:4711\"",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="unknown:4711""#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: an obfuscated node with a port changes nothing either.
    Case {
        name: "Forwarded for=\"_hidden:4711\"",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="_hidden:4711""#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: without a Forwarded header, X-Forwarded-For/-Proto/-Host are read as usual.
    Case {
        name: "Forwarded mode falls back to X-Forwarded-*",
        fix: x(1, 1, 1, 0, 0).forwarded(),
        base: BACKEND,
        env: &[
            ("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "example.com:8443"),
        ],
        want: six(Some("203.0.113.7"), "https", Some("example.com:8443"), "example.com", "8443", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: with a Forwarded header, X-Forwarded-For/-Proto/-Host are not read at all.
    Case {
        name: "Forwarded replaces X-Forwarded-For/-Proto/-Host",
        fix: x(1, 1, 1, 0, 0).forwarded(),
        base: BACKEND,
        env: &[
            ("HTTP_FORWARDED", "for=192.0.2.60"),
            ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "evil.example"),
        ],
        want: six(Some("192.0.2.60"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: fewer elements than x_for → nothing, and no fallback to X-Forwarded-For.
    Case {
        name: "Forwarded with fewer elements than x_for",
        fix: x(2, 0, 0, 0, 0).forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=192.0.2.60"), ("HTTP_X_FORWARDED_FOR", "203.0.113.7, 198.51.100.2")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: X-Forwarded-Port and -Prefix still apply (RFC 7239 has no such parameters).
    Case {
        name: "Forwarded with X-Forwarded-Port and -Prefix",
        fix: x(1, 1, 1, 1, 1).forwarded(),
        base: BACKEND,
        env: &[
            ("HTTP_FORWARDED", "for=192.0.2.60;proto=https;host=example.com"),
            ("HTTP_X_FORWARDED_PORT", "8443"),
            ("HTTP_X_FORWARDED_PREFIX", "/app"),
        ],
        want: six(Some("192.0.2.60"), "https", Some("example.com:8443"), "example.com", "8443", "/app"),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: the counted element is used even when it lacks the parameter (no search further left).
    Case {
        name: "Forwarded element without proto",
        fix: x(1, 1, 0, 0, 0).forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=192.0.2.60;proto=https, for=198.51.100.17")],
        want: six(Some("198.51.100.17"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: parameter names are case-insensitive.
    Case {
        name: "Forwarded parameter names any case",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "For=192.0.2.60;PROTO=https")],
        want: six(Some("192.0.2.60"), "https", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: host="h:port" is split like X-Forwarded-Host (§3.3).
    Case {
        name: "Forwarded host with port",
        fix: x(0, 0, 1, 0, 0).forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for=192.0.2.60;host="example.com:8443""#)],
        want: six(Some("10.0.0.1"), "http", Some("example.com:8443"), "example.com", "8443", ""),
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: counts of 0 turn the parameters off.
    Case {
        name: "Forwarded with zero counts",
        fix: x(0, 0, 0, 0, 0).forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=192.0.2.60;proto=https;host=example.com")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
    // forwarded: the trusted-peer guard applies to Forwarded too.
    Case {
        name: "Forwarded from an untrusted peer",
        fix: DEFAULTS.forwarded().peers("127.0.0.1"),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="192.0.2.60:8080";proto=https"#)],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // forwarded: an unbracketed IPv6 `for` is an address, not `2001` plus a port.
    Case {
        name: "Forwarded bare v6",
        fix: DEFAULTS.forwarded(),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", r#"for="2001:db8::1""#)],
        want: six(Some("2001:db8::1"), "http", Some("backend:8000"), "backend", "8000", ""),
        orig: BACKEND_SIX,
        also: &[("REMOTE_PORT", Some("54321"))],
    },
    // §1: without .forwarded(true), the Forwarded header is never read (werkzeug).
    Case {
        name: "Forwarded ignored by default",
        fix: x(1, 1, 1, 0, 0),
        base: BACKEND,
        env: &[("HTTP_FORWARDED", "for=192.0.2.60;proto=https;host=example.com")],
        want: BACKEND_SIX,
        orig: BACKEND_SIX,
        also: &[],
    },
];

// ---------------------------------------------------------------------------
// The runner.

/// What the probe app saw.
#[derive(Debug)]
struct Seen {
    six: [Option<String>; 6],
    also: Vec<Option<String>>,
    orig: Option<ProxyFixOrig>,
    /// Every string key (typed values through `Display`), for "nothing else changed".
    pairs: Vec<(String, String)>,
}

/// An app that records what it sees and answers `200 seen`.
#[derive(Clone)]
struct Probe {
    also: Arc<Vec<String>>,
    seen: Arc<Mutex<Option<Seen>>>,
}

impl Probe {
    fn new(also: &[&str]) -> Self {
        Probe {
            also: Arc::new(also.iter().map(|k| (*k).to_owned()).collect()),
            seen: Arc::default(),
        }
    }

    fn app(&self) -> impl Application + Clone {
        let probe = self.clone();
        move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            let get = |k: &str| environ.get(k).map(Cow::into_owned);
            let seen = Seen {
                six: SIX_KEYS.map(get),
                also: probe.also.iter().map(|k| get(k)).collect(),
                orig: environ.value::<ProxyFixOrig>(ORIG_KEY).cloned(),
                pairs: environ.to_pairs(),
            };
            *probe.seen.lock().unwrap() = Some(seen);
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("seen"))
        }
    }

    /// Calls `app` on `environ`; the app must answer through this probe.
    fn call(&self, app: impl Application, environ: Environ) -> Result<Seen, String> {
        let response = testing::call(app, environ);
        if response.status != 200 || response.body != "seen" {
            return Err(format!(
                "the probe's response did not come through: {} {:?} {}",
                response.status, response.body, response.errors
            ));
        }
        self.seen
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| "the app was not called".to_owned())
    }
}

fn build<A: Application>(fix: Fix, app: A) -> ProxyFix<A> {
    let mut proxy_fix = ProxyFix::new(app);
    if let Some([x_for, x_proto, x_host, x_port, x_prefix]) = fix.counts {
        proxy_fix = proxy_fix
            .x_for(x_for)
            .x_proto(x_proto)
            .x_host(x_host)
            .x_port(x_port)
            .x_prefix(x_prefix);
    }
    if let Some(list) = fix.peers {
        let peers: TrustedPeers = list.parse().expect("a valid peer list");
        proxy_fix = proxy_fix.trusted_peers(peers);
    }
    if fix.forwarded {
        proxy_fix = proxy_fix.forwarded(true);
    }
    proxy_fix
}

fn environ(case: &Case) -> Environ {
    Environ::from_pairs(case.base.iter().chain(case.env).copied())
        .unwrap_or_else(|err| panic!("{}: bad input environ: {err}", case.name))
}

/// Keys ProxyFix may change in this case; everything else must stay.
fn may_change(key: &str, fix: Fix) -> bool {
    SIX_KEYS.contains(&key) || key == ORIG_KEY || (fix.forwarded && key == "REMOTE_PORT")
}

fn check(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let also_keys: Vec<&str> = case.also.iter().map(|(k, _)| *k).collect();
    let probe = Probe::new(&also_keys);

    // The same environ through the bare probe: what the app sees without ProxyFix.
    let before = match probe.call(probe.app(), environ(case)) {
        Ok(seen) => seen,
        Err(err) => return vec![format!("without ProxyFix: {err}")],
    };
    let after = match probe.call(build(case.fix, probe.app()), environ(case)) {
        Ok(seen) => seen,
        Err(err) => return vec![err],
    };

    let want = case.want.values();
    for (i, key) in SIX_KEYS.iter().enumerate() {
        if after.six[i] != want[i] {
            problems.push(format!("{key}: got {:?}, want {:?}", after.six[i], want[i]));
        }
    }
    let want_orig = case.orig.orig();
    match &after.orig {
        None => problems.push(format!("{ORIG_KEY} missing (or not a ProxyFixOrig)")),
        Some(orig) if *orig != want_orig => {
            problems.push(format!("{ORIG_KEY}: got {orig:?}, want {want_orig:?}"));
        }
        Some(_) => {}
    }
    // The table's snapshot must be what the app sees without ProxyFix (a check on the table).
    if before.six != case.orig.values() {
        problems.push(format!(
            "table error: `orig` is not the input environ ({:?})",
            before.six
        ));
    }
    for (i, (key, want)) in case.also.iter().enumerate() {
        if after.also[i].as_deref() != *want {
            problems.push(format!("{key}: got {:?}, want {want:?}", after.also[i]));
        }
    }
    // Nothing else changes: the X-Forwarded-* headers stay, PATH_INFO stays, …
    let rest = |pairs: &[(String, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .filter(|(k, _)| !may_change(k, case.fix))
            .cloned()
            .collect()
    };
    if rest(&after.pairs) != rest(&before.pairs) {
        problems.push(format!(
            "other keys changed:\n      before {:?}\n      after  {:?}",
            rest(&before.pairs),
            rest(&after.pairs)
        ));
    }
    problems
}

#[test]
fn table() {
    assert!(CASES.len() >= 45, "the table has {} cases", CASES.len());
    let mut names = std::collections::HashSet::new();
    for case in CASES {
        assert!(names.insert(case.name), "duplicate case name {:?}", case.name);
    }
    let mut report = String::new();
    let mut failed = 0;
    for case in CASES {
        let problems = check(case);
        if !problems.is_empty() {
            failed += 1;
            report.push_str(&format!("\n{}:\n", case.name));
            for problem in problems {
                report.push_str(&format!("    {problem}\n"));
            }
        }
    }
    assert!(failed == 0, "{failed} of {} cases failed:{report}", CASES.len());
}

// ---------------------------------------------------------------------------
// What does not fit a row.

/// §3.0: ProxyFix wrapping ProxyFix: the inner one runs second and
/// overwrites the snapshot with the values the outer one already changed.
#[test]
fn nested_proxy_fix_overwrites_the_snapshot() {
    let probe = Probe::new(&[]);
    let inner = ProxyFix::new(probe.app()).x_for(2).x_proto(0);
    let outer = ProxyFix::new(inner).x_for(1).x_proto(0).x_host(1);
    let environ = Environ::from_pairs([
        ("REMOTE_ADDR", "10.0.0.1"),
        ("HTTP_HOST", "backend:8000"),
        ("SERVER_NAME", "backend"),
        ("SERVER_PORT", "8000"),
        ("HTTP_X_FORWARDED_FOR", "192.0.2.1, 198.51.100.2"),
        ("HTTP_X_FORWARDED_HOST", "example.com:8443"),
    ])
    .unwrap();
    let seen = probe.call(outer, environ).unwrap();
    assert_eq!(
        seen.six,
        six(
            Some("192.0.2.1"),
            "http",
            Some("example.com:8443"),
            "example.com",
            "8443",
            ""
        )
        .values()
    );
    // The outer one's results, not the true originals (10.0.0.1, backend:8000).
    assert_eq!(
        seen.orig,
        Some(
            six(
                Some("198.51.100.2"),
                "http",
                Some("example.com:8443"),
                "example.com",
                "8443",
                ""
            )
            .orig()
        )
    );
}

/// §5: repeated header lines reach ProxyFix as one value joined with `,`,
/// and are counted as one list.
#[test]
fn repeated_header_lines_are_one_list() {
    for (x_for, want) in [
        (1, "203.0.113.7"),
        (2, "198.51.100.2"),
        (3, "192.0.2.1"),
        (4, "10.0.0.1"),
    ] {
        let probe = Probe::new(&[]);
        let mut environ = Environ::from_pairs([("REMOTE_ADDR", "10.0.0.1")]).unwrap();
        environ
            .headers
            .append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        environ
            .headers
            .append("x-forwarded-for", "198.51.100.2, 203.0.113.7".parse().unwrap());
        let seen = probe
            .call(ProxyFix::new(probe.app()).x_for(x_for), environ)
            .unwrap();
        assert_eq!(seen.six[0].as_deref(), Some(want), "x_for={x_for}");
    }
}

/// §3.0: one middleware, many requests: each gets its own snapshot.
#[test]
fn snapshot_is_taken_per_request() {
    let probe = Probe::new(&[]);
    let app = SharedApp::new(ProxyFix::new(probe.app()));
    for (peer, client) in [("10.0.0.1", "203.0.113.7"), ("10.0.0.2", "198.51.100.2")] {
        let environ = Environ::from_pairs([("REMOTE_ADDR", peer), ("HTTP_X_FORWARDED_FOR", client)]).unwrap();
        let seen = probe.call(app.clone(), environ).unwrap();
        assert_eq!(seen.six[0].as_deref(), Some(client));
        assert_eq!(seen.orig.unwrap().remote_addr.as_deref(), Some(peer));
    }
    // A request without X-Forwarded-For after one with it: nothing carried over.
    let environ = Environ::from_pairs([("REMOTE_ADDR", "10.0.0.3")]).unwrap();
    let seen = probe.call(app, environ).unwrap();
    assert_eq!(seen.six[0].as_deref(), Some("10.0.0.3"));
    assert_eq!(seen.orig.unwrap().remote_addr.as_deref(), Some("10.0.0.3"));
}

/// §3.0: a value already under the key (a stale string, say) is replaced
/// by the typed snapshot.
#[test]
fn snapshot_replaces_an_existing_value() {
    let probe = Probe::new(&[]);
    let environ = Environ::from_pairs([("REMOTE_ADDR", "10.0.0.1"), (ORIG_KEY, "stale")]).unwrap();
    let seen = probe.call(ProxyFix::new(probe.app()), environ).unwrap();
    assert_eq!(seen.orig.unwrap().remote_addr.as_deref(), Some("10.0.0.1"));
}

/// §3.6: the app's response is returned as it is (status, headers, body).
#[test]
fn response_passes_through() {
    fn app(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
        sr.start("201 Created", [("Content-Type", "text/plain"), ("X-App", "yes")])?;
        Ok(Body::from("made"))
    }
    let environ = Environ::from_pairs([
        ("REMOTE_ADDR", "10.0.0.1"),
        ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
    ])
    .unwrap();
    let response = testing::call(ProxyFix::new(app).x_host(1).x_prefix(1), environ);
    assert_eq!(response.status, 201);
    assert_eq!(response.headers["x-app"], "yes");
    assert_eq!(response.body, "made");
}

/// §3 and §3.6: the environ is changed in place, so the caller sees the
/// changes after the call; the app gets the caller's own `start_response`
/// (not intercepted) and its body is returned as it is.
#[test]
fn changes_are_in_place_and_start_response_is_the_callers() {
    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<Started>>>);
    /// One `start_response(status, headers)` call.
    type Started = (String, Vec<(String, String)>);
    impl Respond for Record {
        fn start_response(
            &self,
            status: Cow<'static, str>,
            headers: Vec<HeaderPair>,
            _exc_info: Option<BoxError>,
        ) -> Result<(), ContractError> {
            let headers = headers
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            self.0.lock().unwrap().push((status.into_owned(), headers));
            Ok(())
        }

        fn write(&self, _data: Bytes) -> Result<(), ContractError> {
            Ok(())
        }
    }
    fn app(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
        sr.start("203 Non-Authoritative Information", [("X-App", "yes")])?;
        Ok(Body::from("made"))
    }
    let record = Record::default();
    let start_response = StartResponse::new(record.clone());
    let mut environ = Environ::from_pairs([
        ("REMOTE_ADDR", "10.0.0.1"),
        ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
        ("HTTP_X_FORWARDED_PREFIX", "/app"),
    ])
    .unwrap();
    let body = ProxyFix::new(app)
        .x_prefix(1)
        .call(&mut environ, &start_response)
        .unwrap();
    assert_eq!(body.exact_len(), Some(4));
    assert_eq!(environ.remote_addr.as_deref(), Some("203.0.113.7"));
    assert_eq!(environ.script_name, "/app");
    assert_eq!(
        environ
            .value::<ProxyFixOrig>(ORIG_KEY)
            .and_then(|o| o.remote_addr.as_deref()),
        Some("10.0.0.1")
    );
    assert_eq!(
        *record.0.lock().unwrap(),
        [(
            "203 Non-Authoritative Information".to_owned(),
            vec![("X-App".to_owned(), "yes".to_owned())]
        )]
    );
}

/// §4: after the upstream "all" case werkzeug's `url_root` is
/// `https://eggs/ham/`; rwsgi's `Environ::request_url` documents that it
/// follows the PEP 3333 recipe instead, which keeps `:443` from HTTP_HOST.
#[test]
fn url_after_upstream_all_follows_pep_3333() {
    fn app(environ: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(environ.request_url()))
    }
    let environ = Environ::from_pairs([
        ("REMOTE_ADDR", "192.168.0.2"),
        ("HTTP_HOST", "spam"),
        ("HTTP_X_FORWARDED_FOR", "192.168.0.1"),
        ("HTTP_X_FORWARDED_PROTO", "https"),
        ("HTTP_X_FORWARDED_HOST", "eggs"),
        ("HTTP_X_FORWARDED_PORT", "443"),
        ("HTTP_X_FORWARDED_PREFIX", "/ham"),
    ])
    .unwrap();
    let app = ProxyFix::new(app)
        .x_for(1)
        .x_proto(1)
        .x_host(1)
        .x_port(1)
        .x_prefix(1);
    assert_eq!(testing::call(app, environ).body, "https://eggs:443/ham/");
}

/// `ProxyFixOrig`'s `Display` "shows as the Python dict werkzeug stores":
/// exactly Python's `repr` of that dict (checked against CPython), quote
/// choice and escapes included.
#[test]
fn snapshot_shows_as_a_python_dict() {
    let probe = Probe::new(&[ORIG_KEY]);
    let environ = Environ::from_pairs([
        ("REMOTE_ADDR", "a\\b\u{a0}\t\u{ad}\u{e9}"),
        ("HTTP_HOST", r#"say "hi" it's"#),
        ("SCRIPT_NAME", "/it's"),
    ])
    .unwrap();
    let seen = probe.call(ProxyFix::new(probe.app()), environ).unwrap();
    let want = concat!(
        r#"{'REMOTE_ADDR': 'a\\b\xa0\t\xadé', 'wsgi.url_scheme': 'http', "#,
        r#"'HTTP_HOST': 'say "hi" it\'s', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80', "#,
        r#"'SCRIPT_NAME': "/it's"}"#,
    );
    assert_eq!(seen.also[0].as_deref(), Some(want));
}

/// The `TrustedPeers` constructors mean what their docs say.
#[test]
fn trusted_peers_constructors() {
    assert_eq!(TrustedPeers::any(), "*".parse().unwrap());
    assert_eq!(TrustedPeers::loopback(), "127.0.0.1,::1".parse().unwrap());
    let loopback = TrustedPeers::loopback();
    assert!(loopback.trusts(Some("127.0.0.1")));
    assert!(loopback.trusts(Some("::1")));
    assert!(loopback.trusts(None));
    assert!(!loopback.trusts(Some("127.0.0.2")));
    assert!(TrustedPeers::any().trusts(Some("not an ip")));
    assert!("10.0.0.0/8, nonsense".parse::<TrustedPeers>().is_err());
}
