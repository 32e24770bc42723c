//! start_response's output → the response head every engine writes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, SERVER};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

use crate::ContractError;
use crate::request_error::{Outcome, RequestError};
use crate::server::Config;

/// How the end of a response body is marked on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body at all: HEAD, 204, 304. Any `Content-Length` header is the
    /// application's, describing the body a GET would have had.
    None,
    /// Exactly this many bytes, announced by `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 without a length).
    Close,
}

/// The response head, complete: every engine writes exactly this.
#[derive(Clone, Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase when it differs from the code's canonical one.
    pub reason: Option<Cow<'static, str>>,
    /// The header fields, `Date`, `Server`, `Content-Length` and
    /// `Connection` included as the gateway decided them.
    pub headers: HeaderMap,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection stays open for another request.
    pub keep_alive: bool,
}

/// What the gateway knows about the request when it finishes a head.
#[derive(Clone)]
pub(crate) struct RequestFacts {
    pub method: Method,
    pub version: Version,
    pub keep_alive: bool,
}

/// A status and headers as start_response accepted them.
#[derive(Clone, Debug)]
pub(crate) struct AppHead {
    pub status: StatusCode,
    pub reason: Cow<'static, str>,
    pub headers: HeaderMap,
}

/// Decides framing and fills in what the server owns.
pub(crate) fn finish_head(
    app: AppHead,
    body_len: Option<u64>,
    request: &RequestFacts,
    config: &Config,
) -> Result<ResponseHead, ContractError> {
    let AppHead {
        status,
        reason,
        mut headers,
    } = app;
    if request.method == Method::CONNECT && status.is_success() {
        return Err(ContractError::ConnectTunnel);
    }
    let declared = declared_length(&headers)?;
    let no_body = request.method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if status == StatusCode::NO_CONTENT {
        headers.remove(CONTENT_LENGTH);
    }
    let framing = if no_body {
        if declared.is_none() && request.method == Method::HEAD {
            if let Some(len) = body_len {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            }
        }
        Framing::None
    } else if let Some(len) = declared {
        Framing::Length(len)
    } else if let Some(len) = body_len {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        Framing::Length(len)
    } else if request.version == Version::HTTP_11 {
        Framing::Chunked
    } else {
        Framing::Close
    };
    let keep_alive = request.keep_alive && framing != Framing::Close && !config.keep_alive.is_zero();
    add_server_headers(&mut headers, config);
    set_connection(&mut headers, request.version, keep_alive);
    let reason = (status.canonical_reason() != Some(&*reason)).then_some(reason);
    Ok(ResponseHead {
        status,
        reason,
        headers,
        framing,
        keep_alive,
    })
}

/// A response the server makes itself: a status and a one-line text body.
pub(crate) fn server_head(
    status: StatusCode,
    body_len: usize,
    keep_alive: bool,
    version: Version,
    config: &Config,
) -> ResponseHead {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body_len));
    add_server_headers(&mut headers, config);
    set_connection(&mut headers, version, keep_alive);
    ResponseHead {
        status,
        reason: None,
        headers,
        framing: Framing::Length(body_len as u64),
        keep_alive,
    }
}

/// The head for a rejected request, per the error table; `None` when the
/// table says to close without answering.
pub(crate) fn rejection(err: &RequestError, config: &Config) -> Option<(ResponseHead, &'static str)> {
    match err.outcome() {
        Outcome::Close => None,
        Outcome::Respond(status) => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let mut head = server_head(status, reason.len() + 1, false, Version::HTTP_11, config);
            head.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Some((head, reason))
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, ContractError> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |why| ContractError::BadHeaderValue {
        name: "Content-Length".into(),
        why,
    };
    if values.next().is_some() {
        return Err(bad("given more than once"));
    }
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("not a number"));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or(bad("not a number"))
}

fn add_server_headers(headers: &mut HeaderMap, config: &Config) {
    if !headers.contains_key(DATE) {
        headers.insert(DATE, http_date());
    }
    if let Some(server) = server_value(config) {
        if !headers.contains_key(SERVER) {
            headers.insert(SERVER, server);
        }
    }
}

/// The configured `Server` value, converted once per configuration.
fn server_value(config: &Config) -> Option<HeaderValue> {
    thread_local! {
        static CACHE: RefCell<Option<(std::borrow::Cow<'static, str>, HeaderValue)>> = const { RefCell::new(None) };
    }
    let wanted = config.server_header.as_ref()?;
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((name, value)) = cache.as_ref() {
            if name == wanted {
                return Some(value.clone());
            }
        }
        let value = HeaderValue::from_str(wanted).ok()?;
        *cache = Some((wanted.clone(), value.clone()));
        Some(value)
    })
}

fn set_connection(headers: &mut HeaderMap, version: Version, keep_alive: bool) {
    match (version, keep_alive) {
        (Version::HTTP_11, false) => {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        (Version::HTTP_10, true) => {
            headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        }
        _ => {}
    }
}

/// The current `Date` value, formatted at most once per second per thread.
pub fn http_date() -> HeaderValue {
    thread_local! {
        static CACHE: RefCell<(u64, Option<HeaderValue>)> = const { RefCell::new((0, None)) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second || cache.1.is_none() {
            let text = httpdate::fmt_http_date(now);
            *cache = (second, HeaderValue::from_str(&text).ok());
        }
        cache
            .1
            .clone()
            .unwrap_or_else(|| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(method: Method, version: Version, keep_alive: bool) -> RequestFacts {
        RequestFacts {
            method,
            version,
            keep_alive,
        }
    }

    fn app(status: u16, headers: &[(&'static str, &'static str)]) -> AppHead {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, HeaderValue::from_static(v));
        }
        let status = StatusCode::from_u16(status).unwrap();
        AppHead {
            status,
            reason: Cow::Borrowed(status.canonical_reason().unwrap()),
            headers: map,
        }
    }

    #[test]
    fn framing_choices() {
        let config = Config::default();
        let get11 = facts(Method::GET, Version::HTTP_11, true);
        let head = finish_head(app(200, &[("content-length", "5")]), None, &get11, &config).unwrap();
        assert_eq!(head.framing, Framing::Length(5));
        let head = finish_head(app(200, &[]), Some(3), &get11, &config).unwrap();
        assert_eq!(
            (head.framing, &head.headers[CONTENT_LENGTH]),
            (Framing::Length(3), &HeaderValue::from(3))
        );
        let head = finish_head(app(200, &[]), None, &get11, &config).unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        let get10 = facts(Method::GET, Version::HTTP_10, true);
        let head = finish_head(app(200, &[]), None, &get10, &config).unwrap();
        assert_eq!((head.framing, head.keep_alive), (Framing::Close, false));
        let head = finish_head(app(200, &[]), Some(1), &get10, &config).unwrap();
        assert_eq!(head.headers[CONNECTION], "keep-alive");
    }

    #[test]
    fn bodiless_responses() {
        let config = Config::default();
        let head_req = facts(Method::HEAD, Version::HTTP_11, true);
        let head = finish_head(app(200, &[("content-length", "5")]), None, &head_req, &config).unwrap();
        assert_eq!(
            (head.framing, &head.headers[CONTENT_LENGTH]),
            (Framing::None, &HeaderValue::from(5))
        );
        let head = finish_head(app(200, &[]), None, &head_req, &config).unwrap();
        assert!(
            !head.headers.contains_key(CONTENT_LENGTH),
            "no invented length on HEAD"
        );
        let get = facts(Method::GET, Version::HTTP_11, true);
        let head = finish_head(app(204, &[("content-length", "0")]), Some(0), &get, &config).unwrap();
        assert_eq!(head.framing, Framing::None);
        assert!(!head.headers.contains_key(CONTENT_LENGTH));
        let head = finish_head(app(304, &[]), None, &get, &config).unwrap();
        assert_eq!(head.framing, Framing::None);
    }

    #[test]
    fn server_owned_headers() {
        let config = Config::default();
        let get = facts(Method::GET, Version::HTTP_11, false);
        let head = finish_head(app(200, &[("server", "mine")]), Some(0), &get, &config).unwrap();
        assert_eq!(head.headers[SERVER], "mine");
        assert!(head.headers.contains_key(DATE));
        assert_eq!(head.headers[CONNECTION], "close");
        let head = finish_head(
            app(200, &[]),
            Some(0),
            &facts(Method::GET, Version::HTTP_11, true),
            &config,
        )
        .unwrap();
        assert_eq!(head.headers[SERVER], "rwsgi");
        assert!(!head.headers.contains_key(CONNECTION));
        let mut app_head = app(200, &[("content-length", "x")]);
        assert!(finish_head(app_head.clone(), None, &get, &config).is_err());
        app_head.headers.append(CONTENT_LENGTH, HeaderValue::from(1));
        assert!(finish_head(app_head, None, &get, &config).is_err());
    }

    #[test]
    fn no_tunnels() {
        let config = Config::default();
        let connect = facts(Method::CONNECT, Version::HTTP_11, true);
        assert!(matches!(
            finish_head(app(200, &[]), Some(0), &connect, &config),
            Err(ContractError::ConnectTunnel)
        ));
        assert!(finish_head(app(405, &[]), Some(0), &connect, &config).is_ok());
    }

    #[test]
    fn custom_reasons_are_kept() {
        let config = Config::default();
        let mut a = app(200, &[]);
        a.reason = Cow::Borrowed("Fine");
        let head = finish_head(a, Some(0), &facts(Method::GET, Version::HTTP_11, true), &config).unwrap();
        assert_eq!(head.reason.as_deref(), Some("Fine"));
    }
}
