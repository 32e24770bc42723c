//! `HeaderRewrite`, from its doc comment: a rule copies `from` into `to`
//! only when `from` is present and not empty; rules apply in the order
//! given; with `trusted_peers`, only for requests from those peers; a value
//! the target key refuses is an error, so the app is not called and the
//! response is a 500.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rwsgi_core::middleware::{HeaderRewrite, TrustedPeers};
use rwsgi_core::{Body, Environ, StartResponse, testing};

type Pairs = &'static [(&'static str, &'static str)];

struct Case {
    name: &'static str,
    /// `copy(from, to)`, in this order.
    rules: Pairs,
    /// `trusted_peers`, in `--forwarded-allow-ips` syntax.
    peers: Option<&'static str>,
    env: Pairs,
    /// Keys to check afterwards (`None`: absent).
    want: &'static [(&'static str, Option<&'static str>)],
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // A present, non-empty source is copied (the seeds' CustomProxyFix: X-FHOST → Host).
    Case {
        name: "copy X-FHOST to Host",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_HOST", "backend:8000"), ("HTTP_X_FHOST", "www.example.com")],
        want: &[("HTTP_HOST", Some("www.example.com")), ("HTTP_X_FHOST", Some("www.example.com"))],
    },
    // A missing target is created.
    Case {
        name: "target created",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_X_FHOST", "www.example.com")],
        want: &[("HTTP_HOST", Some("www.example.com"))],
    },
    // A missing source: the rule is skipped, the target keeps its value.
    Case {
        name: "missing source skipped",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_HOST", "backend:8000")],
        want: &[("HTTP_HOST", Some("backend:8000")), ("HTTP_X_FHOST", None)],
    },
    // A missing source with a missing target: nothing is created.
    Case {
        name: "missing source, missing target",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: None,
        env: &[],
        want: &[("HTTP_HOST", None)],
    },
    // An empty source is skipped: the target is not emptied.
    Case {
        name: "empty source skipped",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_HOST", "backend:8000"), ("HTTP_X_FHOST", "")],
        want: &[("HTTP_HOST", Some("backend:8000")), ("HTTP_X_FHOST", Some(""))],
    },
    // Targets may be any PEP 3333 key: CGI variables and wsgi.url_scheme too.
    Case {
        name: "non-header targets",
        rules: &[
            ("HTTP_X_REAL_IP", "REMOTE_ADDR"),
            ("HTTP_X_SCHEME", "wsgi.url_scheme"),
            ("HTTP_X_FHOST", "SERVER_NAME"),
            ("HTTP_X_FPORT", "SERVER_PORT"),
            ("HTTP_X_SCRIPT_NAME", "SCRIPT_NAME"),
        ],
        peers: None,
        env: &[
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTP_X_REAL_IP", "203.0.113.7"),
            ("HTTP_X_SCHEME", "https"),
            ("HTTP_X_FHOST", "www.example.com"),
            ("HTTP_X_FPORT", "443"),
            ("HTTP_X_SCRIPT_NAME", "/app"),
        ],
        want: &[
            ("REMOTE_ADDR", Some("203.0.113.7")),
            ("wsgi.url_scheme", Some("https")),
            ("SERVER_NAME", Some("www.example.com")),
            ("SERVER_PORT", Some("443")),
            ("SCRIPT_NAME", Some("/app")),
        ],
    },
    // Sources may be non-header keys too (a server-set variable).
    Case {
        name: "non-header source",
        rules: &[("SSL_CLIENT_S_DN", "HTTP_X_CLIENT_DN")],
        peers: None,
        env: &[("SSL_CLIENT_S_DN", "CN=caf\u{e9}")],
        want: &[("HTTP_X_CLIENT_DN", Some("CN=caf\u{e9}"))],
    },
    // Rules apply in order: A→B then B→C carries A into C.
    Case {
        name: "rules in order: chained",
        rules: &[("HTTP_X_A", "HTTP_X_B"), ("HTTP_X_B", "HTTP_X_C")],
        peers: None,
        env: &[("HTTP_X_A", "a"), ("HTTP_X_B", "b"), ("HTTP_X_C", "c")],
        want: &[("HTTP_X_A", Some("a")), ("HTTP_X_B", Some("a")), ("HTTP_X_C", Some("a"))],
    },
    // Rules apply in order: B→C then A→B gives C the old B.
    Case {
        name: "rules in order: reversed",
        rules: &[("HTTP_X_B", "HTTP_X_C"), ("HTTP_X_A", "HTTP_X_B")],
        peers: None,
        env: &[("HTTP_X_A", "a"), ("HTTP_X_B", "b"), ("HTTP_X_C", "c")],
        want: &[("HTTP_X_A", Some("a")), ("HTTP_X_B", Some("a")), ("HTTP_X_C", Some("b"))],
    },
    // Two rules with one target: the later one wins when its source is present…
    Case {
        name: "same target: later rule wins",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST"), ("HTTP_X_ORIGINAL_HOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_X_FHOST", "one.example"), ("HTTP_X_ORIGINAL_HOST", "two.example")],
        want: &[("HTTP_HOST", Some("two.example"))],
    },
    // …and the earlier one stands when the later source is empty.
    Case {
        name: "same target: later rule skipped",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST"), ("HTTP_X_ORIGINAL_HOST", "HTTP_HOST")],
        peers: None,
        env: &[("HTTP_X_FHOST", "one.example"), ("HTTP_X_ORIGINAL_HOST", "")],
        want: &[("HTTP_HOST", Some("one.example"))],
    },
    // No rules: nothing changes.
    Case {
        name: "no rules",
        rules: &[],
        peers: None,
        env: &[("HTTP_HOST", "backend:8000"), ("HTTP_X_FHOST", "www.example.com")],
        want: &[("HTTP_HOST", Some("backend:8000"))],
    },
    // trusted_peers: a listed peer's request is rewritten.
    Case {
        name: "trusted peer",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: Some("10.0.0.1"),
        env: &[
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTP_HOST", "backend:8000"),
            ("HTTP_X_FHOST", "www.example.com"),
        ],
        want: &[("HTTP_HOST", Some("www.example.com"))],
    },
    // trusted_peers: another peer's request is left alone.
    Case {
        name: "untrusted peer",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: Some("10.0.0.1"),
        env: &[
            ("REMOTE_ADDR", "203.0.113.9"),
            ("HTTP_HOST", "backend:8000"),
            ("HTTP_X_FHOST", "evil.example"),
        ],
        want: &[("HTTP_HOST", Some("backend:8000")), ("HTTP_X_FHOST", Some("evil.example"))],
    },
    // trusted_peers: networks match (CIDR).
    Case {
        name: "trusted network",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: Some("10.0.0.0/8"),
        env: &[
            ("REMOTE_ADDR", "10.20.30.40"),
            ("HTTP_HOST", "backend:8000"),
            ("HTTP_X_FHOST", "www.example.com"),
        ],
        want: &[("HTTP_HOST", Some("www.example.com"))],
    },
    // trusted_peers: a unix-socket peer (no REMOTE_ADDR) is trusted.
    Case {
        name: "unix-socket peer",
        rules: &[("HTTP_X_FHOST", "HTTP_HOST")],
        peers: Some("127.0.0.1"),
        env: &[("HTTP_HOST", "backend:8000"), ("HTTP_X_FHOST", "www.example.com")],
        want: &[("HTTP_HOST", Some("www.example.com"))],
    },
    // trusted_peers: trust comes from the peer, not from a header a client could send.
    Case {
        name: "untrusted peer cannot claim an address",
        rules: &[("HTTP_X_REAL_IP", "REMOTE_ADDR")],
        peers: Some("127.0.0.1"),
        env: &[("REMOTE_ADDR", "203.0.113.9"), ("HTTP_X_REAL_IP", "127.0.0.1")],
        want: &[("REMOTE_ADDR", Some("203.0.113.9"))],
    },
];

/// An app that records the wanted keys and answers `200 seen`.
fn probe(
    keys: Vec<&'static str>,
    seen: Arc<Mutex<Option<Vec<Option<String>>>>>,
) -> impl rwsgi_core::Application {
    move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let values = keys.iter().map(|k| environ.get(k).map(Cow::into_owned)).collect();
        *seen.lock().unwrap() = Some(values);
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("seen"))
    }
}

fn with_peers<A>(app: HeaderRewrite<A>, peers: Option<&str>) -> HeaderRewrite<A> {
    match peers {
        Some(list) => app.trusted_peers(list.parse::<TrustedPeers>().expect("a valid peer list")),
        None => app,
    }
}

fn check(case: &Case) -> Vec<String> {
    let seen = Arc::new(Mutex::new(None));
    let keys = case.want.iter().map(|(k, _)| *k).collect();
    let mut app = HeaderRewrite::new(probe(keys, Arc::clone(&seen)));
    for (from, to) in case.rules {
        app = app.copy(from, to);
    }
    let app = with_peers(app, case.peers);
    let environ = Environ::from_pairs(case.env.iter().copied())
        .unwrap_or_else(|err| panic!("{}: bad input environ: {err}", case.name));
    let response = testing::call(app, environ);
    if response.status != 200 || response.body != "seen" {
        return vec![format!(
            "the app's response did not come through: {} {:?} {}",
            response.status, response.body, response.errors
        )];
    }
    let Some(values) = seen.lock().unwrap().take() else {
        return vec!["the app was not called".to_owned()];
    };
    case.want
        .iter()
        .zip(values)
        .filter(|((_, want), got)| got.as_deref() != *want)
        .map(|((key, want), got)| format!("{key}: got {got:?}, want {want:?}"))
        .collect()
}

#[test]
fn table() {
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

/// A rewrite whose target refuses the value.
struct Refused {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    /// Builds the source value (some can only be typed values or raw vars).
    source: fn(&mut Environ),
    /// In the error line on `wsgi.errors`.
    says: &'static str,
}

#[rustfmt::skip]
const REFUSED: &[Refused] = &[
    // A non-latin-1 value (a typed value's Display) on an HTTP_* key: EnvironError::NotLatin1.
    Refused {
        name: "non-latin-1 into a header",
        from: "myapp.user",
        to: "HTTP_X_USER",
        source: |e| e.insert_value("myapp.user", String::from("snow\u{2603}man")),
        says: "HTTP_X_USER: PEP 3333 strings hold only U+0000..U+00FF",
    },
    // CR/LF cannot go into a header value: EnvironError::InvalidValue.
    Refused {
        name: "newline into a header",
        from: "myapp.raw",
        to: "HTTP_X_RAW",
        source: |e| e.set("myapp.raw", "a\r\nInjected: yes").unwrap(),
        says: "HTTP_X_RAW: header values may not hold CR, LF or NUL",
    },
    // A method must be a token: EnvironError::InvalidValue.
    Refused {
        name: "bad method",
        from: "HTTP_X_HTTP_METHOD_OVERRIDE",
        to: "REQUEST_METHOD",
        source: |e| e.set("HTTP_X_HTTP_METHOD_OVERRIDE", "NOT A METHOD").unwrap(),
        says: "REQUEST_METHOD: a method is a non-empty token",
    },
    // wsgi.input holds no string: EnvironError::NotAString.
    Refused {
        name: "not a string key",
        from: "HTTP_X_BODY",
        to: "wsgi.input",
        source: |e| e.set("HTTP_X_BODY", "data").unwrap(),
        says: "wsgi.input does not hold a string",
    },
];

/// A value the target refuses is an error: the app is not called, the
/// response is a 500 and the reason is logged.
#[test]
fn refused_values_are_errors() {
    for case in REFUSED {
        let called = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&called);
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            flag.store(true, Ordering::SeqCst);
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("called"))
        };
        let mut environ = Environ::new();
        (case.source)(&mut environ);
        let response = testing::call(HeaderRewrite::new(app).copy(case.from, case.to), environ);
        assert_eq!(response.status, 500, "{}", case.name);
        assert!(
            !called.load(Ordering::SeqCst),
            "{}: the app was called",
            case.name
        );
        assert!(
            response.errors.contains(case.says),
            "{}: {:?} does not say {:?}",
            case.name,
            response.errors,
            case.says
        );
    }
}

/// An untrusted peer's request is not rewritten, so a value the target
/// would refuse is never tried and the app answers.
#[test]
fn untrusted_peer_skips_refused_values() {
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        flag.store(true, Ordering::SeqCst);
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("called"))
    };
    let mut environ = Environ::from_pairs([("REMOTE_ADDR", "203.0.113.9")]).unwrap();
    environ.insert_value("myapp.user", String::from("snow\u{2603}man"));
    let app = HeaderRewrite::new(app)
        .copy("myapp.user", "HTTP_X_USER")
        .trusted_peers(TrustedPeers::loopback());
    let response = testing::call(app, environ);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "called");
    assert!(called.load(Ordering::SeqCst));
}
