//! `tornado.wsgi.WSGIContainer`: a WSGI application on tornado's HTTP
//! server, and what tornado's HTTP layer does to each request before the
//! application sees it (`xheaders`, `protocol`, `decompress_request`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Read;
use std::net::IpAddr;

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue};
use rwsgi_core::{Application, Body, BoxError, Dispatch, Environ, Input, SharedApp, StartResponse};

use crate::log::AccessLogger;

/// The tornado release whose behaviour this personality follows.
pub const TORNADO_VERSION: &str = "6.5";

/// The `Server` header `WSGIContainer` adds when the application set none:
/// `TornadoServer/` and [`TORNADO_VERSION`].
pub const DEFAULT_SERVER_HEADER: &str = "TornadoServer/6.5";

/// What `WSGIContainer` adds to a response without a `Content-Type`
/// (except a 304).
pub const DEFAULT_CONTENT_TYPE: &str = "text/html; charset=UTF-8";

/// `concurrent.futures.ThreadPoolExecutor(max_workers)`: the executor
/// `WSGIContainer(app, executor=…)` runs the application on. Threads are
/// started as requests need them, up to `max_workers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadPoolExecutor {
    max_workers: usize,
}

impl ThreadPoolExecutor {
    /// At most `max_workers` threads (at least 1).
    pub fn new(max_workers: usize) -> Self {
        ThreadPoolExecutor {
            max_workers: max_workers.max(1),
        }
    }

    /// The most threads.
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }
}

impl Default for ThreadPoolExecutor {
    /// Python's default: `min(32, os.cpu_count() + 4)`.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        ThreadPoolExecutor::new((cpus + 4).min(32))
    }
}

/// `tornado.wsgi.WSGIContainer`: makes a WSGI application runnable on
/// [`HttpServer`](crate::HttpServer).
///
/// As in tornado 6.3+, the application runs on the event loop's thread
/// unless an executor is given ([`with_executor`](Self::with_executor)),
/// a response without `Content-Type` gets `text/html; charset=UTF-8`, one
/// without `Server` gets [`DEFAULT_SERVER_HEADER`], and every request is
/// logged by status class ([`AccessLogger`]).
///
/// One difference is deliberate: tornado's container collects the whole
/// response body before sending it (so a WSGI long poll would hold the
/// loop); here the body streams, and an async-stream body
/// ([`Body::stream`]) waits without holding the loop at all.
///
/// ```
/// use rwsgi_tornado::{ThreadPoolExecutor, WsgiContainer};
/// # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
/// let on_the_loop = WsgiContainer::new(app);
/// let on_threads = WsgiContainer::with_executor(app, ThreadPoolExecutor::new(8));
/// # drop((on_the_loop, on_threads));
/// ```
#[derive(Clone, Debug)]
pub struct WsgiContainer {
    pub(crate) app: SharedApp,
    pub(crate) executor: Option<ThreadPoolExecutor>,
    pub(crate) server_header: Option<Cow<'static, str>>,
    pub(crate) access_log: Option<AccessLogger>,
}

impl WsgiContainer {
    /// `WSGIContainer(app)`: the application runs on the loop thread.
    pub fn new(app: impl Application) -> Self {
        WsgiContainer {
            app: SharedApp::new(app),
            executor: None,
            server_header: Some(Cow::Borrowed(DEFAULT_SERVER_HEADER)),
            access_log: Some(AccessLogger::stderr()),
        }
    }

    /// `WSGIContainer(app, executor=ThreadPoolExecutor(n))`: the
    /// application runs on the executor's threads (`wsgi.multithread` is
    /// then true); the loop keeps serving meanwhile.
    pub fn with_executor(app: impl Application, executor: ThreadPoolExecutor) -> Self {
        WsgiContainer::new(app).executor(executor)
    }

    /// Runs the application on `executor`.
    #[must_use]
    pub fn executor(mut self, executor: ThreadPoolExecutor) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The `Server` header added to responses that have none; `None` adds
    /// nothing. Default: [`DEFAULT_SERVER_HEADER`].
    #[must_use]
    pub fn server_header(mut self, value: Option<impl Into<Cow<'static, str>>>) -> Self {
        self.server_header = value.map(Into::into);
        self
    }

    /// Where the `tornado.access` lines go; `None` logs nothing. Default:
    /// standard error, `info` and above.
    #[must_use]
    pub fn access_log(mut self, logger: Option<AccessLogger>) -> Self {
        self.access_log = logger;
        self
    }

    /// Where the application runs.
    pub fn dispatch(&self) -> Dispatch {
        match self.executor {
            None => Dispatch::Inline,
            Some(executor) => Dispatch::ThreadPool {
                min: 0,
                max: executor.max_workers,
            },
        }
    }
}

/// What `HTTPServer` does to a request before `WSGIContainer` calls the
/// application.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestOptions {
    /// `xheaders=True`, with `trusted_downstream`.
    pub xheaders: Option<HashSet<String>>,
    /// `protocol=`: the scheme of every request.
    pub protocol: Option<Cow<'static, str>>,
    /// `decompress_request=True`, with the largest body inflated.
    pub decompress: Option<u64>,
}

/// The application as tornado runs it: the request options applied, then
/// the application, with `WSGIContainer`'s response defaults.
pub(crate) struct ContainerApp {
    pub app: SharedApp,
    pub options: RequestOptions,
}

impl Application for ContainerApp {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let scheme_before = environ.url_scheme.clone();
        if let Some(protocol) = &self.options.protocol {
            environ.url_scheme = protocol.clone();
        }
        if let Some(trusted) = &self.options.xheaders {
            apply_xheaders(environ, trusted);
        }
        if environ.url_scheme != scheme_before {
            default_port_for_scheme(environ);
        }
        if let Some(limit) = self.options.decompress {
            if let Err(refusal) = decompress(environ, limit) {
                return refusal.respond(start_response);
            }
        }
        let start_response = start_response.map(|status, headers| {
            let not_modified = status.split(' ').next() == Some("304");
            if !not_modified
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), DEFAULT_CONTENT_TYPE.into()));
            }
            Ok(())
        });
        self.app.call(environ, &start_response)
    }
}

/// `_HTTPRequestContext._apply_xheaders`: the client's address from
/// `X-Forwarded-For` (the right-most entry not in `trusted_downstream`),
/// overridden by `X-Real-Ip`, kept only if it is an IP address; the scheme
/// from `X-Scheme`, else `X-Forwarded-Proto` (its last entry), kept only if
/// it is `http` or `https`.
pub fn apply_xheaders(environ: &mut Environ, trusted_downstream: &HashSet<String>) {
    let peer = environ
        .remote_addr
        .clone()
        .unwrap_or_else(|| "0.0.0.0".to_owned());
    let forwarded = environ
        .get("HTTP_X_FORWARDED_FOR")
        .map_or_else(|| peer.clone(), Cow::into_owned);
    let mut ip = String::new();
    for candidate in forwarded.rsplit(',').map(str::trim) {
        ip = candidate.to_owned();
        if !trusted_downstream.contains(candidate) {
            break;
        }
    }
    if let Some(real) = environ.get("HTTP_X_REAL_IP") {
        ip = real.into_owned();
    }
    if is_valid_ip(&ip) && environ.remote_addr.as_deref() != Some(ip.as_str()) {
        environ.remote_addr = Some(ip);
        // tornado's environ has no REMOTE_PORT; the proxy's port would not
        // belong to the forwarded address.
        environ.remote_port = None;
    }
    let proto = environ
        .get("HTTP_X_SCHEME")
        .or_else(|| environ.get("HTTP_X_FORWARDED_PROTO"))
        .map(Cow::into_owned);
    if let Some(proto) = proto {
        let last = proto.rsplit(',').next().unwrap_or("").trim();
        if last == "http" || last == "https" {
            environ.url_scheme = Cow::Owned(last.to_owned());
        }
    }
}

/// `netutil.is_valid_ip`: a numeric IPv4 or IPv6 address.
fn is_valid_ip(ip: &str) -> bool {
    !ip.is_empty() && ip.parse::<IpAddr>().is_ok()
}

/// `WSGIContainer.environ`: without a port in `Host`, `SERVER_PORT` is 443
/// for https and 80 otherwise — by the scheme after `xheaders`/`protocol`.
fn default_port_for_scheme(environ: &mut Environ) {
    let host_has_port = environ
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.rsplit_once(':').is_some_and(|(_, port)| !port.contains(']')));
    if !host_has_port && environ.headers.contains_key(HOST) {
        environ.server_port = if environ.url_scheme == "https" {
            "443"
        } else {
            "80"
        }
        .to_owned();
    }
}

/// Why a request body was refused before the application ran.
#[derive(Debug)]
enum Refusal {
    Malformed(String),
    TooLarge(u64),
}

impl Refusal {
    fn respond(self, start_response: &StartResponse) -> Result<Body, BoxError> {
        let (status, text) = match self {
            Refusal::Malformed(why) => ("400 Bad Request", format!("Bad Request: {why}\n")),
            Refusal::TooLarge(limit) => (
                "413 Content Too Large",
                format!("the inflated body is larger than {limit} bytes\n"),
            ),
        };
        start_response.start(status, [("Content-Type", "text/plain")])?;
        Ok(Body::from(text))
    }
}

/// `decompress_request=True` (`_GzipMessageDelegate`): a body sent with
/// `Content-Encoding: gzip` reaches the application inflated; the header
/// becomes `X-Consumed-Content-Encoding`. Beyond tornado, `CONTENT_LENGTH`
/// (when there was one) becomes the inflated length, so that reading that
/// many bytes reads the body, and the inflated body is capped at `limit`.
fn decompress(environ: &mut Environ, limit: u64) -> Result<(), Refusal> {
    let Some(encoding) = environ.headers.get(CONTENT_ENCODING).cloned() else {
        return Ok(());
    };
    if !encoding
        .to_str()
        .is_ok_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
    {
        return Ok(());
    }
    let compressed = environ
        .input
        .read_all()
        .map_err(|err| Refusal::Malformed(err.to_string()))?;
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .take(limit.saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|err| Refusal::Malformed(format!("gzip: {err}")))?;
    if inflated.len() as u64 > limit {
        return Err(Refusal::TooLarge(limit));
    }
    environ.headers.remove(CONTENT_ENCODING);
    environ
        .headers
        .append(HeaderName::from_static("x-consumed-content-encoding"), encoding);
    if environ.headers.contains_key(CONTENT_LENGTH) {
        environ
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(inflated.len()));
    }
    environ.input = Input::from_bytes(inflated);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_core::testing;

    fn environ(pairs: &[(&str, &str)]) -> Environ {
        let mut env = Environ::from_pairs(pairs.iter().copied()).unwrap();
        env.remote_addr = Some("10.0.0.1".into());
        env
    }

    fn trusted(ips: &[&str]) -> HashSet<String> {
        ips.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn xheaders_follow_tornado() {
        let mut env = environ(&[("HTTP_X_FORWARDED_FOR", "1.1.1.1, 2.2.2.2, 3.3.3.3")]);
        apply_xheaders(&mut env, &trusted(&[]));
        assert_eq!(env.remote_addr.as_deref(), Some("3.3.3.3"));

        let mut env = environ(&[("HTTP_X_FORWARDED_FOR", "1.1.1.1, 2.2.2.2, 3.3.3.3")]);
        apply_xheaders(&mut env, &trusted(&["3.3.3.3", "2.2.2.2"]));
        assert_eq!(env.remote_addr.as_deref(), Some("1.1.1.1"));

        // Every entry trusted: the left-most, as tornado's loop leaves it.
        let mut env = environ(&[("HTTP_X_FORWARDED_FOR", "2.2.2.2,3.3.3.3")]);
        apply_xheaders(&mut env, &trusted(&["3.3.3.3", "2.2.2.2"]));
        assert_eq!(env.remote_addr.as_deref(), Some("2.2.2.2"));

        let mut env = environ(&[("HTTP_X_FORWARDED_FOR", "1.1.1.1"), ("HTTP_X_REAL_IP", "4.4.4.4")]);
        apply_xheaders(&mut env, &trusted(&[]));
        assert_eq!(env.remote_addr.as_deref(), Some("4.4.4.4"));

        let mut env = environ(&[("HTTP_X_REAL_IP", "not-an-ip")]);
        apply_xheaders(&mut env, &trusted(&[]));
        assert_eq!(env.remote_addr.as_deref(), Some("10.0.0.1"));

        let mut env = environ(&[("HTTP_X_FORWARDED_PROTO", "https, http, https")]);
        apply_xheaders(&mut env, &trusted(&[]));
        assert_eq!(env.url_scheme, "https");

        let mut env = environ(&[("HTTP_X_SCHEME", "ftp"), ("HTTP_X_FORWARDED_PROTO", "https")]);
        apply_xheaders(&mut env, &trusted(&[]));
        assert_eq!(env.url_scheme, "http", "X-Scheme wins, and ftp is refused");
    }

    #[test]
    fn container_adds_content_type_and_decompresses() {
        let app = SharedApp::new(ContainerApp {
            app: SharedApp::new(
                |env: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
                    sr.start("200 OK", Vec::<(String, String)>::new())?;
                    let body = env.input.read_all()?;
                    Ok(Body::from(format!(
                        "{} {} {}",
                        body.len(),
                        env.get("CONTENT_LENGTH").unwrap_or_default(),
                        env.get("HTTP_X_CONSUMED_CONTENT_ENCODING").unwrap_or_default()
                    )))
                },
            ),
            options: RequestOptions {
                decompress: Some(1 << 20),
                ..RequestOptions::default()
            },
        });
        let plain = vec![b'a'; 5000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut env = Environ::new();
        env.set("HTTP_CONTENT_ENCODING", "gzip").unwrap();
        env.set("CONTENT_LENGTH", gz.len().to_string()).unwrap();
        env.input = Input::from_bytes(gz);
        let response = testing::call(app.clone(), env);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "5000 5000 gzip");
        assert_eq!(response.headers["content-type"], DEFAULT_CONTENT_TYPE);

        let mut env = Environ::new();
        env.set("HTTP_CONTENT_ENCODING", "gzip").unwrap();
        env.input = Input::from_bytes("not gzip at all");
        assert_eq!(testing::call(app, env).status, 400);
    }
}
