//! `Lint`: `wsgiref.validate` for rwsgi — both sides of the contract.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::StatusCode;

use crate::start_response::{HeaderPair, Respond};
use crate::{Application, Body, BoxError, ContractError, Environ, Level, StartResponse, latin1};

/// One breach `Lint` caught, by the server (in the environ, or in how it
/// handled the body) or by the application (in its status, headers, calls
/// or body). Items marked *warning* are reported but do not fail the
/// request, as in `wsgiref.validate`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LintError {
    /// A required CGI key is empty (`REQUEST_METHOD`, `SERVER_NAME`,
    /// `SERVER_PORT`, `SERVER_PROTOCOL`). Server side.
    MissingKey(&'static str),
    /// `SCRIPT_NAME` is neither empty nor starts with `/`, or is `/`.
    /// Server side (or middleware).
    BadScriptName(String),
    /// `PATH_INFO` is neither empty nor starts with `/` (`*` is allowed for
    /// `OPTIONS *`). Server side.
    BadPathInfo(String),
    /// `CONTENT_LENGTH` is not a non-negative integer. Server side.
    BadContentLength(String),
    /// `wsgi.url_scheme` is neither `http` nor `https`.
    BadUrlScheme(String),
    /// A CGI value has a char above U+00FF. Server side.
    NotLatin1(String),
    /// *Warning*: a method outside GET, HEAD, POST, OPTIONS, PATCH, PUT,
    /// DELETE, TRACE.
    UnknownMethod(String),
    /// The status is not `"NNN Reason"` with NNN ≥ 100, or has a char
    /// above U+00FF.
    BadStatus(String),
    /// *Warning*: the fourth character of the status is not a space.
    StatusWithoutSpace(String),
    /// A header name outside `^[A-Za-z][A-Za-z0-9_-]*$`, ending in `-` or
    /// `_`, or `Status`.
    BadHeaderName(String),
    /// A header value with a control character (HTAB included, stricter
    /// than the server; DEL too) or a char above U+00FF.
    BadHeaderValue(String),
    /// A response other than 204/304 without `Content-Type`.
    MissingContentType(u16),
    /// A 204 or 304 response with `Content-Type`.
    ForbiddenContentType(u16),
    /// `start_response` called twice without `exc_info` (also when the
    /// first call was refused).
    StartedTwice,
    /// `write()` before `start_response`.
    WriteBeforeStart,
    /// `write()` after the application returned (from inside its body).
    WriteAfterReturn,
    /// A non-empty body chunk before `start_response`.
    BodyBeforeStart,
    /// More body bytes than `Content-Length`.
    BodyLongerThanContentLength(u64),
    /// The server refused something Lint let through; the message names it.
    Refused(String),
}

impl LintError {
    /// Whether this is only a warning.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            LintError::UnknownMethod(_) | LintError::StatusWithoutSpace(_)
        )
    }
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LintError::*;
        match self {
            MissingKey(key) => write!(f, "environ[{key:?}] is required and must not be empty"),
            BadScriptName(v) => write!(
                f,
                "SCRIPT_NAME {v:?} must be empty or start with '/' (and not be '/')"
            ),
            BadPathInfo(v) => write!(f, "PATH_INFO {v:?} must be empty or start with '/'"),
            BadContentLength(v) => write!(f, "CONTENT_LENGTH {v:?} is not a non-negative integer"),
            BadUrlScheme(v) => write!(f, "wsgi.url_scheme {v:?} is neither 'http' nor 'https'"),
            NotLatin1(key) => write!(f, "environ[{key:?}] has a character above U+00FF"),
            UnknownMethod(m) => write!(f, "warning: unknown REQUEST_METHOD {m:?}"),
            BadStatus(s) => write!(f, "status {s:?} is not 'NNN Reason' with NNN >= 100"),
            StatusWithoutSpace(s) => write!(f, "warning: status {s:?} has no space after its code"),
            BadHeaderName(n) => write!(f, "header name {n:?} is not allowed"),
            BadHeaderValue(n) => write!(f, "the value of header {n:?} has a control character"),
            MissingContentType(s) => write!(f, "a {s} response needs Content-Type"),
            ForbiddenContentType(s) => write!(f, "a {s} response must not have Content-Type"),
            StartedTwice => f.write_str("start_response called twice without exc_info"),
            WriteBeforeStart => f.write_str("write() called before start_response"),
            WriteAfterReturn => f.write_str("write() called after the application returned"),
            BodyBeforeStart => f.write_str("the body yielded data before start_response was called"),
            BodyLongerThanContentLength(n) => write!(f, "the body is longer than its Content-Length {n}"),
            Refused(msg) => write!(f, "the server refused: {msg}"),
        }
    }
}

impl std::error::Error for LintError {}

/// Everything a [`Lint`] has seen, shared by its clones.
#[derive(Clone, Debug, Default)]
pub struct LintReport(Arc<ReportInner>);

#[derive(Debug, Default)]
struct ReportInner {
    errors: Mutex<Vec<LintError>>,
    calls: AtomicU64,
    open_bodies: AtomicUsize,
}

impl LintReport {
    /// Every breach and warning so far.
    pub fn errors(&self) -> Vec<LintError> {
        self.0.errors.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Requests the application was called for.
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }

    /// Response bodies the server has not closed yet. Once a server is idle
    /// this must be 0: every body is closed exactly once (PEP 3333's
    /// `close()`), also after errors, HEAD and disconnects.
    pub fn open_bodies(&self) -> usize {
        self.0.open_bodies.load(Ordering::Acquire)
    }

    /// Panics with every breach when there was one (warnings aside): the
    /// assertion a test ends with.
    pub fn assert_clean(&self) {
        let errors: Vec<_> = self.errors().into_iter().filter(|e| !e.is_warning()).collect();
        assert!(
            errors.is_empty(),
            "Lint found {} breach(es): {errors:#?}",
            errors.len()
        );
        assert_eq!(self.open_bodies(), 0, "Lint: response bodies left unclosed");
    }

    fn record(&self, err: LintError, environ_errors: &crate::Errors) -> LintError {
        environ_errors.log(Level::Error, format_args!("lint: {err}"));
        self.0
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(err.clone());
        err
    }
}

/// `wsgiref.validate.validator` for rwsgi: wraps an application and fails
/// loudly on any breach of the contract by either side.
///
/// On the server's side it checks the environ when the application is
/// called, and that every response body is closed. On the application's
/// side it checks `start_response`'s status and headers (more strictly than
/// the server does, as `wsgiref.validate` does), the order of calls, and
/// the body. Each breach is logged on `wsgi.errors`, recorded in the
/// [`LintReport`], and fails the request: the application sees an error
/// from `start_response`, or the response becomes a 500 (or a closed
/// connection once the head was sent). Every backend's tests run under it.
///
/// ```
/// use rwsgi_core::{Body, Environ, StartResponse, middleware::Lint, testing};
///
/// fn sloppy(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
///     sr.start("200 OK", [("X-Only", "no content type")])?;
///     Ok(Body::from("hi"))
/// }
/// let lint = Lint::new(sloppy);
/// let report = lint.report();
/// let response = testing::call(lint, Environ::new());
/// assert_eq!(response.status, 500);
/// assert!(matches!(report.errors()[0], rwsgi_core::middleware::LintError::MissingContentType(200)));
/// ```
#[derive(Clone, Debug)]
pub struct Lint<A> {
    app: A,
    report: LintReport,
}

impl<A> Lint<A> {
    /// Wraps `app`.
    pub fn new(app: A) -> Self {
        Lint {
            app,
            report: LintReport::default(),
        }
    }

    /// The report this lint (and its clones) writes to.
    pub fn report(&self) -> LintReport {
        self.report.clone()
    }
}

impl<A: Application> Application for Lint<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        self.report.0.calls.fetch_add(1, Ordering::Relaxed);
        let errors = environ.errors.clone();
        let mut failed = None;
        for err in check_environ(environ) {
            let err = self.report.record(err, &errors);
            if !err.is_warning() && failed.is_none() {
                failed = Some(err);
            }
        }
        if let Some(err) = failed {
            return Err(err.into());
        }
        let state = Arc::new(CallState::default());
        let respond = LintRespond {
            outer: start_response.clone(),
            state: Arc::clone(&state),
            report: self.report.clone(),
            errors: errors.clone(),
        };
        let body = self.app.call(environ, &StartResponse::new(respond))?;
        state.returned.store(true, Ordering::Release);
        self.report.0.open_bodies.fetch_add(1, Ordering::AcqRel);
        let report = self.report.clone();
        let closing = self.report.clone();
        let mut sent = 0u64;
        Ok(body
            .map(move |chunk| {
                let chunk = chunk?;
                if !chunk.is_empty() && !state.started.load(Ordering::Acquire) {
                    return Err(report.record(LintError::BodyBeforeStart, &errors).into());
                }
                sent += chunk.len() as u64;
                let limit = state.content_length.load(Ordering::Acquire);
                if limit != u64::MAX && sent > limit {
                    return Err(report
                        .record(LintError::BodyLongerThanContentLength(limit), &errors)
                        .into());
                }
                Ok(chunk)
            })
            .on_close(move || {
                closing.0.open_bodies.fetch_sub(1, Ordering::AcqRel);
            }))
    }
}

#[derive(Debug)]
struct CallState {
    /// start_response was called, even if that call was refused: PEP 3333
    /// makes a second call without exc_info fatal either way.
    called: AtomicBool,
    started: AtomicBool,
    returned: AtomicBool,
    /// `u64::MAX` when there is no Content-Length.
    content_length: AtomicU64,
}

impl Default for CallState {
    fn default() -> Self {
        CallState {
            called: AtomicBool::new(false),
            started: AtomicBool::new(false),
            returned: AtomicBool::new(false),
            content_length: AtomicU64::new(u64::MAX),
        }
    }
}

struct LintRespond {
    outer: StartResponse,
    state: Arc<CallState>,
    report: LintReport,
    errors: crate::Errors,
}

impl LintRespond {
    fn fail(&self, err: LintError) -> ContractError {
        ContractError::Lint(self.report.record(err, &self.errors))
    }
}

impl Respond for LintRespond {
    fn start_response(
        &self,
        status: Cow<'static, str>,
        headers: Vec<HeaderPair>,
        exc_info: Option<BoxError>,
    ) -> Result<(), ContractError> {
        let called_before = self.state.called.swap(true, Ordering::AcqRel);
        if exc_info.is_none() && called_before {
            return Err(self.fail(LintError::StartedTwice));
        }
        let code = check_status(&status).map_err(|e| self.fail(e))?;
        if status.as_bytes().get(3) != Some(&b' ') {
            self.report
                .record(LintError::StatusWithoutSpace(status.to_string()), &self.errors);
        }
        let mut content_type = false;
        let mut content_length = u64::MAX;
        for (name, value) in &headers {
            check_header(name, value).map_err(|e| self.fail(e))?;
            content_type |= name.eq_ignore_ascii_case("content-type");
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(u64::MAX);
            }
        }
        let bodiless = code == 204 || code == 304;
        if bodiless && content_type {
            return Err(self.fail(LintError::ForbiddenContentType(code)));
        }
        if !bodiless && !content_type {
            return Err(self.fail(LintError::MissingContentType(code)));
        }
        self.outer
            .respond()
            .start_response(status, headers, exc_info)
            .map_err(|e| match e {
                ContractError::Lint(_) => e,
                other => {
                    self.report
                        .record(LintError::Refused(other.to_string()), &self.errors);
                    other
                }
            })?;
        self.state.content_length.store(content_length, Ordering::Release);
        self.state.started.store(true, Ordering::Release);
        Ok(())
    }

    fn write(&self, data: Bytes) -> Result<(), ContractError> {
        if !self.state.started.load(Ordering::Acquire) {
            return Err(self.fail(LintError::WriteBeforeStart));
        }
        if self.state.returned.load(Ordering::Acquire) {
            return Err(self.fail(LintError::WriteAfterReturn));
        }
        self.outer.respond().write(data)
    }
}

/// The server-side checks of `wsgiref.validate.check_environ`.
fn check_environ(environ: &Environ) -> Vec<LintError> {
    let mut errors = Vec::new();
    for (key, value) in [
        ("REQUEST_METHOD", environ.method.as_str()),
        ("SERVER_NAME", environ.server_name.as_str()),
        ("SERVER_PORT", environ.server_port.as_str()),
        ("SERVER_PROTOCOL", &*environ.server_protocol),
    ] {
        if value.is_empty() {
            errors.push(LintError::MissingKey(key));
        }
    }
    const KNOWN: [&str; 8] = [
        "GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE",
    ];
    if !KNOWN.contains(&environ.method.as_str()) {
        errors.push(LintError::UnknownMethod(environ.method.to_string()));
    }
    let script = &environ.script_name;
    if (!script.is_empty() && !script.starts_with('/')) || script == "/" {
        errors.push(LintError::BadScriptName(script.clone()));
    }
    let path = &environ.path_info;
    let asterisk = path == "*" && environ.method == http::Method::OPTIONS;
    if !path.is_empty() && !path.starts_with('/') && !asterisk {
        errors.push(LintError::BadPathInfo(path.clone()));
    }
    if let Some(length) = environ.get("CONTENT_LENGTH").filter(|v| !v.is_empty()) {
        if length.parse::<u64>().is_err() {
            errors.push(LintError::BadContentLength(length.into_owned()));
        }
    }
    if environ.url_scheme != "http" && environ.url_scheme != "https" {
        errors.push(LintError::BadUrlScheme(environ.url_scheme.to_string()));
    }
    for (key, value) in environ.to_pairs() {
        if !latin1::is_latin1(&value) {
            errors.push(LintError::NotLatin1(key));
        }
    }
    errors
}

fn check_status(status: &str) -> Result<u16, LintError> {
    let bad = || LintError::BadStatus(status.to_owned());
    let code = status.split_whitespace().next().ok_or_else(bad)?;
    if code.len() != 3 {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    if code < 100 || status.bytes().any(|b| b < 0x20 || b == 0x7f) || !latin1::is_latin1(status) {
        return Err(bad());
    }
    StatusCode::from_u16(code).map_err(|_| bad())?;
    Ok(code)
}

fn check_header(name: &str, value: &str) -> Result<(), LintError> {
    let bad_name = || LintError::BadHeaderName(name.to_owned());
    let mut bytes = name.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || name.ends_with(['-', '_'])
        || name.eq_ignore_ascii_case("status")
    {
        return Err(bad_name());
    }
    if value.bytes().any(|b| b < 0x20 || b == 0x7f) || !latin1::is_latin1(value) {
        return Err(LintError::BadHeaderValue(name.to_owned()));
    }
    Ok(())
}
