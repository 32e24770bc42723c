//! Request head → environ: the checks every engine shares, and the
//! translation PEP 3333 describes.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, Method, Version};

use super::ConnInfo;
use crate::request_error::RequestError;
use crate::server::{Addr, Config, UnderscoreHeaders};
use crate::{Environ, latin1};

/// A parsed request head, as an engine hands it to the gateway.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target exactly as it was sent.
    pub target: Bytes,
    /// The HTTP version.
    pub version: Version,
    /// The header fields, in the order received.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// Whether the client asked to keep the connection open afterwards: the
    /// HTTP/1.1 default unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        let mut close = false;
        let mut keep = false;
        for value in self.headers.get_all(http::header::CONNECTION) {
            for token in value.as_bytes().split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        match self.version {
            Version::HTTP_11 => !close,
            _ => keep && !close,
        }
    }
}

/// Checks a head against the configured limits and RFC 9112's framing
/// rules, the same for every engine.
pub(crate) fn validate(head: &mut RequestHead, config: &Config) -> Result<(), RequestError> {
    if head.version != Version::HTTP_10 && head.version != Version::HTTP_11 {
        return Err(RequestError::UnsupportedVersion);
    }
    let line_len = head.method.as_str().len() + head.target.len() + 10;
    if config.limit_request_line != 0 && line_len > config.limit_request_line {
        return Err(RequestError::RequestLineTooLong);
    }
    check_method(&head.method, config)?;
    check_fields(&mut head.headers, line_len, config)?;
    check_framing(head, config)
}

fn check_method(method: &Method, config: &Config) -> Result<(), RequestError> {
    if config.permit_unconventional_http_method {
        return Ok(());
    }
    let m = method.as_str();
    // gunicorn's default rule: the registered methods are upper-case and
    // 3 to 20 characters; anything else is most likely garbage or an attack.
    if !(3..=20).contains(&m.len()) || m.bytes().any(|b| b.is_ascii_lowercase() || b == b'#') {
        return Err(RequestError::BadRequestLine(
            "the method must be 3 to 20 characters, none lower-case",
        ));
    }
    Ok(())
}

/// The limits, the field values and the underscore policy, in one pass
/// over the fields; then the fields RFC 9112 and gunicorn allow once.
fn check_fields(headers: &mut HeaderMap, line_len: usize, config: &Config) -> Result<(), RequestError> {
    if config.limit_request_fields != 0 && headers.len() > config.limit_request_fields {
        return Err(RequestError::TooManyHeaders);
    }
    let mut head_len = line_len + 2;
    let mut underscored: Vec<HeaderName> = Vec::new();
    for (name, value) in headers.iter() {
        // `Name: value` and its CRLF, as gunicorn counts a field.
        let field_len = name.as_str().len() + 2 + value.len() + 2;
        if config.limit_request_field_size != 0 && field_len > config.limit_request_field_size {
            return Err(RequestError::HeaderFieldTooLarge);
        }
        head_len += field_len;
        if value
            .as_bytes()
            .iter()
            .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(RequestError::BadHeader("control character in a field value"));
        }
        if config.underscore_headers != UnderscoreHeaders::Keep && name.as_str().contains('_') {
            if config.underscore_headers == UnderscoreHeaders::Refuse {
                return Err(RequestError::BadHeader("field name with '_'"));
            }
            if !underscored.contains(name) {
                underscored.push(name.clone());
            }
        }
    }
    if config.limit_request_head != 0 && head_len > config.limit_request_head {
        return Err(RequestError::HeadTooLarge);
    }
    for name in underscored {
        headers.remove(name);
    }
    // RFC 9112 §3.2 requires 400 for more than one Host; gunicorn also
    // refuses a repeated Content-Type, whose meaning would be ambiguous.
    for (name, what) in [
        (HOST, "repeated Host field"),
        (CONTENT_TYPE, "repeated Content-Type field"),
    ] {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(RequestError::BadHeader(what));
        }
    }
    Ok(())
}

fn check_framing(head: &RequestHead, config: &Config) -> Result<(), RequestError> {
    let mut lengths = head.headers.get_all(CONTENT_LENGTH).iter();
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(RequestError::BadFraming("repeated Content-Length")),
        (Some(value), None) => Some(parse_length(value.as_bytes())?),
    };
    let mut codings = head.headers.get_all(TRANSFER_ENCODING).iter().peekable();
    if codings.peek().is_some() {
        if length.is_some() {
            return Err(RequestError::BadFraming(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if head.version == Version::HTTP_10 {
            return Err(RequestError::BadFraming(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        crate::wire::check_codings(codings.flat_map(|v| v.as_bytes().split(|&b| b == b',')))?;
    }
    if let (Some(length), Some(limit)) = (length, config.limit_request_body) {
        if length > limit {
            return Err(RequestError::BodyTooLarge);
        }
    }
    Ok(())
}

/// A Content-Length value: one run of digits, nothing else (no sign, no
/// list, no spaces inside).
fn parse_length(value: &[u8]) -> Result<u64, RequestError> {
    let bad = RequestError::BadFraming("Content-Length is not a number");
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(bad)
}

/// The target split the way gunicorn and CPython's `urlsplit` agree on.
struct Target<'a> {
    path: &'a [u8],
    query: &'a [u8],
}

fn split_target<'a>(method: &Method, target: &'a [u8]) -> Result<Target<'a>, RequestError> {
    let target = match target.iter().position(|&b| b == b'#') {
        Some(i) => &target[..i],
        None => target,
    };
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    };
    if target == b"*" {
        return if method == Method::OPTIONS {
            Ok(Target { path, query })
        } else {
            Err(RequestError::BadRequestLine("'*' is only a target for OPTIONS"))
        };
    }
    if path.first() == Some(&b'/') {
        return Ok(Target { path, query });
    }
    if let Some(i) = find(path, b"://") {
        let scheme = &path[..i];
        if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
            return Err(RequestError::BadRequestLine(
                "absolute target with a scheme other than http(s)",
            ));
        }
        let after = &path[i + 3..];
        let path = after
            .iter()
            .position(|&b| b == b'/')
            .map_or(&b""[..], |j| &after[j..]);
        if after.is_empty() || after[0] == b'/' {
            return Err(RequestError::BadRequestLine("absolute target without a host"));
        }
        return Ok(Target { path, query });
    }
    if method == Method::CONNECT {
        return Ok(Target {
            path: b"",
            query: b"",
        });
    }
    Err(RequestError::BadRequestLine(
        "the target is neither a path, an absolute URL, '*' nor a CONNECT authority",
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `SERVER_NAME` and `SERVER_PORT`: from `Host` when it is there (its port,
/// or the scheme's default), else from the listening socket.
fn server_name_port(headers: &HeaderMap, conn: &ConnInfo) -> (String, String) {
    let default_port = if conn.secure { "443" } else { "80" };
    if let Some(host) = headers.get(HOST).filter(|h| !h.is_empty()) {
        let host = latin1::decode(host.as_bytes());
        let split = match host.rfind(':') {
            Some(i) if !host.ends_with(']') && (host.starts_with('[') || !host[..i].contains(':')) => {
                Some((&host[..i], &host[i + 1..]))
            }
            _ => None,
        };
        return match split {
            Some((name, port)) if !name.is_empty() && !port.is_empty() => (name.to_owned(), port.to_owned()),
            Some((name, _)) if !name.is_empty() => (name.to_owned(), default_port.to_owned()),
            _ => (host.into_owned(), default_port.to_owned()),
        };
    }
    match &conn.local {
        Addr::Tcp(addr) => (addr.ip().to_string(), addr.port().to_string()),
        Addr::Unix(_) => ("localhost".to_owned(), default_port.to_owned()),
    }
}

/// Builds the environ for a head that passed [`validate`].
pub(crate) fn build_environ(
    head: RequestHead,
    conn: &ConnInfo,
    config: &Config,
) -> Result<Box<Environ>, RequestError> {
    let target = split_target(&head.method, &head.target)?;
    let mut path_info = latin1::percent_decode(target.path);
    let mut script_name = String::new();
    let mounted = path_info
        .strip_prefix(config.script_name.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if !config.script_name.is_empty() && mounted {
        script_name = config.script_name.clone();
        path_info.drain(..script_name.len());
    }
    let (server_name, server_port) = server_name_port(&head.headers, conn);
    let (remote_addr, remote_port) = match &conn.peer {
        Addr::Tcp(addr) => (Some(addr.ip().to_string()), Some(addr.port().to_string())),
        Addr::Unix(_) => (None, None),
    };
    // Boxed once here: the environ then travels by pointer.
    let mut environ = Box::new(Environ::new());
    environ.method = head.method;
    environ.script_name = script_name;
    environ.path_info = path_info;
    environ.query_string = latin1::decode(target.query).into_owned();
    environ.raw_uri = latin1::decode(&head.target).into_owned();
    environ.server_name = server_name;
    environ.server_port = server_port;
    environ.server_protocol = Cow::Borrowed(if head.version == Version::HTTP_10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    });
    environ.remote_addr = remote_addr;
    environ.remote_port = remote_port;
    environ.url_scheme = Cow::Borrowed(if conn.secure { "https" } else { "http" });
    environ.headers = head.headers;
    environ.errors = config.error_log.clone();
    environ.multiprocess = config.multiprocess;
    environ.multithread = config.multithread();
    environ.server_software = config.server_software.clone();
    if conn.secure {
        let _ = environ.set("HTTPS", "on");
    }
    if let Some(Addr::Tcp(proxy)) = &conn.proxy {
        environ.insert_value(super::PROXY_PEER, proxy.ip().to_string());
    }
    Ok(environ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(method: &str, target: &str, headers: &[(&str, &[u8])]) -> RequestHead {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        RequestHead {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            target: Bytes::copy_from_slice(target.as_bytes()),
            version: Version::HTTP_11,
            headers: map,
        }
    }

    fn conn() -> ConnInfo {
        ConnInfo::new(
            Addr::Tcp("10.0.0.9:5555".parse().unwrap()),
            Addr::Tcp("127.0.0.1:8000".parse().unwrap()),
        )
    }

    fn environ(h: RequestHead) -> Result<Box<Environ>, RequestError> {
        let config = Config::default();
        let mut h = h;
        validate(&mut h, &config)?;
        build_environ(h, &conn(), &config)
    }

    #[test]
    fn paths_are_decoded_and_queries_are_not() {
        let env = environ(head("GET", "/a%20b/%C3%A9?x=%20&y#frag", &[])).unwrap();
        assert_eq!(env.path_info, "/a b/\u{c3}\u{a9}");
        assert_eq!(env.query_string, "x=%20&y");
        assert_eq!(env.raw_uri, "/a%20b/%C3%A9?x=%20&y#frag");
        let env = environ(head("GET", "/plain", &[])).unwrap();
        assert_eq!(env.query_string, "");
        assert!(env.to_pairs().iter().any(|(k, _)| k == "QUERY_STRING"));
    }

    #[test]
    fn target_forms() {
        let env = environ(head("GET", "http://user:pw@example.com:8080/foo?q=1", &[])).unwrap();
        assert_eq!(
            (env.path_info.as_str(), env.query_string.as_str()),
            ("/foo", "q=1")
        );
        assert_eq!(environ(head("OPTIONS", "*", &[])).unwrap().path_info, "*");
        assert_eq!(
            environ(head("CONNECT", "example.com:443", &[]))
                .unwrap()
                .path_info,
            ""
        );
        for (m, t) in [
            ("GET", "*"),
            ("GET", "example.com:443"),
            ("GET", "foo/bar"),
            ("GET", "ftp://x/y"),
        ] {
            assert!(
                matches!(environ(head(m, t, &[])), Err(RequestError::BadRequestLine(_))),
                "{m} {t}"
            );
        }
    }

    #[test]
    fn server_name_and_port_are_never_empty() {
        let cases: [(&[u8], &str, &str); 6] = [
            (b"example.com:8443", "example.com", "8443"),
            (b"example.com", "example.com", "80"),
            (b"[::1]:9000", "[::1]", "9000"),
            (b"[::1]", "[::1]", "80"),
            (b"example.com:", "example.com", "80"),
            (b"0.0.0.0=5000", "0.0.0.0=5000", "80"),
        ];
        for (host, name, port) in cases {
            let env = environ(head("GET", "/", &[("host", host)])).unwrap();
            assert_eq!((env.server_name.as_str(), env.server_port.as_str()), (name, port));
        }
        let env = environ(head("GET", "/", &[])).unwrap();
        assert_eq!(
            (env.server_name.as_str(), env.server_port.as_str()),
            ("127.0.0.1", "8000")
        );
        assert_eq!(env.remote_addr.as_deref(), Some("10.0.0.9"));
        assert_eq!(env.remote_port.as_deref(), Some("5555"));
    }

    #[test]
    fn underscore_names_are_dropped_before_they_can_spoof() {
        let env = environ(head(
            "GET",
            "/",
            &[("x-forwarded-for", b"1.1.1.1"), ("x_forwarded_for", b"6.6.6.6")],
        ))
        .unwrap();
        assert_eq!(env.get("HTTP_X_FORWARDED_FOR").unwrap(), "1.1.1.1");
        let mut config = Config::default();
        config.underscore_headers = UnderscoreHeaders::Refuse;
        let mut h = head("GET", "/", &[("x_a", b"1")]);
        assert!(matches!(
            validate(&mut h, &config),
            Err(RequestError::BadHeader(_))
        ));
    }

    #[test]
    fn content_headers_have_no_http_prefix() {
        let env = environ(head(
            "POST",
            "/",
            &[("content-type", b"text/plain"), ("content-length", b"3")],
        ))
        .unwrap();
        let pairs = env.to_pairs();
        assert!(pairs.contains(&("CONTENT_TYPE".into(), "text/plain".into())));
        assert!(pairs.contains(&("CONTENT_LENGTH".into(), "3".into())));
        assert!(!pairs.iter().any(|(k, _)| k.starts_with("HTTP_CONTENT")));
    }

    #[test]
    fn framing_rules() {
        let bad = |headers: &[(&str, &[u8])]| environ(head("POST", "/", headers)).unwrap_err();
        assert!(matches!(
            bad(&[("content-length", b"-1")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("content-length", b"5, 5")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("content-length", b"+1")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("content-length", b"1"), ("content-length", b"1")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("content-length", b"3"), ("transfer-encoding", b"chunked")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("transfer-encoding", b"chunked, gzip")]),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            bad(&[("transfer-encoding", b"chunked, chunked")]),
            RequestError::BadFraming(_)
        ));
        assert_eq!(
            bad(&[("transfer-encoding", b"foo, chunked")]),
            RequestError::UnsupportedTransferCoding
        );
        assert!(environ(head("POST", "/", &[("transfer-encoding", b"gzip, chunked")])).is_ok());
        assert!(environ(head("POST", "/", &[("transfer-encoding", b"identity, chunked")])).is_ok());
        let mut h10 = head("POST", "/", &[("transfer-encoding", b"chunked")]);
        h10.version = Version::HTTP_10;
        assert!(matches!(
            validate(&mut h10, &Config::default()),
            Err(RequestError::BadFraming(_))
        ));
    }

    #[test]
    fn limits_use_the_table() {
        let mut config = Config::default();
        config.limit_request_line = 20;
        let mut h = head("GET", "/a-long-path-here", &[]);
        assert_eq!(validate(&mut h, &config), Err(RequestError::RequestLineTooLong));
        config.limit_request_line = 0;
        config.limit_request_fields = 1;
        let mut h = head("GET", "/", &[("a", b"1"), ("b", b"2")]);
        assert_eq!(validate(&mut h, &config), Err(RequestError::TooManyHeaders));
        config.limit_request_field_size = 10;
        let mut h = head("GET", "/", &[("accept", b"*/*")]);
        assert_eq!(validate(&mut h, &config), Err(RequestError::HeaderFieldTooLarge));
        let mut config = Config::default();
        config.limit_request_body = Some(10);
        let mut h = head("POST", "/", &[("content-length", b"11")]);
        assert_eq!(validate(&mut h, &config), Err(RequestError::BodyTooLarge));
    }

    #[test]
    fn methods_follow_gunicorns_rule_unless_permitted() {
        for m in ["-BLARGH", "GET", "PROPFIND"] {
            assert!(environ(head(m, "/", &[])).is_ok(), "{m}");
        }
        for m in ["-bl", "GE", "get", "ABCDEFGHIJKLMNOPQRSTU"] {
            assert!(environ(head(m, "/", &[])).is_err(), "{m}");
        }
        let mut config = Config::default();
        config.permit_unconventional_http_method = true;
        let mut h = head("-blargh", "/", &[]);
        assert!(validate(&mut h, &config).is_ok());
    }

    #[test]
    fn keep_alive_by_version_and_connection() {
        let mut h = head("GET", "/", &[]);
        assert!(h.wants_keep_alive());
        h.headers.insert("connection", HeaderValue::from_static("Close"));
        assert!(!h.wants_keep_alive());
        h.version = Version::HTTP_10;
        h.headers
            .insert("connection", HeaderValue::from_static("keep-alive"));
        assert!(h.wants_keep_alive());
        h.headers.clear();
        assert!(!h.wants_keep_alive());
    }
}
