//! What a server is asked to do.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Bind, Engine};
use crate::Errors;
use crate::access_log::AccessLog;
use crate::proxy_protocol::{ProxyPolicy, ProxyProtocol};
use crate::tls::TlsConfig;

/// Where a synchronous application runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// On the event loop that read the request, as tornado's `WSGIContainer`
    /// does. The request body is read in full before the application is
    /// called (bounded by [`Config::limit_request_body`]), so the application
    /// never waits for the network; while it runs, that loop serves nothing
    /// else. Fastest for short handlers; async-stream bodies still hold no
    /// thread.
    Inline,
    /// On a pool of threads, between `min` (kept alive) and `max` (the
    /// ceiling; further requests wait for a free thread): gunicorn's
    /// gthread, uwsgi's `--threads`, twisted's WSGI thread pool. The body
    /// streams to the application as it arrives.
    ThreadPool {
        /// Threads kept even when idle.
        min: usize,
        /// The most threads, at least 1.
        max: usize,
    },
}

/// What to do with request header names that contain `_` (gunicorn's
/// `header_map`). Such names would collide with their `-` spelling in the
/// environ (`X_Forwarded_For` and `X-Forwarded-For` are both
/// `HTTP_X_FORWARDED_FOR`), so a client could spoof a header a proxy set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnderscoreHeaders {
    /// Drop them silently (gunicorn's and gevent's default).
    #[default]
    Drop,
    /// Refuse the request with 400.
    Refuse,
    /// Keep them (gunicorn's `dangerous`): only behind a proxy that strips
    /// them.
    Keep,
}

/// A server's configuration: binds, threads, dispatch, timeouts and limits.
///
/// Every backend honours every field, or refuses the configuration at start
/// with a message that says which field and why. Limits default to
/// gunicorn's values. Build one with [`Config::default`] and set fields:
///
/// ```
/// use std::time::Duration;
/// use rwsgi_core::{Config, Dispatch};
///
/// let mut config = Config::default();
/// config.binds = vec!["127.0.0.1:0".parse()?, "unix:/tmp/app.sock".parse()?];
/// config.io_threads = 1;
/// config.dispatch = Dispatch::ThreadPool { min: 2, max: 8 };
/// config.keep_alive = Duration::from_secs(75);
/// # Ok::<(), rwsgi_core::BindParseError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen. Default: `127.0.0.1:8000`.
    pub binds: Vec<Bind>,
    /// Runtime threads that run the event loop(s); 1 is a single-threaded
    /// loop. Default: the number of CPUs.
    pub io_threads: usize,
    /// Where synchronous applications run. Default: [`Dispatch::Inline`].
    pub dispatch: Dispatch,
    /// The HTTP engine; `None` is the backend's default. Default: `None`.
    pub engine: Option<Engine>,
    /// Pending connections the kernel may queue (`listen(2)`'s backlog).
    /// Default: 2048 (gunicorn's).
    pub backlog: u32,
    /// Set `SO_REUSEPORT` on TCP listeners. Default: `false`.
    pub reuse_port: bool,
    /// How long an idle keep-alive connection waits for its next request;
    /// `Duration::ZERO` turns keep-alive off (one request per connection).
    /// Default: 2 s (gunicorn's `--keep-alive`).
    pub keep_alive: Duration,
    /// How long a request head may take to arrive, from its first byte (or
    /// from accept, for a connection's first request); then 408 and close.
    /// `None`: no limit. Default: 30 s.
    pub header_read_timeout: Option<Duration>,
    /// How long one read of the request body may wait for the client; then
    /// the request fails as truncated. `None`: no limit. Default: 30 s.
    pub body_read_timeout: Option<Duration>,
    /// How long one write may wait for a client that does not read; then the
    /// connection is cut. `None`: no limit. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// Open connections at most; at the limit, accepting pauses (the kernel
    /// queues new ones in the backlog). Default: 10 000.
    pub max_connections: usize,
    /// Longest request line in bytes, CRLF excluded; 0: no limit. Longer:
    /// 414. Default: 4094 (gunicorn's).
    pub limit_request_line: usize,
    /// Most header fields in a request; 0: no limit. More: 431. Default: 100
    /// (gunicorn's).
    pub limit_request_fields: usize,
    /// Longest header field in bytes, counted as gunicorn counts it: the
    /// `Name: value` line with its CRLF; 0: no limit. Longer: 431. Default:
    /// 8190 (gunicorn's).
    pub limit_request_field_size: usize,
    /// Longest whole request head in bytes; 0: only the limits above bound
    /// it. Longer: 431. Default: 65 536 (tornado's `max_header_size`).
    pub limit_request_head: usize,
    /// Largest request body in bytes; `None`: no limit (gunicorn has none).
    /// Larger: 413. Default: `None`.
    pub limit_request_body: Option<u64>,
    /// Header names with `_`. Default: [`UnderscoreHeaders::Drop`].
    pub underscore_headers: UnderscoreHeaders,
    /// Accept any token as a method; otherwise, as gunicorn, a method is 3
    /// to 20 characters without lower-case letters or `#`. Default: `false`.
    pub permit_unconventional_http_method: bool,
    /// The `Server` header added to responses that have none; `None` adds
    /// nothing. Default: `rwsgi`.
    pub server_header: Option<Cow<'static, str>>,
    /// `SERVER_SOFTWARE` in the environ; `None` leaves it out. Default:
    /// `rwsgi/VERSION`.
    pub server_software: Option<Cow<'static, str>>,
    /// The mount point (`SCRIPT_NAME`); a request path that starts with it
    /// has it moved from `PATH_INFO` to `SCRIPT_NAME`. Default: `""`.
    pub script_name: String,
    /// `wsgi.multiprocess`: whether other processes serve the same app.
    /// Personalities with workers set it. Default: `false`.
    pub multiprocess: bool,
    /// Where the server logs and where `wsgi.errors` goes. Default: standard
    /// error.
    pub error_log: Errors,
    /// Where a line per request goes; `None`: no access log. Default: `None`.
    pub access_log: Option<Arc<dyn AccessLog>>,
    /// Which listeners expect HAProxy's PROXY protocol header (v1 or v2)
    /// before the request; `REMOTE_ADDR`/`REMOTE_PORT` then come from it.
    /// Default: [`ProxyProtocol::Off`].
    pub proxy_protocol: ProxyProtocol,
    /// How those listeners treat what arrives: a header required (the
    /// default, HAProxy's rule) or optional, which versions, from whom.
    pub proxy_policy: ProxyPolicy,
    /// Read the whole request body before calling the application on a
    /// thread pool too, as twisted.web does (a resource renders once the
    /// request is complete); [`Dispatch::Inline`] always does. Default:
    /// `false` (the body streams to a pool thread as it arrives).
    pub buffer_request_body: bool,
    /// TLS, on the listeners it names; `None`: plain HTTP. A backend
    /// built without the `tls` feature refuses it at start. Default: `None`.
    pub tls: Option<TlsConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            binds: vec![Bind::Tcp {
                host: "127.0.0.1".into(),
                port: 8000,
            }],
            io_threads: std::thread::available_parallelism().map_or(1, usize::from),
            dispatch: Dispatch::Inline,
            engine: None,
            backlog: 2048,
            reuse_port: false,
            keep_alive: Duration::from_secs(2),
            header_read_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            max_connections: 10_000,
            limit_request_line: 4094,
            limit_request_fields: 100,
            limit_request_field_size: 8190,
            limit_request_head: 65_536,
            limit_request_body: None,
            underscore_headers: UnderscoreHeaders::Drop,
            permit_unconventional_http_method: false,
            server_header: Some(Cow::Borrowed("rwsgi")),
            server_software: Some(Cow::Borrowed(concat!("rwsgi/", env!("CARGO_PKG_VERSION")))),
            script_name: String::new(),
            multiprocess: false,
            error_log: Errors::default(),
            access_log: None,
            proxy_protocol: ProxyProtocol::Off,
            proxy_policy: ProxyPolicy::default(),
            buffer_request_body: false,
            tls: None,
        }
    }
}

impl Config {
    /// The largest head the limits allow: what an engine's read buffer must
    /// be able to hold so that its own limit never fires before ours.
    pub fn max_head_len(&self) -> usize {
        if self.limit_request_head != 0 {
            return self.limit_request_head;
        }
        let line = if self.limit_request_line == 0 {
            65_536
        } else {
            self.limit_request_line
        };
        let fields = if self.limit_request_fields == 0 {
            32_768
        } else {
            self.limit_request_fields
        };
        let field = if self.limit_request_field_size == 0 {
            65_536
        } else {
            self.limit_request_field_size
        };
        line.saturating_add(fields.saturating_mul(field + 2))
            .saturating_add(4)
    }

    /// Checks values no backend could honour.
    ///
    /// # Errors
    ///
    /// A message naming the field and what it needs.
    pub fn validate(&self) -> Result<(), String> {
        if self.binds.is_empty() {
            return Err("binds: at least one address to listen on is needed".into());
        }
        if self.io_threads == 0 {
            return Err("io_threads: at least 1 thread is needed".into());
        }
        if let Dispatch::ThreadPool { min, max } = self.dispatch {
            if max == 0 || min > max {
                return Err(format!(
                    "dispatch: a thread pool needs 1 <= max and min <= max (got min {min}, max {max})"
                ));
            }
        }
        if self.max_connections == 0 {
            return Err("max_connections: at least 1 connection is needed".into());
        }
        if let Some(name) = self.server_header.as_deref() {
            crate::start_response::parse_header("Server", name.to_owned())
                .map_err(|err| format!("server_header: {err}"))?;
        }
        Ok(())
    }

    /// Whether the application may be called from several threads at once
    /// (`wsgi.multithread`).
    pub fn multithread(&self) -> bool {
        match self.dispatch {
            Dispatch::Inline => self.io_threads > 1,
            Dispatch::ThreadPool { max, .. } => max > 1,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("binds", &self.binds)
            .field("io_threads", &self.io_threads)
            .field("dispatch", &self.dispatch)
            .field("engine", &self.engine)
            .field("backlog", &self.backlog)
            .field("keep_alive", &self.keep_alive)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_connections", &self.max_connections)
            .field("limit_request_line", &self.limit_request_line)
            .field("limit_request_fields", &self.limit_request_fields)
            .field("limit_request_field_size", &self.limit_request_field_size)
            .field("limit_request_head", &self.limit_request_head)
            .field("limit_request_body", &self.limit_request_body)
            .finish_non_exhaustive()
    }
}
