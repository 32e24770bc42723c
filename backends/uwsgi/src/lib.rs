//! # rwsgi-uwsgi-proto
//!
//! The uwsgi binary protocol — what nginx speaks with `uwsgi_pass` — as an
//! rwsgi engine beside the HTTP engines: over any `futures-io` reader and
//! writer, so every runtime serves it, feeding the core
//! [gateway](rwsgi_core::gateway) like the others.
//!
//! A connection carries one request, as with uWSGI: a [packet](packet)
//! whose variables are the CGI environ the front end built, then
//! `CONTENT_LENGTH` bytes of body. The response goes back as HTTP/1 (status
//! line, headers, body), and the connection closes when it ends — which is
//! how nginx knows the body is complete.
//!
//! The environ is the front end's: `PATH_INFO`, `SCRIPT_NAME`,
//! `SERVER_NAME`, `REMOTE_ADDR` and every other variable are taken as sent
//! (nginx decides them: its `PATH_INFO` is `$document_uri`, already decoded
//! and normalised), `HTTP_*` variables become the request headers,
//! `wsgi.url_scheme` comes from `UWSGI_SCHEME`, else `HTTPS`, as uWSGI
//! does. The gateway still checks what it checks for every engine
//! (methods, framing, `limit_request_*`), so a request it would refuse over
//! HTTP is refused here too.
//!
//! What the engine refuses — by closing the connection, with uWSGI's log
//! line on the error log, and nothing else affected:
//!
//! | packet | log line |
//! |---|---|
//! | vars block over the buffer size (`Config::limit_request_head`, the personality's `--buffer-size`; 0: 65 535) | `invalid request block size: N (max M)...skip` |
//! | a modifier pair other than 0/0 and 30/0 | `-- unavailable modifier requested: N --` |
//! | a malformed vars block | `invalid uwsgi request (current strsize: N). skip.` |
//! | no `REQUEST_METHOD` | `uwsgi request without REQUEST_METHOD. skip.` |
//! | the connection ends or stalls (`header_read_timeout`) before the packet is complete | `timeout. skip request.` / nothing |

pub mod packet;

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use http_body::{Body as _, Frame, SizeHint};
use rwsgi_core::conn::{Closer, ConnWatch, Deadline, RawIo, ReadAlarm};
use rwsgi_core::gateway::{ConnInfo, Framing, Gateway, RequestHead, Response};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::{Addr, Environ, Level, Timer, latin1};

use packet::{HEADER_LEN, Header, MAX_DATASIZE, PacketError, RequestKind};

/// How much one read of the request body asks for.
const READ_CHUNK: usize = 16 * 1024;

/// Serves the uwsgi protocol on a connection: one request, then close.
pub async fn serve_connection<R, W>(
    reader: R,
    writer: W,
    info: ConnInfo,
    gateway: Gateway,
    watch: Arc<ConnWatch>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let config = gateway.config();
    let timer = Arc::clone(gateway.timer());
    let max = match config.limit_request_head {
        0 => MAX_DATASIZE,
        n => n.min(MAX_DATASIZE),
    };
    let input: Shared<R> = Arc::new(Mutex::new(Input {
        reader,
        buf: BytesMut::new(),
    }));
    let mut output = Output::new(writer, Arc::clone(&timer), config.write_timeout);
    let linger = match read_request(&input, &watch, &*timer, &gateway, max).await {
        Ok(Some(request)) => {
            watch.request_started();
            let unread = serve_request(request, &input, &info, &gateway, &mut output).await;
            watch.response_finished();
            unread
        }
        Ok(None) => false,
        Err(err) => {
            config
                .error_log
                .log(Level::Error, format_args!("{err} [peer {}]", info.peer));
            true
        }
    };
    let mut closer = Closer::default();
    let mut io = Halves {
        input: &input,
        output: &mut output,
    };
    let _ = poll_fn(|cx| closer.poll_close(cx, &mut io, &*timer, linger)).await;
}

/// A request read off the wire: its kind and its vars block.
struct Request {
    kind: RequestKind,
    /// The vars block (header stripped).
    block: Bytes,
}

/// Why a connection is closed before its request is served.
#[derive(Debug)]
enum Refusal {
    Packet(PacketError),
    NoMethod,
    Timeout,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Packet(err) => err.fmt(f),
            Refusal::NoMethod => f.write_str("uwsgi request without REQUEST_METHOD. skip."),
            Refusal::Timeout => f.write_str("timeout. skip request."),
        }
    }
}

/// Reads the packet. `Ok(None)`: the connection ended (or the server shut
/// down) before a byte of it.
async fn read_request<R: AsyncRead + Unpin>(
    input: &Shared<R>,
    watch: &ConnWatch,
    timer: &dyn Timer,
    gateway: &Gateway,
    max: usize,
) -> Result<Option<Request>, Refusal> {
    let handle = gateway.handle().clone();
    let mut shutdown = std::pin::pin!(handle.shutdown_requested());
    let mut alarm = ReadAlarm::default();
    let mut header: Option<(Header, RequestKind)> = None;
    poll_fn(|cx| {
        loop {
            let mut input = lock(input);
            if header.is_none() && input.buf.len() >= HEADER_LEN {
                let bytes = input.buf.split_to(HEADER_LEN);
                let parsed = Header::parse([bytes[0], bytes[1], bytes[2], bytes[3]]);
                packet::check_size(parsed, max).map_err(Refusal::Packet)?;
                let kind = parsed.request_kind().map_err(Refusal::Packet)?;
                header = Some((parsed, kind));
            }
            if let Some((h, kind)) = header {
                let size = usize::from(h.datasize);
                if input.buf.len() >= size {
                    let block = input.buf.split_to(size).freeze();
                    return Poll::Ready(Ok(Some(Request { kind, block })));
                }
            }
            let started = header.is_some() || !input.buf.is_empty();
            if !started && shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(None));
            }
            match input.poll_fill(cx, READ_CHUNK) {
                Poll::Ready(Ok(true)) => {
                    watch.bytes_received();
                    continue;
                }
                Poll::Ready(Ok(false) | Err(_)) if !started => return Poll::Ready(Ok(None)),
                Poll::Ready(Ok(false) | Err(_)) => {
                    let got = header.map_or(0, |_| HEADER_LEN) + input.buf.len();
                    let needed = header.map_or(HEADER_LEN, |(h, _)| HEADER_LEN + usize::from(h.datasize));
                    return Poll::Ready(Err(Refusal::Packet(PacketError::Truncated { needed, got })));
                }
                Poll::Pending => {}
            }
            drop(input);
            ready!(alarm.poll_expired(watch, timer, cx));
            return Poll::Ready(if started { Err(Refusal::Timeout) } else { Ok(None) });
        }
    })
    .await
}

/// Runs the gateway on a request and writes its response; whether request
/// body bytes may remain unread (the close should linger).
async fn serve_request<R, W>(
    request: Request,
    input: &Shared<R>,
    info: &ConnInfo,
    gateway: &Gateway,
    output: &mut Output<W>,
) -> bool
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let vars = match packet::parse_vars(&request.block) {
        Ok(vars) => vars,
        Err(err) => {
            log_refusal(gateway, info, &Refusal::Packet(err));
            return true;
        }
    };
    let cgi = match Cgi::from_vars(&vars, request.kind, info) {
        Ok(cgi) => cgi,
        Err(refusal) => {
            log_refusal(gateway, info, &refusal);
            return true;
        }
    };
    let has_body = cgi.content_length > 0;
    let body = Body {
        input: Arc::clone(input),
        remaining: cgi.content_length,
    };
    let Cgi {
        head,
        conn,
        environ,
        protocol,
        kind,
        ..
    } = cgi;
    let adjust = move |env: &mut Environ| apply_vars(env, environ, kind);
    let Some(response) = gateway.serve_with(&conn, head, Box::pin(body), adjust).await else {
        return true;
    };
    let complete = write_response(output, response, &protocol).await;
    let flushed = poll_fn(|cx| output.poll_flush(cx)).await.is_ok();
    // Unread body bytes would make closing reset the connection under the
    // response: linger when there was a body or the response was cut.
    has_body || !complete || !flushed
}

fn log_refusal(gateway: &Gateway, info: &ConnInfo, refusal: &Refusal) {
    gateway
        .config()
        .error_log
        .log(Level::Error, format_args!("{refusal} [peer {}]", info.peer));
}

/// The request as the gateway takes it, from the vars.
struct Cgi {
    head: RequestHead,
    conn: ConnInfo,
    /// Vars to set on the environ, latin-1 decoded.
    environ: Vec<(String, String)>,
    /// `SERVER_PROTOCOL` as sent (the response's status line echoes it).
    protocol: String,
    content_length: u64,
    kind: RequestKind,
}

impl Cgi {
    fn from_vars(vars: &[(&[u8], &[u8])], kind: RequestKind, info: &ConnInfo) -> Result<Cgi, Refusal> {
        let get = |name: &[u8]| vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let method = get(b"REQUEST_METHOD")
            .filter(|m| !m.is_empty())
            .ok_or(Refusal::NoMethod)?;
        let method = Method::from_bytes(method).map_err(|_| Refusal::NoMethod)?;
        let protocol = get(b"SERVER_PROTOCOL")
            .map(|p| latin1::decode(p).into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "HTTP/1.1".to_owned());
        let version = if protocol == "HTTP/1.0" {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let target = match get(b"REQUEST_URI").filter(|u| !u.is_empty()) {
            Some(uri) => Bytes::copy_from_slice(uri),
            None => {
                let mut target = percent_encode_path(get(b"PATH_INFO").unwrap_or(b"/"));
                if target.is_empty() {
                    target.push(b'/');
                }
                if let Some(query) = get(b"QUERY_STRING").filter(|q| !q.is_empty()) {
                    target.push(b'?');
                    target.extend_from_slice(query);
                }
                Bytes::from(target)
            }
        };
        let mut headers = HeaderMap::with_capacity(vars.len());
        let mut environ = Vec::with_capacity(vars.len());
        let mut content_length = 0;
        for (key, value) in vars {
            let name = match *key {
                b"CONTENT_LENGTH" => {
                    if value.is_empty() {
                        continue;
                    }
                    content_length = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    Some(CONTENT_LENGTH)
                }
                b"CONTENT_TYPE" => Some(CONTENT_TYPE),
                _ => match key.strip_prefix(b"HTTP_") {
                    Some(rest) => {
                        let lower: Vec<u8> = rest
                            .iter()
                            .map(|&b| if b == b'_' { b'-' } else { b.to_ascii_lowercase() })
                            .collect();
                        HeaderName::from_bytes(&lower).ok()
                    }
                    None => {
                        if *key != b"REQUEST_METHOD" {
                            environ.push((
                                latin1::decode(key).into_owned(),
                                latin1::decode(value).into_owned(),
                            ));
                        }
                        continue;
                    }
                },
            };
            // A name or value HTTP cannot carry is left out; a repeated
            // variable replaces the earlier one (uWSGI's environ is a dict).
            if let (Some(name), Ok(value)) = (name, HeaderValue::from_bytes(value)) {
                headers.insert(name, value);
            }
        }
        let mut conn = info.clone();
        let remote = get(b"REMOTE_ADDR").and_then(|a| std::str::from_utf8(a).ok()?.parse::<IpAddr>().ok());
        let port = get(b"REMOTE_PORT")
            .and_then(|p| std::str::from_utf8(p).ok()?.parse::<u16>().ok())
            .unwrap_or(0);
        if let Some(ip) = remote {
            conn.peer = Addr::Tcp(SocketAddr::new(ip, port));
        }
        conn.secure = url_scheme(&get) == "https";
        Ok(Cgi {
            head: RequestHead {
                method,
                target,
                version,
                headers,
            },
            conn,
            environ,
            protocol,
            content_length,
            kind,
        })
    }
}

/// `wsgi.url_scheme` as uWSGI decides it: `UWSGI_SCHEME`, else `HTTPS`
/// (`on` or `1`), else `http`.
fn url_scheme<'a>(get: &impl Fn(&[u8]) -> Option<&'a [u8]>) -> String {
    if let Some(scheme) = get(b"UWSGI_SCHEME").filter(|s| !s.is_empty()) {
        return latin1::decode(scheme).into_owned();
    }
    match get(b"HTTPS") {
        Some(v) if v.eq_ignore_ascii_case(b"on") || v == b"1" => "https".to_owned(),
        _ => "http".to_owned(),
    }
}

/// Sets the front end's variables on the environ the gateway built.
fn apply_vars(env: &mut Environ, vars: Vec<(String, String)>, kind: RequestKind) {
    let mut scheme: Option<String> = None;
    let mut https: Option<String> = None;
    for (key, value) in vars {
        match key.as_str() {
            "UWSGI_SCHEME" => scheme = Some(value.clone()),
            "HTTPS" => https = Some(value.clone()),
            _ => {}
        }
        // Every key is latin-1 text here; a value unfit for a typed field
        // (none nginx sends) is left as the gateway made it.
        let _ = env.set(&key, value);
    }
    let url_scheme = match (scheme.filter(|s| !s.is_empty()), https) {
        (Some(scheme), _) => scheme,
        (None, Some(v)) if v.eq_ignore_ascii_case("on") || v == "1" => "https".to_owned(),
        _ => "http".to_owned(),
    };
    let _ = env.set("wsgi.url_scheme", url_scheme);
    if kind == RequestKind::WsgiStripScriptName && !env.script_name.is_empty() {
        if let Some(rest) = env.path_info.strip_prefix(env.script_name.as_str()) {
            env.path_info = rest.to_owned();
        }
    }
}

/// Percent-encodes what a request target cannot hold as is.
fn percent_encode_path(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@%".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Writes the response as HTTP/1 with a close-delimited body; whether all
/// of it was produced.
async fn write_response<W: AsyncWrite + Unpin>(
    output: &mut Output<W>,
    response: Response,
    protocol: &str,
) -> bool {
    let Response { head, mut body } = response;
    let reason = head
        .reason
        .as_deref()
        .or(head.status.canonical_reason())
        .unwrap_or("");
    let line_protocol = if protocol.starts_with("HTTP/") && protocol.is_ascii() && !protocol.contains(' ') {
        protocol
    } else {
        "HTTP/1.1"
    };
    output.buf.extend_from_slice(line_protocol.as_bytes());
    output.buf.push(b' ');
    output.buf.extend_from_slice(head.status.as_str().as_bytes());
    output.buf.push(b' ');
    output.buf.extend_from_slice(reason.as_bytes());
    output.buf.extend_from_slice(b"\r\n");
    for (name, value) in &head.headers {
        // The connection ends with the response; nothing else to say.
        if name == CONNECTION {
            continue;
        }
        output.buf.extend_from_slice(name.as_str().as_bytes());
        output.buf.extend_from_slice(b": ");
        output.buf.extend_from_slice(value.as_bytes());
        output.buf.extend_from_slice(b"\r\n");
    }
    output.buf.extend_from_slice(b"\r\n");
    let send_body = head.framing != Framing::None;
    loop {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if send_body {
                        output.buf.extend_from_slice(&data);
                    }
                    // Stream as produced: nginx relays it on.
                    if poll_fn(|cx| output.poll_flush(cx)).await.is_err() {
                        return false;
                    }
                }
            }
            Some(Err(_)) => return false,
            None => return true,
        }
    }
}

type Shared<R> = Arc<Mutex<Input<R>>>;

fn lock<R>(shared: &Shared<R>) -> MutexGuard<'_, Input<R>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reading half and what was read past the packet.
struct Input<R> {
    reader: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> Input<R> {
    /// Reads up to `chunk` more bytes into the buffer; `Ready(false)` at
    /// the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>, chunk: usize) -> Poll<io::Result<bool>> {
        let len = self.buf.len();
        self.buf.resize(len + chunk, 0);
        let result = Pin::new(&mut self.reader).poll_read(cx, &mut self.buf[len..]);
        match result {
            Poll::Ready(Ok(n)) => {
                self.buf.truncate(len + n);
                Poll::Ready(Ok(n > 0))
            }
            other => {
                self.buf.truncate(len);
                other.map_ok(|_| true)
            }
        }
    }
}

/// The request body: `CONTENT_LENGTH` bytes after the packet.
struct Body<R> {
    input: Shared<R>,
    remaining: u64,
}

impl<R: AsyncRead + Unpin + Send> http_body::Body for Body<R> {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let mut input = lock(&self.input);
        if input.buf.is_empty() {
            match ready!(input.poll_fill(cx, want.min(READ_CHUNK))) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    drop(input);
                    self.remaining = 0;
                    return Poll::Ready(Some(Err(RequestError::TruncatedBody)));
                }
            }
        }
        let n = input.buf.len().min(want);
        let data = input.buf.split_to(n).freeze();
        if input.buf.is_empty() {
            input.buf = BytesMut::new();
        }
        drop(input);
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The writing half: a buffer written out under the write timeout.
struct Output<W> {
    writer: W,
    buf: Vec<u8>,
    written: usize,
    timer: Arc<dyn Timer>,
    timeout: Option<Duration>,
    stall: Deadline,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    fn new(writer: W, timer: Arc<dyn Timer>, timeout: Option<Duration>) -> Self {
        Output {
            writer,
            buf: Vec::new(),
            written: 0,
            timer,
            timeout,
            stall: Deadline::default(),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(self.poll_stall(cx, true))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        ready!(self.poll_stall(cx, false))?;
        Poll::Ready(Ok(()))
    }

    /// One write (or flush) under the write timeout.
    fn poll_stall(&mut self, cx: &mut Context<'_>, write: bool) -> Poll<io::Result<usize>> {
        let polled = if write {
            Pin::new(&mut self.writer).poll_write(cx, &self.buf[self.written..])
        } else {
            Pin::new(&mut self.writer).poll_flush(cx).map_ok(|()| 0)
        };
        match polled {
            Poll::Ready(result) => {
                self.stall.clear();
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(timeout) = self.timeout else {
                    return Poll::Pending;
                };
                ready!(self.stall.poll_after(&*self.timer, timeout, cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "writing the response timed out",
                )))
            }
        }
    }
}

/// The two halves as one stream, for the lingering close.
struct Halves<'a, R, W> {
    input: &'a Shared<R>,
    output: &'a mut Output<W>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> RawIo for Halves<'_, R, W> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.output.poll_flush(cx))?;
        Pin::new(&mut self.output.writer).poll_write(cx, buf)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.output.poll_flush(cx))?;
        Pin::new(&mut self.output.writer).poll_close(cx)
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut input = lock(self.input);
        input.buf = BytesMut::new();
        Pin::new(&mut input.reader).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cgi(vars: &[(&[u8], &[u8])]) -> Result<Cgi, Refusal> {
        let info = ConnInfo::new(Addr::Unix(None), Addr::Unix(None));
        Cgi::from_vars(vars, RequestKind::Wsgi, &info)
    }

    #[test]
    fn vars_become_a_head() {
        let c = cgi(&[
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/a%20b?x=1"),
            (b"PATH_INFO", b"/a b"),
            (b"SERVER_PROTOCOL", b"HTTP/2.0"),
            (b"HTTP_X_FORWARDED_FOR", b"1.2.3.4"),
            (b"HTTP_HOST", b"example.com"),
            (b"CONTENT_LENGTH", b"12"),
            (b"CONTENT_TYPE", b"text/plain"),
            (b"REMOTE_ADDR", b"203.0.113.9"),
            (b"REMOTE_PORT", b"4242"),
            (b"HTTPS", b"on"),
            (b"HTTP_HOST", b"example.net"),
        ])
        .ok()
        .unwrap();
        assert_eq!(c.head.method, Method::POST);
        assert_eq!(&c.head.target[..], b"/a%20b?x=1");
        assert_eq!(c.head.version, Version::HTTP_11);
        assert_eq!(c.protocol, "HTTP/2.0");
        assert_eq!(c.head.headers["x-forwarded-for"], "1.2.3.4");
        assert_eq!(
            c.head.headers.get_all("host").iter().count(),
            1,
            "the last one wins"
        );
        assert_eq!(c.head.headers["host"], "example.net");
        assert_eq!(c.head.headers["content-length"], "12");
        assert_eq!(c.content_length, 12);
        assert_eq!(c.conn.peer, Addr::Tcp("203.0.113.9:4242".parse().unwrap()));
        assert!(c.conn.secure);
        assert!(c.environ.iter().any(|(k, v)| k == "PATH_INFO" && v == "/a b"));
        assert!(!c.environ.iter().any(|(k, _)| k.starts_with("HTTP_")));
    }

    #[test]
    fn target_without_request_uri_is_encoded() {
        let c = cgi(&[
            (b"REQUEST_METHOD", b"GET"),
            (b"PATH_INFO", b"/caf\xe9 x"),
            (b"QUERY_STRING", b"q=1"),
        ])
        .ok()
        .unwrap();
        assert_eq!(&c.head.target[..], b"/caf%E9%20x?q=1");
        assert!(matches!(cgi(&[(b"PATH_INFO", b"/")]), Err(Refusal::NoMethod)));
    }

    #[test]
    fn scheme_rules() {
        let scheme = |vars: &[(&[u8], &[u8])]| {
            let get = |name: &[u8]| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            url_scheme(&get)
        };
        assert_eq!(scheme(&[]), "http");
        assert_eq!(scheme(&[(b"HTTPS", b"1")]), "https");
        assert_eq!(scheme(&[(b"HTTPS", b"off")]), "http");
        assert_eq!(scheme(&[(b"HTTPS", b"on"), (b"UWSGI_SCHEME", b"http")]), "http");
    }

    #[test]
    fn modifier_30_strips_script_name() {
        let mut env = Environ::new();
        apply_vars(
            &mut env,
            vec![
                ("SCRIPT_NAME".into(), "/app".into()),
                ("PATH_INFO".into(), "/app/x".into()),
            ],
            RequestKind::WsgiStripScriptName,
        );
        assert_eq!((env.script_name.as_str(), env.path_info.as_str()), ("/app", "/x"));
        let mut env = Environ::new();
        apply_vars(
            &mut env,
            vec![
                ("SCRIPT_NAME".into(), "/app".into()),
                ("PATH_INFO".into(), "/app/x".into()),
            ],
            RequestKind::Wsgi,
        );
        assert_eq!(env.path_info, "/app/x");
    }
}
