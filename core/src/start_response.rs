//! `start_response`: how an application sets its status and headers.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::{BoxError, ContractError, latin1};

/// One response header as the application gives it: `(name, value)`, both
/// PEP 3333 strings. Literals borrow; built strings are owned.
pub type HeaderPair = (Cow<'static, str>, Cow<'static, str>);

/// The receiving end of `start_response` calls. The server implements it;
/// so does middleware that needs to see or change a response's head
/// ([`Lint`](crate::middleware::Lint), or [`StartResponse::map`] for the
/// simple cases).
pub trait Respond: Send + Sync + 'static {
    /// `start_response(status, headers, exc_info)`.
    fn start_response(
        &self,
        status: Cow<'static, str>,
        headers: Vec<HeaderPair>,
        exc_info: Option<BoxError>,
    ) -> Result<(), ContractError>;

    /// The legacy `write(data)` callable.
    fn write(&self, data: Bytes) -> Result<(), ContractError>;
}

/// The `start_response` callable handed to an application.
///
/// It is a cheap, cloneable handle: an application may keep it and call it
/// later, from inside its body iterator or stream, as long as that happens
/// before the first non-empty chunk (PEP 3333 allows exactly that). Nothing
/// is sent when it is called; the head goes out with the first non-empty
/// chunk, the first [`write`](StartResponse::write), or the end of the body.
///
/// Every PEP 3333 rule is checked when it is called, so the application sees
/// the breach at once: the status must be `"NNN Reason"`; header names must
/// be tokens; values may not hold control characters; hop-by-hop headers
/// (`Connection`, `Transfer-Encoding`, …) are refused; a second call is an
/// error unless it carries `exc_info` and nothing has been sent.
///
/// ```
/// use rwsgi_core::{Body, Environ, StartResponse};
///
/// fn app(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
///     let bad = start_response.start("200 OK", [("Connection", "close")]);
///     assert!(bad.is_err(), "hop-by-hop headers belong to the server");
///     start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("no such page\n"))
/// }
/// # fn takes_app(_: impl rwsgi_core::Application) {}
/// # takes_app(app);
/// ```
#[derive(Clone)]
pub struct StartResponse(Arc<dyn Respond>);

impl StartResponse {
    /// A `start_response` that hands its calls to `respond`.
    pub fn new(respond: impl Respond) -> Self {
        StartResponse(Arc::new(respond))
    }

    /// A `start_response` over an already shared `respond` (no second
    /// allocation).
    pub fn from_arc(respond: Arc<dyn Respond>) -> Self {
        StartResponse(respond)
    }

    /// `start_response(status, headers)`.
    ///
    /// # Errors
    ///
    /// The [`ContractError`] naming the breach; nothing is recorded then.
    pub fn start<S, I, K, V>(&self, status: S, headers: I) -> Result<(), ContractError>
    where
        S: Into<Cow<'static, str>>,
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'static, str>>,
        V: Into<Cow<'static, str>>,
    {
        self.0.start_response(status.into(), collect(headers), None)
    }

    /// `start_response(status, headers, exc_info)`: replaces the status and
    /// headers of a response that has not been sent yet, typically with a
    /// 500 after the application caught an error.
    ///
    /// # Errors
    ///
    /// [`ContractError::HeadersAlreadySent`] carrying `exc_info` back when
    /// the head is already on the wire; otherwise as [`start`](Self::start).
    pub fn start_with_exc_info<S, I, K, V>(
        &self,
        status: S,
        headers: I,
        exc_info: impl Into<BoxError>,
    ) -> Result<(), ContractError>
    where
        S: Into<Cow<'static, str>>,
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'static, str>>,
        V: Into<Cow<'static, str>>,
    {
        self.0
            .start_response(status.into(), collect(headers), Some(exc_info.into()))
    }

    /// The legacy `write(data)`: sends the head if it has not gone yet, then
    /// `data`, before anything the returned body yields. Prefer returning a
    /// [`Body`](crate::Body).
    ///
    /// # Errors
    ///
    /// [`ContractError::WriteBeforeStart`] before `start_response`.
    pub fn write(&self, data: impl Into<Bytes>) -> Result<(), ContractError> {
        self.0.write(data.into())
    }

    /// A `start_response` for a wrapped application: `f` sees each call's
    /// status and headers first — to check, add or rewrite them — and then
    /// they go on to `self`. This is how WSGI middleware wraps
    /// `start_response`.
    ///
    /// ```
    /// use rwsgi_core::{Application, Body, BoxError, Environ, StartResponse};
    ///
    /// /// Adds `X-Frame-Options: DENY` to every response of `inner`.
    /// struct NoFrames<A>(A);
    ///
    /// impl<A: Application> Application for NoFrames<A> {
    ///     fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
    ///         let start_response = start_response.map(|_status, headers| {
    ///             headers.push(("X-Frame-Options".into(), "DENY".into()));
    ///             Ok(())
    ///         });
    ///         self.0.call(environ, &start_response)
    ///     }
    /// }
    /// ```
    pub fn map<F>(&self, f: F) -> StartResponse
    where
        F: Fn(&mut Cow<'static, str>, &mut Vec<HeaderPair>) -> Result<(), ContractError>
            + Send
            + Sync
            + 'static,
    {
        StartResponse::new(Mapped {
            outer: self.clone(),
            f,
        })
    }

    /// The [`Respond`] behind this handle, for middleware that forwards calls.
    pub fn respond(&self) -> &dyn Respond {
        &*self.0
    }
}

impl fmt::Debug for StartResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StartResponse(..)")
    }
}

fn collect<I, K, V>(headers: I) -> Vec<HeaderPair>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<Cow<'static, str>>,
    V: Into<Cow<'static, str>>,
{
    headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

struct Mapped<F> {
    outer: StartResponse,
    f: F,
}

impl<F> Respond for Mapped<F>
where
    F: Fn(&mut Cow<'static, str>, &mut Vec<HeaderPair>) -> Result<(), ContractError> + Send + Sync + 'static,
{
    fn start_response(
        &self,
        mut status: Cow<'static, str>,
        mut headers: Vec<HeaderPair>,
        exc_info: Option<BoxError>,
    ) -> Result<(), ContractError> {
        (self.f)(&mut status, &mut headers)?;
        self.outer.0.start_response(status, headers, exc_info)
    }

    fn write(&self, data: Bytes) -> Result<(), ContractError> {
        self.outer.0.write(data)
    }
}

/// Headers an application may not set: they describe one connection, and
/// the server owns the connection. RFC 2616 §13.5.1's list as wsgiref keeps
/// it (with its `trailers` spelling), plus RFC 9110's `trailer`.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` is a hop-by-hop header (compared case-insensitively).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Checks a status line the way PEP 3333 and `wsgiref.handlers` do and
/// splits it into code and reason.
///
/// # Errors
///
/// [`ContractError::BadStatus`] saying what is wrong.
pub fn parse_status(status: &str) -> Result<(StatusCode, &str), ContractError> {
    let bad = |why| ContractError::BadStatus {
        status: status.to_owned(),
        why,
    };
    if status.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad("control characters are not allowed"));
    }
    if !latin1::is_latin1(status) {
        return Err(bad("not a latin-1 string"));
    }
    let bytes = status.as_bytes();
    if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad("must start with a three-digit code"));
    }
    if bytes[3] != b' ' {
        return Err(bad("the code must be followed by one space and a reason"));
    }
    let code = StatusCode::from_bytes(&bytes[..3]).map_err(|_| bad("code below 100"))?;
    if code.is_informational() {
        return Err(bad("1xx statuses are the server's to send"));
    }
    Ok((code, &status[4..]))
}

/// Checks one response header and converts it to its wire form. A value
/// that is a literal or an owned ASCII string is not copied.
///
/// # Errors
///
/// [`ContractError::BadHeaderName`], [`ContractError::BadHeaderValue`] or
/// [`ContractError::HopByHopHeader`].
pub fn parse_header(
    name: &str,
    value: impl Into<Cow<'static, str>>,
) -> Result<(HeaderName, HeaderValue), ContractError> {
    let value = value.into();
    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| ContractError::BadHeaderName {
        name: name.to_owned(),
    })?;
    if is_hop_by_hop(name) {
        return Err(ContractError::HopByHopHeader {
            name: name.to_owned(),
        });
    }
    let bad_value = |why| ContractError::BadHeaderValue {
        name: name.to_owned(),
        why,
    };
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad_value("control characters (CR, LF, NUL, …) are not allowed"));
    }
    let bytes = match value {
        Cow::Borrowed(s) if s.is_ascii() => Bytes::from_static(s.as_bytes()),
        Cow::Owned(s) if s.is_ascii() => Bytes::from(s),
        other => Bytes::from(
            latin1::encode(&other)
                .ok_or_else(|| bad_value("not a latin-1 string"))?
                .into_owned(),
        ),
    };
    let header_value =
        HeaderValue::from_maybe_shared(bytes).map_err(|_| bad_value("not a valid field value"))?;
    Ok((header_name, header_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_per_the_checklist() {
        for good in ["200 OK", "404 Not Found", "200 ", "599 Custom Thing"] {
            assert!(parse_status(good).is_ok(), "{good}");
        }
        for bad in [
            "200",
            "20 OK",
            "2000 OK",
            "abc OK",
            "200\tOK",
            "200 OK\r\n",
            "200 O\nK",
            " 200 OK",
            "099 X",
            "100 Continue",
            "200 \u{2603}",
        ] {
            assert!(parse_status(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_status("418 I'm a teapot").unwrap().1, "I'm a teapot");
    }

    #[test]
    fn headers_per_the_checklist() {
        assert!(parse_header("X-Foo", "bar").is_ok());
        assert!(parse_header("content-type", "text/plain").is_ok());
        assert!(parse_header("X-Tab", "a\tb").is_ok());
        assert_eq!(
            parse_header("X-Latin", "caf\u{e9}").unwrap().1.as_bytes(),
            b"caf\xe9"
        );
        for name in ["X-Foo:", "X Foo", "X-Foo\n", ""] {
            assert!(
                matches!(parse_header(name, "v"), Err(ContractError::BadHeaderName { .. })),
                "{name:?}"
            );
        }
        for value in ["a\r\nSet-Cookie: x", "a\nb", "nul\0", "del\x7f", "\u{2603}"] {
            assert!(
                matches!(
                    parse_header("X-Foo", value),
                    Err(ContractError::BadHeaderValue { .. })
                ),
                "{value:?}"
            );
        }
        for name in [
            "Connection",
            "keep-alive",
            "Transfer-Encoding",
            "TE",
            "Trailers",
            "Upgrade",
        ] {
            assert!(
                matches!(parse_header(name, "x"), Err(ContractError::HopByHopHeader { .. })),
                "{name}"
            );
        }
    }
}
