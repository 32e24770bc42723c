//! The one table of bad-request outcomes.
//!
//! Every engine (hyper, async-h1, rwsgi-h1, the uwsgi protocol) reports what
//! is wrong with a request as a [`RequestError`], and answers with the
//! [`Outcome`] this table gives — so that a request one backend answers 400 is
//! answered 400 by all of them. After any of these outcomes the connection is
//! closed: once framing is in doubt, nothing more on it can be trusted.
//!
//! | kind | outcome | gunicorn |
//! |---|---|---|
//! | [`RequestLineTooLong`](RequestError::RequestLineTooLong) | 414 | 400 (`LimitRequestLine`) |
//! | [`HeadTooLarge`](RequestError::HeadTooLarge) | 431 | 431 |
//! | [`TooManyHeaders`](RequestError::TooManyHeaders) | 431 | 431 |
//! | [`HeaderFieldTooLarge`](RequestError::HeaderFieldTooLarge) | 431 | 431 |
//! | [`BodyTooLarge`](RequestError::BodyTooLarge) | 413 | (no body limit) |
//! | [`UnsupportedVersion`](RequestError::UnsupportedVersion) | 505 | 400 |
//! | [`UnsupportedTransferCoding`](RequestError::UnsupportedTransferCoding) | 501 | 501 |
//! | [`BadFraming`](RequestError::BadFraming) | 400 | 400 |
//! | [`BadRequestLine`](RequestError::BadRequestLine) | 400 | 400 |
//! | [`BadHeader`](RequestError::BadHeader) | 400 | 400 |
//! | [`BadProxyHeader`](RequestError::BadProxyHeader) | 400 | 400 |
//! | [`HeaderReadTimeout`](RequestError::HeaderReadTimeout) | 408 | close |
//! | [`BadChunkedBody`](RequestError::BadChunkedBody) | 400 before the app runs, else close | close |
//! | [`TruncatedBody`](RequestError::TruncatedBody) | close | close |
//! | [`IncompleteHead`](RequestError::IncompleteHead) | close | close |
//!
//! rwsgi answers an over-long request line with 414 (RFC 9110 §15.5.15)
//! where gunicorn says 400, and an HTTP version it does not speak with 505
//! (RFC 9110 §15.6.6) where gunicorn says 400. A slow head gets 408 rather
//! than a silent close, so that a client can tell a timeout from a crash.

use std::fmt;

use http::StatusCode;

/// What is wrong with a request, as an engine or the gateway found it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The request line is longer than `limit_request_line`.
    RequestLineTooLong,
    /// The whole head is longer than `limit_request_head`.
    HeadTooLarge,
    /// More header fields than `limit_request_fields`.
    TooManyHeaders,
    /// One header field is longer than `limit_request_field_size`.
    HeaderFieldTooLarge,
    /// The body is larger than `limit_request_body`.
    BodyTooLarge,
    /// An HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// A transfer coding the server does not know.
    UnsupportedTransferCoding,
    /// The body's length cannot be told safely (Content-Length with
    /// Transfer-Encoding, a bad or repeated Content-Length, chunked not last).
    BadFraming(&'static str),
    /// The method or the request target is malformed.
    BadRequestLine(&'static str),
    /// A header field is malformed (name, value, obs-fold, bare LF, repeats).
    BadHeader(&'static str),
    /// The PROXY protocol preamble is malformed.
    BadProxyHeader(&'static str),
    /// The head did not arrive within `header_read_timeout`.
    HeaderReadTimeout,
    /// The chunked framing of the body is malformed.
    BadChunkedBody(&'static str),
    /// The connection ended, or stalled past `body_read_timeout`, before the
    /// body was complete.
    TruncatedBody,
    /// The connection ended in the middle of a head.
    IncompleteHead,
}

/// How the server answers a [`RequestError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this status with a short text body, then close.
    Respond(StatusCode),
    /// Close the connection without a response.
    Close,
}

impl RequestError {
    /// The outcome when no response has been started for this request yet.
    pub fn outcome(&self) -> Outcome {
        use RequestError::*;
        let status = match self {
            RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HeadTooLarge | TooManyHeaders | HeaderFieldTooLarge => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            BadFraming(_) | BadRequestLine(_) | BadHeader(_) | BadProxyHeader(_) | BadChunkedBody(_) => {
                StatusCode::BAD_REQUEST
            }
            HeaderReadTimeout => StatusCode::REQUEST_TIMEOUT,
            TruncatedBody | IncompleteHead => return Outcome::Close,
        };
        Outcome::Respond(status)
    }

    /// The [`RequestError`] behind an I/O error, such as one a read of
    /// [`Input`](crate::Input) returned.
    pub fn from_io(err: &std::io::Error) -> Option<&RequestError> {
        err.get_ref()?.downcast_ref()
    }

    /// The outcome once the application has been called (its response may
    /// already be on the wire): only a status that was never started can
    /// still be sent, and body errors then end the connection.
    pub fn outcome_after_app_started(&self) -> Outcome {
        match self {
            RequestError::BadChunkedBody(_) => Outcome::Close,
            _ => self.outcome(),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RequestError::*;
        match self {
            RequestLineTooLong => f.write_str("request line too long"),
            HeadTooLarge => f.write_str("request head too large"),
            TooManyHeaders => f.write_str("too many header fields"),
            HeaderFieldTooLarge => f.write_str("header field too large"),
            BodyTooLarge => f.write_str("request body too large"),
            UnsupportedVersion => f.write_str("HTTP version not supported"),
            UnsupportedTransferCoding => f.write_str("transfer coding not supported"),
            BadFraming(why) => write!(f, "bad message framing: {why}"),
            BadRequestLine(why) => write!(f, "bad request line: {why}"),
            BadHeader(why) => write!(f, "bad header field: {why}"),
            BadProxyHeader(why) => write!(f, "bad PROXY protocol header: {why}"),
            HeaderReadTimeout => f.write_str("timed out reading the request head"),
            BadChunkedBody(why) => write!(f, "bad chunked body: {why}"),
            TruncatedBody => f.write_str("request body ended early"),
            IncompleteHead => f.write_str("connection closed in the middle of a request head"),
        }
    }
}

impl std::error::Error for RequestError {}

impl Outcome {
    /// The exact bytes every engine writes for this outcome: an HTTP/1.1
    /// response with `Connection: close`, a `text/plain` reason as the body,
    /// and nothing else. Empty for [`Outcome::Close`].
    pub fn response_bytes(self) -> Vec<u8> {
        let Outcome::Respond(status) = self else {
            return Vec::new();
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        let body_len = reason.len() + 1;
        format!(
            "HTTP/1.1 {} {reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {body_len}\r\n\r\n{reason}\n",
            status.as_u16()
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_documented_statuses() {
        let cases = [
            (RequestError::RequestLineTooLong, Some(414)),
            (RequestError::HeadTooLarge, Some(431)),
            (RequestError::TooManyHeaders, Some(431)),
            (RequestError::HeaderFieldTooLarge, Some(431)),
            (RequestError::BodyTooLarge, Some(413)),
            (RequestError::UnsupportedVersion, Some(505)),
            (RequestError::UnsupportedTransferCoding, Some(501)),
            (RequestError::BadFraming("x"), Some(400)),
            (RequestError::BadRequestLine("x"), Some(400)),
            (RequestError::BadHeader("x"), Some(400)),
            (RequestError::BadProxyHeader("x"), Some(400)),
            (RequestError::HeaderReadTimeout, Some(408)),
            (RequestError::BadChunkedBody("x"), Some(400)),
            (RequestError::TruncatedBody, None),
            (RequestError::IncompleteHead, None),
        ];
        for (err, status) in cases {
            let got = match err.outcome() {
                Outcome::Respond(s) => Some(s.as_u16()),
                Outcome::Close => None,
            };
            assert_eq!(got, status, "{err}");
        }
        assert_eq!(
            RequestError::BadChunkedBody("x").outcome_after_app_started(),
            Outcome::Close
        );
    }

    #[test]
    fn response_bytes_are_a_complete_closing_response() {
        let bytes = RequestError::HeaderReadTimeout.outcome().response_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(Outcome::Close.response_bytes().is_empty());
    }
}
