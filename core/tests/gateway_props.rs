//! Property tests for `Gateway::serve`, the entry point every engine calls:
//! whatever head an engine can construct, the gateway never panics; it
//! either answers from the error table (`request_error`) or reaches the
//! application, and the environ the application sees keeps PEP 3333's
//! promises (checklist B3, B4, B9, G7).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::future::block_on;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use http_body::{Body as HttpBody, Frame};
use proptest::prelude::*;
use proptest::sample::select;
use rwsgi_core::gateway::{ConnInfo, Gateway, RequestHead};
use rwsgi_core::latin1;
use rwsgi_core::middleware::{Lint, LintError};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::{
    Addr, Application, Body, Config, Dispatch, Environ, ErrorBuffer, Errors, ServerHandle, StartResponse,
    ThreadTimer, UnderscoreHeaders,
};

/// The statuses of the error table.
const TABLE: [u16; 7] = [400, 408, 413, 414, 431, 501, 505];

// ---------------------------------------------------------------------------
// An engine body that is immediately at its end
// ---------------------------------------------------------------------------

struct NoBody;

impl HttpBody for NoBody {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        6 => select(vec!["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"])
            .prop_map(String::from),
        2 => select(vec!["PROPFIND", "M-SEARCH", "get", "Get", "GE", "ABCDEFGHIJKLMNOPQRSTU", "A#B", "*", "~"])
            .prop_map(String::from),
        1 => "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}",
    ]
    .prop_filter_map("a method token", |m| Method::from_bytes(m.as_bytes()).ok())
}

fn target() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        select(vec![
            "/",
            "/",
            "/app",
            "lication",
            "%",
            "%2F",
            "%2f",
            "%zz",
            "%4",
            "%C3%A9",
            "%00",
            "#",
            "?",
            "??",
            "*",
            "://",
            "http://",
            "https://",
            "HTTP://",
            "ftp://",
            "example.com",
            ":443",
            "@",
            "..",
            "&",
            "=",
            " ",
        ])
        .prop_map(|p| p.as_bytes().to_vec()),
        "[a-z0-9=&.~]{1,4}".prop_map(String::into_bytes),
        prop::collection::vec(0x80u8..=0xff, 1..3),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop_oneof![
        6 => prop::collection::vec(piece.clone(), 0..8).prop_map(|v| [b"/".to_vec(), v.concat()].concat()),
        2 => prop::collection::vec(piece.clone(), 0..4).prop_map(|v| [b"/app".to_vec(), v.concat()].concat()),
        2 => prop::collection::vec(piece, 0..10).prop_map(|v| v.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => (4070usize..4110).prop_map(|n| {
            let mut t = b"/".to_vec();
            t.resize(n, b'a');
            t
        }),
    ]
}

fn header_name() -> impl Strategy<Value = HeaderName> {
    let known = prop_oneof![
        4 => select(vec![
            "x-foo", "accept", "cookie", "x-forwarded-for", "user-agent", "expect", "connection", "upgrade", "te",
            "trailer", "http-content-type", "x.dotted", "x!bang",
        ]),
        2 => select(vec!["host", "content-length", "transfer-encoding", "content-type"]),
        1 => select(vec!["x_foo", "x_forwarded_for", "content_type", "content_length"]),
    ]
    .prop_map(HeaderName::from_static);
    // Any other token an engine could hand over (HeaderName lower-cases it).
    let token = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}"
        .prop_filter_map("a header name", |n| HeaderName::from_bytes(n.as_bytes()).ok());
    prop_oneof![7 => known, 1 => token]
}

fn values(items: Vec<&'static [u8]>) -> impl Strategy<Value = HeaderValue> {
    select(items).prop_map(|v| HeaderValue::from_bytes(v).unwrap())
}

fn any_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        12 => values(vec![
            b"0", b"5", b"abc", b"", b"chunked", b"close", b"keep-alive", b"Keep-Alive, close", b"example.com",
            b"text/plain", b"\t", b"100-continue", b"x=1; y=2", b"h\xe9\xff", b" padded ",
        ]),
        6 => prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..24)
            .prop_map(|v| HeaderValue::from_bytes(&v).unwrap()),
        1 => (8170usize..8210).prop_map(|n| HeaderValue::from_bytes(&vec![b'v'; n]).unwrap()),
    ]
}

/// A header, its value drawn (mostly) from what makes sense for the name:
/// valid and invalid lengths, codings and hosts.
fn header() -> impl Strategy<Value = (HeaderName, HeaderValue)> {
    header_name().prop_flat_map(|name| {
        let value = match name.as_str() {
            "content-length" => prop_oneof![
                3 => values(vec![b"0", b"5", b"12", b"007"]),
                1 => values(vec![b"abc", b"-1", b"1,1", b" 5", b"+5", b"", b"99999999999999999999999", b"0x10"]),
            ]
            .boxed(),
            "transfer-encoding" => prop_oneof![
                3 => values(vec![b"chunked", b"gzip, chunked", b"chunked;q=1", b"CHUNKED", b"identity, chunked"]),
                1 => values(vec![b"chunked, gzip", b"identity", b"foo", b"", b",", b"chunked, chunked"]),
            ]
            .boxed(),
            "host" => prop_oneof![
                3 => values(vec![
                    b"example.com", b"example.com:8080", b"[::1]:80", b"[::1]", b"h\xe9:1", b"127.0.0.1:0",
                ]),
                1 => values(vec![b"", b":80", b"a:", b":", b"a:b:c", b"[::1]:", b"[", b" "]),
                1 => any_value(),
            ]
            .boxed(),
            _ => any_value().boxed(),
        };
        (Just(name), value)
    })
}

fn headers() -> impl Strategy<Value = Vec<(HeaderName, HeaderValue)>> {
    prop_oneof![
        12 => prop::collection::vec(header(), 0..7),
        1 => (95usize..110).prop_map(|n| {
            (0..n)
                .map(|i| (HeaderName::try_from(format!("x-h{i}")).unwrap(), HeaderValue::from_static("v")))
                .collect()
        }),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        1 => Just(Version::HTTP_09),
        3 => Just(Version::HTTP_10),
        8 => Just(Version::HTTP_11),
        1 => Just(Version::HTTP_2),
        1 => Just(Version::HTTP_3),
    ]
}

/// One request and the server it reaches.
#[derive(Clone, Debug)]
struct Case {
    method: Method,
    target: Vec<u8>,
    version: Version,
    headers: Vec<(HeaderName, HeaderValue)>,
    underscores: UnderscoreHeaders,
    permit_methods: bool,
    pool: bool,
    secure: bool,
    unix: bool,
    script_name: &'static str,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (method(), target(), version(), headers()),
        (
            select(vec![
                UnderscoreHeaders::Drop,
                UnderscoreHeaders::Refuse,
                UnderscoreHeaders::Keep,
            ]),
            any::<bool>(),
            prop::bool::weighted(0.2),
            any::<bool>(),
            prop::bool::weighted(0.2),
            select(vec!["", "/app"]),
        ),
    )
        .prop_map(
            |(
                (method, target, version, headers),
                (underscores, permit_methods, pool, secure, unix, script_name),
            )| Case {
                method,
                target,
                version,
                headers,
                underscores,
                permit_methods,
                pool,
                secure,
                unix,
                script_name,
            },
        )
}

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

impl Case {
    fn config(&self) -> Config {
        let mut config = Config::default();
        config.underscore_headers = self.underscores;
        config.permit_unconventional_http_method = self.permit_methods;
        config.script_name = self.script_name.to_owned();
        config.error_log = Errors::new(ErrorBuffer::new());
        if self.pool {
            config.dispatch = Dispatch::ThreadPool { min: 0, max: 1 };
        }
        config
    }

    fn head(&self) -> RequestHead {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        RequestHead {
            method: self.method.clone(),
            target: Bytes::from(self.target.clone()),
            version: self.version,
            headers,
        }
    }

    fn conn(&self) -> ConnInfo {
        ConnInfo {
            peer: Addr::Tcp("198.51.100.7:51000".parse().unwrap()),
            local: if self.unix {
                Addr::Unix(None)
            } else {
                Addr::Tcp("[::1]:8443".parse().unwrap())
            },
            secure: self.secure,
            proxy: None,
        }
    }

    fn count(&self, name: &HeaderName) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }
}

/// What the gateway did with one case.
struct Outcome {
    status: u16,
    reached: bool,
    body: Vec<Result<Bytes, String>>,
    /// The environ the application saw, as `to_pairs`, plus its headers.
    seen: Option<Seen>,
}

struct Seen {
    pairs: Vec<(String, String)>,
    headers: HeaderMap,
    problems: Vec<String>,
}

/// The application: records the environ and what is wrong with it, then
/// answers `200` with a marker header.
fn probe(slot: Arc<Mutex<Option<Seen>>>) -> impl Application {
    move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let mut problems = Vec::new();
        if environ.server_name.is_empty() || environ.get("SERVER_NAME").is_none_or(|v| v.is_empty()) {
            problems.push("SERVER_NAME is empty".to_owned());
        }
        if environ.server_port.is_empty() || environ.get("SERVER_PORT").is_none_or(|v| v.is_empty()) {
            problems.push("SERVER_PORT is empty".to_owned());
        }
        if !environ.contains_key("QUERY_STRING") {
            problems.push("QUERY_STRING is missing".to_owned());
        }
        for key in ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"] {
            if environ.contains_key(key) {
                problems.push(format!("{key} is present"));
            }
        }
        let pairs = environ.to_pairs();
        for (key, value) in &pairs {
            if key == "HTTP_CONTENT_TYPE" || key == "HTTP_CONTENT_LENGTH" {
                problems.push(format!("{key} is listed"));
            }
            if !latin1::is_latin1(key) || !latin1::is_latin1(value) {
                problems.push(format!("{key}={value:?} is not latin-1"));
            }
        }
        for (key, value) in [
            ("SCRIPT_NAME", &environ.script_name),
            ("PATH_INFO", &environ.path_info),
            ("QUERY_STRING", &environ.query_string),
            ("RAW_URI", &environ.raw_uri),
            ("SERVER_NAME", &environ.server_name),
            ("SERVER_PORT", &environ.server_port),
        ] {
            if !latin1::is_latin1(value) {
                problems.push(format!("{key}={value:?} is not latin-1"));
            }
        }
        *slot.lock().unwrap() = Some(Seen {
            pairs,
            headers: environ.headers.clone(),
            problems,
        });
        // A 2xx answer to CONNECT would open a tunnel, which rwsgi refuses.
        let status = if environ.method == Method::CONNECT {
            "405 Method Not Allowed"
        } else {
            "200 OK"
        };
        sr.start(status, [("Content-Type", "text/plain"), ("X-Probe", "reached")])?;
        Ok(Body::from("probe"))
    }
}

fn run(case: &Case, app: impl Application, slot: &Arc<Mutex<Option<Seen>>>) -> Option<Outcome> {
    let gateway = Gateway::new(app, case.config(), Arc::new(ThreadTimer), ServerHandle::new());
    let response = block_on(gateway.serve(&case.conn(), case.head(), Box::pin(NoBody)))?;
    let mut body = response.body;
    let mut frames = Vec::new();
    while let Some(frame) = block_on(poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))) {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    frames.push(Ok(data));
                }
            }
            Err(err) => {
                frames.push(Err(err.to_string()));
                break;
            }
        }
    }
    let seen = slot.lock().unwrap().take();
    Some(Outcome {
        status: response.head.status.as_u16(),
        reached: response
            .head
            .headers
            .get("x-probe")
            .is_some_and(|v| v == "reached"),
        body: frames,
        seen,
    })
}

/// The CGI key of a header name (CGI convention, checklist B9).
fn cgi_key(name: &HeaderName) -> String {
    match name.as_str() {
        "content-type" => "CONTENT_TYPE".to_owned(),
        "content-length" => "CONTENT_LENGTH".to_owned(),
        other => format!("HTTP_{}", other.to_ascii_uppercase().replace('-', "_")),
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Never a panic; either an answer from the error table or the
    /// application, and then an environ that keeps PEP 3333's promises.
    #[test]
    fn gateway_answers_from_the_table_or_reaches_the_app(case in case()) {
        let slot = Arc::default();
        let outcome = run(&case, probe(Arc::clone(&slot)), &slot);
        prop_assert!(outcome.is_some(), "a complete head with an empty body is always answered");
        let outcome = outcome.unwrap();
        prop_assert_eq!(outcome.reached, outcome.seen.is_some());
        if outcome.reached {
            prop_assert_eq!(outcome.status, if case.method == Method::CONNECT { 405 } else { 200 });
            let expected: &[u8] = if case.method == Method::HEAD { b"" } else { b"probe" };
            let body: Vec<u8> = outcome.body.iter().flat_map(|f| f.clone().unwrap().to_vec()).collect();
            prop_assert_eq!(&body[..], expected);
            let seen = outcome.seen.as_ref().unwrap();
            prop_assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            let get = |key: &str| seen.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            prop_assert_eq!(get("REQUEST_METHOD"), Some(case.method.as_str()));
            let protocol = if case.version == Version::HTTP_10 { "HTTP/1.0" } else { "HTTP/1.1" };
            prop_assert_eq!(get("SERVER_PROTOCOL"), Some(protocol));
            prop_assert_eq!(get("wsgi.url_scheme"), Some(if case.secure { "https" } else { "http" }));
        } else {
            prop_assert!(TABLE.contains(&outcome.status), "status {} is not in the error table", outcome.status);
            prop_assert!(
                outcome.body.iter().all(Result::is_ok),
                "an error page is complete: {:?}",
                outcome.body
            );
        }
        // What the error table and RFC 9112 (checklist G7) say must never
        // reach the application.
        if case.version != Version::HTTP_10 && case.version != Version::HTTP_11 {
            prop_assert_eq!(outcome.status, 505);
        }
        let lengths = case.count(&CONTENT_LENGTH);
        let codings = case.count(&TRANSFER_ENCODING);
        if lengths > 0 && codings > 0 {
            prop_assert!(!outcome.reached, "Content-Length with Transfer-Encoding reached the app");
        }
        if codings > 0 && case.version == Version::HTTP_10 {
            prop_assert!(!outcome.reached, "Transfer-Encoding in HTTP/1.0 reached the app");
        }
        if lengths > 1 {
            prop_assert!(!outcome.reached, "a repeated Content-Length reached the app");
        }
        let bad_length = case.headers.iter().any(|(n, v)| {
            n == CONTENT_LENGTH
                && (v.is_empty()
                    || !v.as_bytes().iter().all(u8::is_ascii_digit)
                    || std::str::from_utf8(v.as_bytes()).ok().and_then(|s| s.parse::<u64>().ok()).is_none())
        });
        if bad_length {
            prop_assert!(!outcome.reached, "an invalid Content-Length reached the app");
        }
        if case.count(&HOST) > 1 {
            prop_assert!(!outcome.reached, "a repeated Host reached the app");
        }
    }

    /// The environ the gateway builds passes Lint's server-side checks
    /// (checklist B3, B4, B5): the server never feeds an application an
    /// environ its own Lint would refuse.
    #[test]
    fn gateway_environ_passes_lint(case in case()) {
        let slot = Arc::default();
        let lint = Lint::new(probe(Arc::clone(&slot)));
        let report = lint.report();
        let outcome = run(&case, lint, &slot);
        prop_assert!(outcome.is_some());
        let server_side: Vec<LintError> = report
            .errors()
            .into_iter()
            .filter(|e| {
                matches!(
                    e,
                    LintError::MissingKey(_)
                        | LintError::BadScriptName(_)
                        | LintError::BadPathInfo(_)
                        | LintError::BadContentLength(_)
                        | LintError::BadUrlScheme(_)
                        | LintError::NotLatin1(_)
                )
            })
            .collect();
        prop_assert!(server_side.is_empty(), "{:?}", server_side);
        if case.pool {
            // On a pool, a body the response no longer needs (HEAD) is
            // closed by the pool thread when it next tries to send: soon,
            // but not necessarily before `serve`'s response is done.
            let deadline = Instant::now() + Duration::from_secs(10);
            while report.open_bodies() != 0 && Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        prop_assert_eq!(report.open_bodies(), 0, "every body is closed");
    }

    /// B4: one `HTTP_*` variable per request header that is present (and
    /// `CONTENT_TYPE`/`CONTENT_LENGTH` for those two), each key once, the
    /// values of a repeated header joined in order (B9).
    #[test]
    fn b4_every_header_has_one_environ_key(
        case in case().prop_map(|mut c| {
            if c.underscores == UnderscoreHeaders::Keep {
                c.underscores = UnderscoreHeaders::Drop; // B9's collisions: see the next property
            }
            c
        })
    ) {
        let slot = Arc::default();
        let outcome = run(&case, probe(Arc::clone(&slot)), &slot).unwrap();
        let Some(seen) = outcome.seen else { return Ok(()) };
        let keys: Vec<&str> = seen.pairs.iter().map(|(k, _)| k.as_str()).collect();
        let mut unique = keys.clone();
        unique.dedup();
        prop_assert_eq!(&unique, &keys, "every environ key once");
        for name in seen.headers.keys() {
            let key = cgi_key(name);
            let values: Vec<String> = seen
                .headers
                .get_all(name)
                .iter()
                .map(|v| latin1::decode(v.as_bytes()).into_owned())
                .collect();
            let separator = if name == "cookie" { "; " } else { "," };
            let expected = values.join(separator);
            let got = seen.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
            prop_assert_eq!(got, Some(expected.as_str()), "header {:?} as {}", name, key);
        }
    }

    /// B9 with `UnderscoreHeaders::Keep` (gunicorn's "dangerous"): a kept
    /// `X_Foo` is still a request header that is present, so it has its
    /// `HTTP_X_FOO`, and the environ never lists a key twice (even when
    /// `X-Foo` came too).
    #[test]
    fn b9_kept_underscore_headers_have_their_key(
        case in case().prop_map(|mut c| {
            c.underscores = UnderscoreHeaders::Keep;
            c
        })
    ) {
        let slot = Arc::default();
        let outcome = run(&case, probe(Arc::clone(&slot)), &slot).unwrap();
        let Some(seen) = outcome.seen else { return Ok(()) };
        let keys: Vec<&str> = seen.pairs.iter().map(|(k, _)| k.as_str()).collect();
        let mut unique = keys.clone();
        unique.dedup();
        prop_assert_eq!(&unique, &keys, "every environ key once");
        for name in seen.headers.keys().filter(|n| n.as_str().contains('_')) {
            let key = cgi_key(name);
            if key == "HTTP_CONTENT_TYPE" || key == "HTTP_CONTENT_LENGTH" {
                continue; // may never exist (B4)
            }
            prop_assert!(keys.contains(&key.as_str()), "header {:?} has no {}", name, key);
        }
    }
}
