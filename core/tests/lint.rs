//! `Lint` (rwsgi's `wsgiref.validate`) against the PEP 3333 checklist
//! (`pep3333-checklist.md`): for every item Lint can check, a breach is
//! caught — the right [`LintError`] in the report, a line on `wsgi.errors`,
//! and a failed request (500, or an aborted body once the head was sent) —
//! and the legal form passes clean. Tests are named after the item.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rwsgi_core::middleware::{Lint, LintError, LintReport};
use rwsgi_core::testing::{self, TestResponse};
use rwsgi_core::{
    Application, Body, BoxError, Config, ContractError, Dispatch, Environ, HeaderPair, Respond, StartResponse,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs `app` under a fresh `Lint`, the way a server would.
fn linted(app: impl Application, environ: Environ) -> (TestResponse, LintReport) {
    let lint = Lint::new(app);
    let report = lint.report();
    let response = testing::call(lint, environ);
    (response, report)
}

/// An application that answers `status` with `headers` and `body`.
fn answer(status: &str, headers: &[(&str, &str)], body: &'static str) -> impl Application + Clone {
    let status = status.to_owned();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start(status.clone(), headers.clone())?;
        Ok(Body::from(body))
    }
}

/// A legal application that records that it ran.
fn probe() -> (impl Application, Arc<AtomicBool>) {
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        flag.store(true, Ordering::SeqCst);
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("probe"))
    };
    (app, called)
}

/// The breach was caught: recorded as `expected`, logged on `wsgi.errors`,
/// and the request failed; every body was still closed.
#[track_caller]
fn assert_caught(response: &TestResponse, report: &LintReport, expected: &LintError) {
    let errors = report.errors();
    assert!(
        errors.contains(expected),
        "expected {expected:?} in the lint report, got {errors:?}"
    );
    assert!(
        !expected.is_warning(),
        "{expected:?} must be a breach, not a warning"
    );
    assert!(
        response.status == 500 || response.aborted.is_some(),
        "the request must fail (500 or aborted), got {} / {:?}",
        response.status,
        response.aborted
    );
    let line = format!("lint: {expected}");
    assert!(
        response.errors.contains(&line),
        "{line:?} must be logged on wsgi.errors, got {:?}",
        response.errors
    );
    assert_eq!(report.open_bodies(), 0, "the server must close the body");
}

/// The legal form: nothing recorded, not even a warning, and the
/// response went out whole.
#[track_caller]
fn assert_accepted(response: &TestResponse, report: &LintReport) {
    assert_eq!(report.errors(), Vec::<LintError>::new());
    report.assert_clean();
    assert!(response.aborted.is_none(), "aborted: {:?}", response.aborted);
    assert_ne!(response.status, 500, "errors: {}", response.errors);
    assert!(!response.errors.contains("lint:"), "{}", response.errors);
}

/// Runs an app answering `status` under Lint and expects `BadStatus`.
#[track_caller]
fn status_caught(status: &str) {
    let (response, report) = linted(
        answer(status, &[("Content-Type", "text/plain")], "x"),
        Environ::new(),
    );
    assert_caught(&response, &report, &LintError::BadStatus(status.to_owned()));
    assert_eq!(response.status, 500);
}

/// Runs an app sending header `(name, value)` under Lint.
fn with_header(name: &str, value: &str) -> (TestResponse, LintReport) {
    linted(
        answer("200 OK", &[("Content-Type", "text/plain"), (name, value)], "x"),
        Environ::new(),
    )
}

#[track_caller]
fn header_name_caught(name: &str) {
    let (response, report) = with_header(name, "v");
    assert_caught(&response, &report, &LintError::BadHeaderName(name.to_owned()));
    assert_eq!(response.status, 500);
}

#[track_caller]
fn header_value_caught(value: &str) {
    let (response, report) = with_header("X-Value", value);
    assert_caught(
        &response,
        &report,
        &LintError::BadHeaderValue("X-Value".to_owned()),
    );
    assert_eq!(response.status, 500);
}

/// The same application without Lint: what the server alone does.
fn bare(app: impl Application) -> TestResponse {
    testing::call(app, Environ::new())
}

/// A `start_response` that accepts everything, for calling `Lint` directly.
struct AcceptAll;

impl Respond for AcceptAll {
    fn start_response(
        &self,
        _status: Cow<'static, str>,
        _headers: Vec<HeaderPair>,
        _exc_info: Option<BoxError>,
    ) -> Result<(), ContractError> {
        Ok(())
    }

    fn write(&self, _data: Bytes) -> Result<(), ContractError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// B: the environ (server side)
// ---------------------------------------------------------------------------

#[test]
fn b4_b5_server_environ_accepted() {
    let (app, called) = probe();
    let (response, report) = linted(app, Environ::new());
    assert_accepted(&response, &report);
    assert!(called.load(Ordering::SeqCst));
    assert_eq!(response.body, "probe");
    assert_eq!(report.calls(), 1);
}

#[track_caller]
fn environ_caught(environ: Environ, expected: LintError) {
    let (app, called) = probe();
    let (response, report) = linted(app, environ);
    assert_caught(&response, &report, &expected);
    assert_eq!(response.status, 500);
    assert!(
        !called.load(Ordering::SeqCst),
        "the application must not run on a broken environ"
    );
}

#[test]
fn b4_missing_server_name() {
    let mut environ = Environ::new();
    environ.server_name.clear();
    environ_caught(environ, LintError::MissingKey("SERVER_NAME"));
}

#[test]
fn b4_missing_server_port() {
    let mut environ = Environ::new();
    environ.server_port.clear();
    environ_caught(environ, LintError::MissingKey("SERVER_PORT"));
}

#[test]
fn b4_missing_server_protocol() {
    let mut environ = Environ::new();
    environ.server_protocol = Cow::Borrowed("");
    environ_caught(environ, LintError::MissingKey("SERVER_PROTOCOL"));
}

#[test]
fn b4_script_name_is_a_lone_slash() {
    let mut environ = Environ::new();
    environ.script_name = "/".into();
    environ_caught(environ, LintError::BadScriptName("/".into()));
}

#[test]
fn b4_script_name_without_leading_slash() {
    let mut environ = Environ::new();
    environ.script_name = "app".into();
    environ_caught(environ, LintError::BadScriptName("app".into()));
}

#[test]
fn b4_script_name_mount_point_accepted() {
    let mut environ = Environ::new();
    environ.script_name = "/app".into();
    environ.path_info = "/page".into();
    let (app, called) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);
    assert!(called.load(Ordering::SeqCst));
}

#[test]
fn b4_path_info_without_leading_slash() {
    let mut environ = Environ::new();
    environ.path_info = "page".into();
    environ_caught(environ, LintError::BadPathInfo("page".into()));
}

#[test]
fn b4_path_info_empty_accepted() {
    let mut environ = Environ::new();
    environ.script_name = "/app".into();
    environ.path_info.clear();
    let (app, _) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);
}

#[test]
fn b4_path_info_asterisk_only_for_options() {
    let mut environ = Environ::new();
    environ.method = http::Method::OPTIONS;
    environ.path_info = "*".into();
    let (app, _) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);

    let mut environ = Environ::new();
    environ.path_info = "*".into();
    environ_caught(environ, LintError::BadPathInfo("*".into()));
}

#[test]
fn b4_content_length_not_an_integer() {
    let mut environ = Environ::new();
    environ.set("CONTENT_LENGTH", "ten").unwrap();
    environ_caught(environ, LintError::BadContentLength("ten".into()));
}

#[test]
fn b4_content_length_negative() {
    let mut environ = Environ::new();
    environ.set("CONTENT_LENGTH", "-1").unwrap();
    environ_caught(environ, LintError::BadContentLength("-1".into()));
}

#[test]
fn b4_content_length_integer_or_empty_accepted() {
    for length in ["0", "42", ""] {
        let mut environ = Environ::new();
        environ.set("CONTENT_LENGTH", length).unwrap();
        let (app, _) = probe();
        let (response, report) = linted(app, environ);
        assert_accepted(&response, &report);
    }
}

#[test]
fn b4_http_content_type_and_length_cannot_exist() {
    // Lint has nothing to check here: the environ cannot hold these keys.
    let mut environ = Environ::new();
    assert!(environ.set("HTTP_CONTENT_TYPE", "text/plain").is_err());
    assert!(environ.set("HTTP_CONTENT_LENGTH", "3").is_err());
    environ.set("CONTENT_TYPE", "text/plain").unwrap();
    environ.set("CONTENT_LENGTH", "3").unwrap();
    assert!(!environ.contains_key("HTTP_CONTENT_TYPE"));
    assert!(!environ.contains_key("HTTP_CONTENT_LENGTH"));
    let keys: Vec<String> = environ.to_pairs().into_iter().map(|(k, _)| k).collect();
    assert!(keys.contains(&"CONTENT_TYPE".to_owned()));
    assert!(
        !keys
            .iter()
            .any(|k| k == "HTTP_CONTENT_TYPE" || k == "HTTP_CONTENT_LENGTH")
    );
}

#[test]
fn b5_url_scheme_other_than_http() {
    let mut environ = Environ::new();
    environ.url_scheme = Cow::Borrowed("ftp");
    environ_caught(environ, LintError::BadUrlScheme("ftp".into()));
}

#[test]
fn b5_url_scheme_upper_case() {
    let mut environ = Environ::new();
    environ.url_scheme = Cow::Borrowed("HTTPS");
    environ_caught(environ, LintError::BadUrlScheme("HTTPS".into()));
}

#[test]
fn b5_url_scheme_https_accepted() {
    let mut environ = Environ::new();
    environ.url_scheme = Cow::Borrowed("https");
    let (app, _) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);
}

#[test]
fn b3_non_latin1_environ_value() {
    let mut environ = Environ::new();
    environ.path_info = "/snow\u{2603}".into();
    environ_caught(environ, LintError::NotLatin1("PATH_INFO".into()));

    let mut environ = Environ::new();
    environ.query_string = "q=\u{20ac}".into();
    environ_caught(environ, LintError::NotLatin1("QUERY_STRING".into()));
}

#[test]
fn b3_latin1_environ_value_accepted() {
    let mut environ = Environ::new();
    environ.path_info = "/caf\u{e9}\u{ff}".into();
    let (app, _) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);
}

// ---------------------------------------------------------------------------
// D1: the status
// ---------------------------------------------------------------------------

#[test]
fn d1_status_200_ok_and_404_not_found_accepted() {
    for (status, code) in [("200 OK", 200), ("404 Not Found", 404)] {
        let (response, report) = linted(
            answer(status, &[("Content-Type", "text/plain")], "x"),
            Environ::new(),
        );
        assert_accepted(&response, &report);
        assert_eq!(response.status, code);
    }
}

#[test]
fn d1_status_with_empty_reason_accepted() {
    let (response, report) = linted(
        answer("200 ", &[("Content-Type", "text/plain")], "x"),
        Environ::new(),
    );
    assert_accepted(&response, &report);
    assert_eq!(response.status, 200);
}

#[test]
fn d1_status_with_two_digit_code() {
    status_caught("20 OK");
}

#[test]
fn d1_status_with_four_digit_code() {
    status_caught("2000 OK");
}

#[test]
fn d1_status_with_letters_for_code() {
    status_caught("abc OK");
}

#[test]
fn d1_status_with_tab_separator() {
    status_caught("200\tOK");
}

#[test]
fn d1_status_with_trailing_crlf() {
    status_caught("200 OK\r\n");
}

#[test]
fn d1_status_with_embedded_newline() {
    status_caught("200 O\nK");
}

#[test]
fn d1_status_below_100() {
    status_caught("099 X");
}

#[test]
fn d1_status_not_latin1() {
    status_caught("200 \u{2603}");
}

/// `"200"` and `" 200 OK"` pass wsgiref.validate's three-digit check and
/// only warn (checklist M); the server (REF) is what refuses them.
#[track_caller]
fn status_warned_then_refused(status: &str) {
    let (response, report) = linted(
        answer(status, &[("Content-Type", "text/plain")], "x"),
        Environ::new(),
    );
    let errors = report.errors();
    let warning = LintError::StatusWithoutSpace(status.to_owned());
    assert!(errors.contains(&warning), "{errors:?}");
    assert!(warning.is_warning());
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, LintError::Refused(msg) if msg.contains("bad status"))),
        "the server must refuse it: {errors:?}"
    );
    assert!(!errors.contains(&LintError::BadStatus(status.to_owned())));
    assert_eq!(response.status, 500);
    assert_eq!(report.open_bodies(), 0);
}

#[test]
fn d1_status_without_reason_warns_and_server_refuses() {
    status_warned_then_refused("200");
}

#[test]
fn d1_status_with_leading_space_warns_and_server_refuses() {
    status_warned_then_refused(" 200 OK");
}

// ---------------------------------------------------------------------------
// D3: header names (Lint is stricter than the RFC token rule)
// ---------------------------------------------------------------------------

#[test]
fn d3_header_name_with_trailing_colon() {
    header_name_caught("X-Foo:");
}

#[test]
fn d3_header_name_with_space() {
    header_name_caught("X Foo");
}

#[test]
fn d3_header_name_with_newline() {
    header_name_caught("X-Foo\n");
}

#[test]
fn d3_header_name_empty() {
    header_name_caught("");
}

#[test]
fn d3_header_name_status() {
    header_name_caught("Status");
    header_name_caught("STATUS");
}

#[test]
fn d3_header_name_with_trailing_dash() {
    header_name_caught("X-");
    // A valid token: the server alone accepts it.
    let response = bare(answer(
        "200 OK",
        &[("Content-Type", "text/plain"), ("X-", "v")],
        "x",
    ));
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-"], "v");
}

#[test]
fn d3_header_name_with_trailing_underscore() {
    header_name_caught("X_");
}

#[test]
fn d3_header_name_starting_with_a_digit() {
    header_name_caught("1X");
    let response = bare(answer(
        "200 OK",
        &[("Content-Type", "text/plain"), ("1X", "v")],
        "x",
    ));
    assert_eq!(response.status, 200);
}

#[test]
fn d3_header_names_accepted() {
    for name in ["X-Foo", "content-type", "X_Inner_Underscore", "x1"] {
        let (response, report) = with_header(name, "v");
        assert_accepted(&response, &report);
        assert!(response.headers.get_all(name).iter().any(|v| v == "v"), "{name}");
    }
}

// ---------------------------------------------------------------------------
// D4: header values
// ---------------------------------------------------------------------------

#[test]
fn d4_header_value_with_htab_rejected_by_lint_accepted_by_server() {
    header_value_caught("a\tb");
    let response = bare(answer(
        "200 OK",
        &[("Content-Type", "text/plain"), ("X-Value", "a\tb")],
        "x",
    ));
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-value"], "a\tb");
}

#[test]
fn d4_header_value_with_crlf() {
    header_value_caught("a\r\nSet-Cookie: x=1");
}

#[test]
fn d4_header_value_with_trailing_lf() {
    header_value_caught("a\n");
}

#[test]
fn d4_header_value_with_nul() {
    header_value_caught("a\0b");
}

#[test]
fn d4_header_value_with_escape() {
    header_value_caught("a\x1bb");
}

#[test]
fn d4_header_value_with_del() {
    header_value_caught("a\x7fb");
}

#[test]
fn d4_header_value_not_latin1() {
    header_value_caught("snow \u{2603}");
}

#[test]
fn d4_header_value_latin1_accepted() {
    let (response, report) = with_header("X-Value", "caf\u{e9} au lait");
    assert_accepted(&response, &report);
    assert_eq!(response.headers["x-value"].as_bytes(), b"caf\xe9 au lait");
}

// ---------------------------------------------------------------------------
// D5, D6: hop-by-hop headers; breaches are raised by start_response itself
// ---------------------------------------------------------------------------

#[test]
fn d5_hop_by_hop_header_refused_by_the_server() {
    // wsgiref.validate does not know hop-by-hop headers; the server refuses
    // them and Lint records the refusal.
    let (response, report) = with_header("Connection", "close");
    let errors = report.errors();
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, LintError::Refused(msg) if msg.contains("hop-by-hop"))),
        "{errors:?}"
    );
    assert_eq!(response.status, 500);
    assert_eq!(report.open_bodies(), 0);
}

#[test]
fn d6_breach_is_returned_by_the_start_response_call() {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let slot = Arc::clone(&seen);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let result = sr.start("200 OK", [("Content-Type", "text/plain"), ("X Foo", "v")]);
        *slot.lock().unwrap() = Some(match result {
            Err(ContractError::Lint(LintError::BadHeaderName(name))) => name,
            other => format!("unexpected: {other:?}"),
        });
        // The application ignores the error: the request still fails.
        Ok(Body::from("ignored"))
    };
    let (response, report) = linted(app, Environ::new());
    assert_eq!(seen.lock().unwrap().as_deref(), Some("X Foo"));
    assert_caught(&response, &report, &LintError::BadHeaderName("X Foo".into()));
    assert_eq!(response.status, 500);
    assert_ne!(response.body, "ignored");
}

// ---------------------------------------------------------------------------
// D8: calling start_response more than once
// ---------------------------------------------------------------------------

#[test]
fn d8_second_call_without_exc_info() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        sr.start("404 Not Found", [("Content-Type", "text/plain")])?;
        Ok(Body::from("x"))
    };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::StartedTwice);
    assert_eq!(response.status, 500);
}

#[test]
fn d8_second_call_after_a_refused_first() {
    // "This includes a second call after a first call that raised."
    let second: Arc<Mutex<Option<bool>>> = Arc::default();
    let slot = Arc::clone(&second);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        assert!(sr.start("200 OK", [("X Bad", "v")]).is_err());
        let retry = sr.start("200 OK", [("Content-Type", "text/plain")]);
        *slot.lock().unwrap() = Some(retry.is_err());
        retry?;
        Ok(Body::from("x"))
    };
    let (response, report) = linted(app, Environ::new());
    assert_eq!(*second.lock().unwrap(), Some(true), "the retry must be refused");
    assert_caught(&response, &report, &LintError::StartedTwice);
    assert_eq!(response.status, 500);
}

#[test]
fn d8_exc_info_replaces_an_unsent_head_accepted() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        let failure: BoxError = "backend down".into();
        sr.start_with_exc_info(
            "503 Service Unavailable",
            [("Content-Type", "text/plain")],
            failure,
        )?;
        Ok(Body::from("try later"))
    };
    let (response, report) = linted(app, Environ::new());
    assert_accepted(&response, &report);
    assert_eq!(response.status, 503);
    assert_eq!(response.body, "try later");
}

#[test]
fn d8_exc_info_after_head_sent_reraises_through_lint() {
    let reraised: Arc<Mutex<Option<String>>> = Arc::default();
    let slot = Arc::clone(&reraised);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        sr.write("partial")?;
        let failure: BoxError = "original failure".into();
        let err = sr
            .start_with_exc_info(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                failure,
            )
            .unwrap_err();
        *slot.lock().unwrap() = Some(match &err {
            ContractError::HeadersAlreadySent(original) => original.to_string(),
            other => format!("unexpected: {other:?}"),
        });
        Err(err.into())
    };
    let (response, report) = linted(app, Environ::new());
    // Lint hands the original error back untouched; the request fails.
    // (What the server then sends is contract.rs's business.)
    assert_eq!(reraised.lock().unwrap().as_deref(), Some("original failure"));
    assert!(response.status == 500 || response.aborted.is_some());
    assert_eq!(report.open_bodies(), 0);
}

// ---------------------------------------------------------------------------
// D10: start_response before the first body chunk
// ---------------------------------------------------------------------------

#[test]
fn d10_body_before_start() {
    let app = |_: &mut Environ, _: &StartResponse| -> rwsgi_core::Result<Body> { Ok(Body::iter(["data"])) };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::BodyBeforeStart);
    assert_eq!(response.status, 500);
}

#[test]
fn d10_start_response_after_the_first_chunk() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let sr = sr.clone();
        let mut step = 0;
        Ok(Body::try_iter(std::iter::from_fn(move || {
            step += 1;
            match step {
                1 => Some(Ok::<_, BoxError>(Bytes::from("too early"))),
                2 => Some(
                    sr.start("200 OK", [("Content-Type", "text/plain")])
                        .map(|()| Bytes::from("late"))
                        .map_err(Into::into),
                ),
                _ => None,
            }
        })))
    };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::BodyBeforeStart);
    assert_eq!(response.status, 500);
}

#[test]
fn d10_lazy_start_inside_the_iterator_accepted() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let sr = sr.clone();
        let mut started = false;
        Ok(Body::try_iter(std::iter::from_fn(move || {
            if started {
                return None;
            }
            started = true;
            Some(
                sr.start("200 OK", [("Content-Type", "text/plain")])
                    .map(|()| Bytes::from("lazy"))
                    .map_err(BoxError::from),
            )
        })))
    };
    let (response, report) = linted(app, Environ::new());
    assert_accepted(&response, &report);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "lazy");
}

// ---------------------------------------------------------------------------
// E: write()
// ---------------------------------------------------------------------------

#[test]
fn e3_write_before_start() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.write("early")?;
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::empty())
    };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::WriteBeforeStart);
    assert_eq!(response.status, 500);
}

#[test]
fn e1_write_after_start_accepted() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        sr.write("written ")?;
        Ok(Body::iter(["yielded"]))
    };
    let (response, report) = linted(app, Environ::new());
    assert_accepted(&response, &report);
    assert_eq!(response.body, "written yielded");
}

#[test]
fn e4_write_after_return() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        let sr = sr.clone();
        let mut done = false;
        Ok(Body::try_iter(std::iter::from_fn(move || {
            if done {
                return None;
            }
            done = true;
            Some(
                sr.write("from the body")
                    .map(|()| Bytes::new())
                    .map_err(BoxError::from),
            )
        })))
    };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::WriteAfterReturn);
    assert_eq!(response.status, 500);
}

// ---------------------------------------------------------------------------
// G6: Content-Type (Lint is stricter than the PEP)
// ---------------------------------------------------------------------------

#[test]
fn g6_missing_content_type() {
    let (response, report) = linted(answer("200 OK", &[("X-Other", "1")], "x"), Environ::new());
    assert_caught(&response, &report, &LintError::MissingContentType(200));
}

#[test]
fn g6_missing_content_type_on_an_error_status() {
    let (response, report) = linted(answer("404 Not Found", &[], "x"), Environ::new());
    assert_caught(&response, &report, &LintError::MissingContentType(404));
}

#[test]
fn g6_content_type_forbidden_on_204() {
    let (response, report) = linted(
        answer("204 No Content", &[("Content-Type", "text/plain")], ""),
        Environ::new(),
    );
    assert_caught(&response, &report, &LintError::ForbiddenContentType(204));
}

#[test]
fn g6_content_type_forbidden_on_304() {
    let (response, report) = linted(
        answer("304 Not Modified", &[("content-type", "text/html")], ""),
        Environ::new(),
    );
    assert_caught(&response, &report, &LintError::ForbiddenContentType(304));
}

#[test]
fn g6_204_and_304_without_content_type_accepted() {
    for (status, code) in [("204 No Content", 204), ("304 Not Modified", 304)] {
        let (response, report) = linted(answer(status, &[("ETag", "\"v1\"")], ""), Environ::new());
        assert_accepted(&response, &report);
        assert_eq!(response.status, code);
        assert!(response.body.is_empty());
    }
}

#[test]
fn g6_content_type_any_case_accepted() {
    let (response, report) = linted(
        answer("200 OK", &[("content-TYPE", "text/plain")], "x"),
        Environ::new(),
    );
    assert_accepted(&response, &report);
    assert_eq!(response.headers["content-type"], "text/plain");
}

// ---------------------------------------------------------------------------
// G1: no more body than Content-Length
// ---------------------------------------------------------------------------

#[test]
fn g1_body_longer_than_content_length() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "3")],
        )?;
        Ok(Body::iter(["ab", "cd"]))
    };
    let (response, report) = linted(app, Environ::new());
    assert_caught(&response, &report, &LintError::BodyLongerThanContentLength(3));
    assert!(response.body.len() <= 3, "{:?}", response.body);
}

#[test]
fn g1_single_buffer_longer_than_content_length() {
    let (response, report) = linted(
        answer(
            "200 OK",
            &[("Content-Type", "text/plain"), ("Content-Length", "3")],
            "hello",
        ),
        Environ::new(),
    );
    assert_caught(&response, &report, &LintError::BodyLongerThanContentLength(3));
    assert_eq!(response.status, 500, "nothing was sent yet: {:?}", response.body);
}

#[test]
fn g1_body_as_long_as_content_length_accepted() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "4")],
        )?;
        Ok(Body::iter(["ab", "", "cd"]))
    };
    let (response, report) = linted(app, Environ::new());
    assert_accepted(&response, &report);
    assert_eq!(response.body, "abcd");
}

// ---------------------------------------------------------------------------
// M: warnings only
// ---------------------------------------------------------------------------

#[test]
fn m_unknown_method_is_a_warning_only() {
    let mut environ = Environ::new();
    environ.method = http::Method::from_bytes(b"PROPFIND").unwrap();
    let (app, called) = probe();
    let (response, report) = linted(app, environ);
    assert_eq!(report.errors(), vec![LintError::UnknownMethod("PROPFIND".into())]);
    assert!(report.errors()[0].is_warning());
    report.assert_clean();
    assert!(called.load(Ordering::SeqCst));
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "probe");
    assert!(response.errors.contains("warning: unknown REQUEST_METHOD"));
}

#[test]
fn m_known_methods_do_not_warn() {
    for method in [
        "GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE",
    ] {
        let mut environ = Environ::new();
        environ.method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let (app, _) = probe();
        let (response, report) = linted(app, environ);
        assert_accepted(&response, &report);
    }
}

#[test]
fn m_status_without_space_is_a_warning_not_a_lint_failure() {
    assert!(LintError::StatusWithoutSpace("200".into()).is_warning());
    // Lint lets it through to the server (which refuses it, see D1).
    let (_, report) = linted(
        answer("200", &[("Content-Type", "text/plain")], "x"),
        Environ::new(),
    );
    let errors = report.errors();
    assert_eq!(errors[0], LintError::StatusWithoutSpace("200".into()));
    assert!(matches!(errors[1], LintError::Refused(_)), "{errors:?}");
}

#[test]
fn m_query_string_cannot_go_missing() {
    // The "QUERY_STRING missing" warning cannot arise: the key always exists.
    let mut environ = Environ::new();
    environ.remove("QUERY_STRING").unwrap();
    assert!(environ.contains_key("QUERY_STRING"));
    let (app, _) = probe();
    let (response, report) = linted(app, environ);
    assert_accepted(&response, &report);
}

// ---------------------------------------------------------------------------
// F1: every body is closed
// ---------------------------------------------------------------------------

#[test]
fn f1_server_closes_every_body() {
    let app = |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        match environ.path_info.as_str() {
            "/fail-mid-body" => {
                sr.start("200 OK", [("Content-Type", "text/plain")])?;
                Ok(Body::try_iter([Ok("a"), Err(BoxError::from("boom"))]))
            }
            "/too-long" => {
                sr.start(
                    "200 OK",
                    [("Content-Type", "text/plain"), ("Content-Length", "1")],
                )?;
                Ok(Body::iter(["x", "y", "z"]))
            }
            "/not-modified" => {
                sr.start("304 Not Modified", [("ETag", "\"1\"")])?;
                Ok(Body::iter(["ignored"]))
            }
            "/write" => {
                sr.start("200 OK", [("Content-Type", "text/plain")])?;
                sr.write("w")?;
                Ok(Body::iter(["i"]))
            }
            "/app-error" => Err("no".into()),
            _ => {
                sr.start("200 OK", [("Content-Type", "text/plain")])?;
                Ok(Body::iter(["a", "b"]))
            }
        }
    };
    let lint = Lint::new(app);
    let report = lint.report();
    let paths = [
        "/",
        "/fail-mid-body",
        "/too-long",
        "/not-modified",
        "/write",
        "/app-error",
    ];
    for path in paths {
        for method in [http::Method::GET, http::Method::HEAD] {
            let mut environ = Environ::new();
            environ.path_info = path.into();
            environ.method = method;
            testing::call(lint.clone(), environ);
            assert_eq!(report.open_bodies(), 0, "{path}");
        }
    }
    assert_eq!(report.calls(), 2 * paths.len() as u64);
}

#[test]
fn f1_server_closes_every_body_on_a_thread_pool() {
    let lint = Lint::new(answer("200 OK", &[("Content-Type", "text/plain")], "x"));
    let report = lint.report();
    for _ in 0..3 {
        let mut config = Config::default();
        config.dispatch = Dispatch::ThreadPool { min: 1, max: 2 };
        let response = testing::call_with(lint.clone(), Environ::new(), config);
        assert_eq!(response.body, "x");
    }
    report.assert_clean();
    assert_eq!(report.calls(), 3);
}

#[test]
fn f1_unclosed_body_is_reported() {
    let lint = Lint::new(answer("200 OK", &[("Content-Type", "text/plain")], "x"));
    let report = lint.report();
    let body = lint
        .call(&mut Environ::new(), &StartResponse::new(AcceptAll))
        .expect("a legal app");
    assert_eq!(report.open_bodies(), 1);
    let unclosed = std::panic::catch_unwind(|| report.assert_clean());
    assert!(unclosed.is_err(), "assert_clean must fail while a body is open");
    drop(body);
    assert_eq!(report.open_bodies(), 0);
    report.assert_clean();
}
