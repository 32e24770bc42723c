//! Errors on the application's side of the contract.

use std::fmt;

/// Any error an application (or its body) may return. Mirrors a Python
/// exception: the server logs it on `wsgi.errors` and answers 500, or closes
/// the connection when the response had already started.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A breach of the PEP 3333 contract, by the application or by a server.
///
/// `start_response` and `write` return these at the moment of the breach, so
/// the application can still see them (PEP 3333 asks for exactly that). A
/// breach the application ignores or returns is written to `wsgi.errors`, and
/// the response becomes a 500 if nothing was sent yet; otherwise the
/// connection is closed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ContractError {
    /// The status is not `"NNN Reason"` (three digits, one space, no control
    /// characters, 100 or more).
    BadStatus {
        /// The status as given.
        status: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A header name that is not an RFC 9110 token.
    BadHeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value with a control character or a char above U+00FF.
    BadHeaderValue {
        /// The header's name.
        name: String,
        /// What is wrong with the value.
        why: &'static str,
    },
    /// A hop-by-hop header (`Connection`, `Transfer-Encoding`, …): framing
    /// belongs to the server.
    HopByHopHeader {
        /// The name as given.
        name: String,
    },
    /// `start_response` was called a second time without `exc_info`.
    AlreadyStarted,
    /// `start_response` was called with `exc_info` after the headers were
    /// sent; carries the application's error, re-raised as PEP 3333 asks.
    HeadersAlreadySent(crate::BoxError),
    /// `write()` was called before `start_response`.
    WriteBeforeStart,
    /// The body produced data, or ended, and `start_response` was never
    /// called.
    NoStartResponse,
    /// The body yielded more than its `Content-Length`; the excess was not
    /// sent.
    BodyLongerThanContentLength {
        /// The declared length.
        content_length: u64,
    },
    /// The body ended before its `Content-Length`; the connection was closed.
    BodyShorterThanContentLength {
        /// The declared length.
        content_length: u64,
        /// The bytes actually produced.
        sent: u64,
    },
    /// A 2xx answer to `CONNECT`: that would turn the connection into a
    /// tunnel, which a WSGI server does not do.
    ConnectTunnel,
    /// [`Lint`](crate::middleware::Lint) caught a breach.
    Lint(crate::middleware::LintError),
    /// The application or its body panicked.
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ContractError::*;
        match self {
            BadStatus { status, why } => write!(f, "bad status {status:?}: {why}"),
            BadHeaderName { name } => write!(f, "bad header name {name:?}: not a token"),
            BadHeaderValue { name, why } => write!(f, "bad value for header {name:?}: {why}"),
            HopByHopHeader { name } => {
                write!(f, "hop-by-hop header {name:?} is not allowed from an application")
            }
            AlreadyStarted => f.write_str("start_response called twice without exc_info"),
            HeadersAlreadySent(err) => write!(
                f,
                "start_response called with exc_info after the headers were sent: {err}"
            ),
            WriteBeforeStart => f.write_str("write() called before start_response"),
            NoStartResponse => f.write_str("the application never called start_response"),
            BodyLongerThanContentLength { content_length } => write!(
                f,
                "the body is longer than its Content-Length ({content_length}); the rest was not sent"
            ),
            BodyShorterThanContentLength { content_length, sent } => write!(
                f,
                "the body ended after {sent} of its {content_length} bytes (Content-Length)"
            ),
            ConnectTunnel => f.write_str(
                "a 2xx answer to CONNECT would open a tunnel, which rwsgi does not support; answer with another status",
            ),
            Lint(err) => write!(f, "lint: {err}"),
            Panicked { message } => write!(f, "the application panicked: {message}"),
        }
    }
}

impl std::error::Error for ContractError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ContractError::HeadersAlreadySent(err) => Some(err.as_ref()),
            _ => None,
        }
    }
}

/// The message of a caught panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".to_owned()
    }
}
