//! The request head as the client sent it → the gateway's [`RequestHead`].
//!
//! The bytes come from [`CheckedIo`](rwsgi_core::conn::CheckedIo): a head
//! reaches this module only once the scanner has accepted all of it (CRLF
//! line ends, one space between the parts of the request line, token
//! names, a well-formed version and framing), so splitting it is all that
//! is left to do.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use rwsgi_core::gateway::RequestHead;
use rwsgi_core::request_error::RequestError;

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes (more than 0).
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
}

/// A head, split.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub head: RequestHead,
    pub framing: Framing,
    /// `Expect: 100-continue` on an HTTP/1.1 request with a body: the
    /// client waits for `100 Continue` before it sends the body (hyper's
    /// rule, so that both engines send it in the same cases).
    pub expect_continue: bool,
}

/// Where the head at the start of `buf` ends (just past its empty line),
/// once it is all there. `searched` bytes were looked through before and
/// hold no end. Empty lines before the request line are skipped, as the
/// scanner skips them.
pub(crate) fn head_end(buf: &[u8], searched: usize) -> Option<usize> {
    let lead = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let from = searched.saturating_sub(3).max(lead);
    let at = buf.get(from..)?.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(from + at + 4)
}

/// Splits a complete head (`raw` ends with its empty line).
pub(crate) fn parse(raw: &[u8]) -> Result<Parsed, RequestError> {
    let start = raw.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let mut lines = raw[start..raw.len() - 2]
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(RequestError::BadRequestLine("not METHOD TARGET VERSION"));
    };
    let method =
        Method::from_bytes(method).map_err(|_| RequestError::BadRequestLine("the method is not a token"))?;
    let version = match version {
        b"HTTP/1.1" => Version::HTTP_11,
        b"HTTP/1.0" => Version::HTTP_10,
        _ => return Err(RequestError::UnsupportedVersion),
    };
    let mut headers = HeaderMap::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RequestError::BadHeader("a field without ':'"))?;
        let name = HeaderName::from_bytes(&line[..colon])
            .map_err(|_| RequestError::BadHeader("a field name is not a token"))?;
        let value = line[colon + 1..].trim_ascii();
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| RequestError::BadHeader("a control character in a field value"))?;
        headers.append(name, value);
    }
    // As the scanner frames the body: chunked when Transfer-Encoding has a
    // value (the scanner has checked that it ends in chunked), else by a
    // Content-Length above 0.
    let framing = if headers.get_all(TRANSFER_ENCODING).iter().any(|v| !v.is_empty()) {
        Framing::Chunked
    } else {
        match headers.get(CONTENT_LENGTH).map(|v| {
            std::str::from_utf8(v.as_bytes())
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        }) {
            None | Some(Some(0)) => Framing::None,
            Some(Some(n)) => Framing::Length(n),
            Some(None) => return Err(RequestError::BadFraming("Content-Length is not a number")),
        }
    };
    let expect_continue = version == Version::HTTP_11
        && framing != Framing::None
        && headers
            .get_all(EXPECT)
            .iter()
            .next_back()
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    Ok(Parsed {
        head: RequestHead {
            method,
            target: Bytes::copy_from_slice(target),
            version,
            headers,
        },
        framing,
        expect_continue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_a_head() {
        let buf = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nbody";
        assert_eq!(head_end(buf, 0), Some(buf.len() - 4));
        assert_eq!(head_end(&buf[..20], 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\n", 0), Some(18));
        assert_eq!(head_end(b"\r\n\r\n", 0), None, "empty lines are not a head");
    }

    #[test]
    fn keeps_what_http_types_cannot() {
        let raw = b"PROPFIND /a/../b%20c?q={x}#frag HTTP/1.0\r\nX-A: 1\r\nx-latin: caf\xe9\r\nX-A: 2\r\nContent-Length: 3\r\n\r\n";
        let parsed = parse(raw).unwrap();
        assert_eq!(parsed.head.method.as_str(), "PROPFIND");
        assert_eq!(&parsed.head.target[..], b"/a/../b%20c?q={x}#frag", "as sent");
        assert_eq!(parsed.head.version, Version::HTTP_10);
        let a: Vec<_> = parsed.head.headers.get_all("x-a").iter().collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(parsed.head.headers["x-latin"].as_bytes(), b"caf\xe9");
        assert_eq!(parsed.framing, Framing::Length(3));
        assert!(!parsed.expect_continue);
    }

    #[test]
    fn framing_and_expect_as_the_scanner_and_hyper_read_them() {
        let parsed =
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 100-Continue\r\n\r\n")
                .unwrap();
        assert_eq!(parsed.framing, Framing::Chunked);
        assert!(parsed.expect_continue);
        let parsed = parse(b"POST / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n").unwrap();
        assert_eq!(parsed.framing, Framing::None);
        assert!(!parsed.expect_continue, "no 100 Continue without a body");
        let parsed = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n").unwrap();
        assert_eq!(parsed.framing, Framing::None, "an empty coding frames nothing");
    }
}
