//! # rwsgi-tornado
//!
//! The tornado personality: `HTTPServer(WSGIContainer(app))` on one
//! single-threaded event loop, with tornado's options, defaults and log
//! line — on whichever rwsgi backend is chosen.
//!
//! Tornado is chosen for one promise: one process, one thread, thousands
//! of standing connections (long polls, server-sent events). Here the loop
//! is a backend's runtime with `io_threads = 1`, the application runs on
//! it (`Dispatch::Inline`) unless an executor is given, and a response
//! body that is an async stream ([`Body::stream`](rwsgi_core::Body::stream))
//! waits on the backend's timer ([`Environ::sleep`](rwsgi_core::Environ::sleep))
//! holding no thread — so 2 000 open long polls cost 2 000 sockets and
//! small futures, not 2 000 threads.
//!
//! ## The shape users type
//!
//! ```no_run
//! use rwsgi_tornado::{HttpServer, IoLoop, WsgiContainer};
//! # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
//! # fn main() -> std::io::Result<()> {
//! # let compiled: &dyn rwsgi_core::Backends = todo!();
//! // http_server = HTTPServer(WSGIContainer(app)); http_server.listen(5000)
//! HttpServer::new(WsgiContainer::new(app)).listen(5000)?;
//! // IOLoop.current().start()
//! IoLoop::current().start_on(compiled)?; // compiled: &rwsgi::backends::Compiled
//! # Ok(()) }
//! ```
//!
//! A personality never names a runtime, so the loop is told which backends
//! exist: pass them to [`IoLoop::start_on`], or install them once with
//! [`IoLoop::configure`] (tornado's `IOLoop.configure`) and call
//! [`IoLoop::start`] exactly as in Python.
//!
//! | tornado | rwsgi-tornado |
//! |---|---|
//! | `HTTPServer(app, xheaders=True, ...)` | `HttpServer::new(container).xheaders(true)…`, or [`HttpServerOptions`] |
//! | `HTTPServer(app, ssl_options={"certfile": "cert.pem", "keyfile": "key.pem"})` | `HttpServer::new(container).ssl_options(SslOptions::new("cert.pem", "key.pem"))` ([`SslOptions`]) |
//! | `ssl_options={..., "ca_certs": "ca.pem", "cert_reqs": ssl.CERT_REQUIRED}` | `SslOptions::new(…).ca_certs("ca.pem").cert_reqs(2)` |
//! | `ssl_options=ssl_ctx` (an `ssl.SSLContext` from `load_cert_chain`, `load_verify_locations`, `verify_mode`) | the same four settings as [`SslOptions`] |
//! | `WSGIContainer(app)` / `WSGIContainer(app, executor=ThreadPoolExecutor(8))` | [`WsgiContainer::new`] / [`WsgiContainer::with_executor`] with [`ThreadPoolExecutor`] |
//! | `server.listen(8888)`, `listen(8888, "127.0.0.1")`, `listen(8888, reuse_port=True)` | `listen(8888)`, `listen((8888, "127.0.0.1"))`, `listen(Listen::new(8888).reuse_port(true))` |
//! | `server.bind(8888); server.start(0)` (deprecated since 6.2) | [`HttpServer::bind`] + [`HttpServer::start`] (forks; see [`process`]) |
//! | `server.add_sockets(bind_sockets(8888))` | [`HttpServer::add_sockets`], [`bind_sockets`] |
//! | `IOLoop.current().start()` / `.stop()` | [`IoLoop::current`], [`IoLoop::start`], [`IoLoop::stop`] |
//! | `server.stop()` | [`HttpServer::stop`] |
//! | `tornado.access` log, `--logging=warning` | [`AccessLogger`], [`LogLevel`] |
//! | `tornado.process.task_id()` | [`process::task_id`] |
//!
//! ## Options and defaults
//!
//! | option | default | here |
//! |---|---|---|
//! | `xheaders` | off | the client's address from `X-Real-Ip`, else `X-Forwarded-For` (right-most not in `trusted_downstream`), kept if it is an IP; the scheme from `X-Scheme`, else `X-Forwarded-Proto` (last entry), kept if `http` or `https` |
//! | `trusted_downstream` | none | as tornado |
//! | `protocol` | `http` (`https` with `ssl_options`) | `wsgi.url_scheme` of every request |
//! | `ssl_options` | none | [`SslOptions`]: `certfile`, `keyfile` (both required), `ca_certs`, `cert_reqs` (0, 1, 2) → `Config::tls` on every socket; the files are read and checked before anything is bound, and a wrong one is refused naming it; `ssl_version` and `ciphers` are not offered (rustls negotiates TLS 1.2/1.3 and picks its suites) |
//! | `no_keep_alive` | off | `Config::keep_alive` 0 |
//! | `max_buffer_size` | 100 MiB | the default of `max_body_size`, and the cap on an inflated gzip body |
//! | `max_header_size` | 64 KiB | `Config::limit_request_head` (431 beyond) |
//! | `max_body_size` | `max_buffer_size` | `Config::limit_request_body` (413 beyond) |
//! | `idle_connection_timeout` | 3600 s | time to wait for a head (keep-alive idle included) |
//! | `body_timeout` | none | `Config::body_read_timeout` |
//! | `decompress_request` | off | `Content-Encoding: gzip` bodies inflated, header renamed `X-Consumed-Content-Encoding` |
//!
//! ## Where it differs from tornado, and why
//!
//! * The response body streams. tornado's `WSGIContainer` joins the whole
//!   body before writing it (so a WSGI long poll blocks its loop); here
//!   chunks go out as produced, and async-stream bodies hold no thread.
//! * Bad requests are answered by rwsgi's one error table: a head over
//!   `max_header_size` gets 431 and a body over `max_body_size` 413, where
//!   tornado closes the connection or answers a bare 400; a connection
//!   that sent part of a head and stalls past `idle_connection_timeout`
//!   gets 408 (tornado closes silently); a corrupt gzip body gets 400
//!   (tornado closes).
//! * Header names containing `_` are dropped (tornado keeps them, so
//!   `X_Forwarded_For` can overwrite `X-Forwarded-For` in the environ).
//! * `CONTENT_LENGTH` of an inflated body is its inflated length (tornado
//!   leaves the compressed one), and the inflated size is capped at
//!   `max_buffer_size` (413).
//! * `body_timeout` bounds each read of the body rather than the whole
//!   body; `wsgi.multiprocess` is true only in forked children (tornado
//!   always says true); `REMOTE_PORT` is given (tornado has none) except
//!   when `xheaders` replaced the address.
//! * `IoLoop::start` returns once every server on it has stopped; several
//!   servers on one loop run one backend runtime each.
//! * The log line's prefix has no `:LINE` (a Python source line).
//! * `start(n)` refuses to fork a process that already has threads; the
//!   parent forwards SIGTERM/SIGINT/SIGQUIT to its children.
//! * `ssl_options`: the files are read, parsed and matched (key to
//!   certificate) before anything is bound, and a wrong one stops the
//!   server with an error naming it (tornado only checks that they exist,
//!   and fails each handshake otherwise); `keyfile` is required (Python
//!   also finds a key inside `certfile`); a TLS request's environ also has
//!   `HTTPS=on`; a handshake not done in 10 s is cut (rwsgi's
//!   `TlsConfig::handshake_timeout`).
//!
//! ## On the command line
//!
//! `rwsgi tornado --port 5000 APP` (see [`main`]); `--address 127.0.0.1`,
//! `--processes N` (bind + start(N)), `--xheaders`, `--threads N`, and the
//! options above as flags. tornado has no command line of its own for
//! `ssl_options`; `rwsgi tornado` takes gunicorn's names for the same
//! `ssl.wrap_socket` arguments: `--certfile FILE --keyfile FILE
//! [--ca-certs FILE] [--cert-reqs 0|1|2]`.

#![warn(missing_docs)]

mod cli;
mod httpserver;
mod ioloop;
mod log;
mod netutil;
pub mod process;
mod wsgi;

use std::ffi::OsString;
use std::process::ExitCode;

use rwsgi_core::{Application, Config, Shape, Shaped, SharedApp};

pub use httpserver::{
    DEFAULT_IDLE_CONNECTION_TIMEOUT, DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_HEADER_SIZE, HttpServer,
    HttpServerOptions, SslOptions,
};
pub use ioloop::IoLoop;
pub use log::{AccessLogger, LogFormat, LogLevel, level_for, message};
pub use netutil::{DEFAULT_BACKLOG, Listen, bind_sockets, bind_unix_socket};
pub use wsgi::{
    DEFAULT_CONTENT_TYPE, DEFAULT_SERVER_HEADER, TORNADO_VERSION, ThreadPoolExecutor, WsgiContainer,
    apply_xheaders,
};

/// Runs `rwsgi tornado …`; `args[0]` is the program name. Exit status: 0,
/// 1 on a run-time failure, 2 on a usage error, 4 when the application's
/// factory fails.
pub fn main(
    registry: rwsgi_core::Registry,
    backends: &dyn rwsgi_core::Backends,
    args: Vec<OsString>,
) -> ExitCode {
    cli::main(registry, backends, args)
}

/// The suite adapter: backend `S` configured the tornado way — one event
/// loop (`io_threads = 1`), the application wrapped as `WSGIContainer`
/// wraps it (a missing `Content-Type` becomes `text/html; charset=UTF-8`).
///
/// Every other field of the [`Config`] it is given is honoured as the
/// corresponding `HTTPServer` option would be (the `Server` header, limits,
/// timeouts, dispatch as the executor); tornado's own defaults are what
/// [`HttpServer`] starts from, not this adapter, so that the shared suite
/// can set each field.
pub type Personality<S> = Shaped<S, Tornado>;

/// Tornado's shape (see [`Personality`]).
pub struct Tornado;

impl Shape for Tornado {
    fn config(mut config: Config) -> Config {
        config.io_threads = 1;
        config
    }

    fn app(app: SharedApp) -> impl Application {
        wsgi::ContainerApp {
            app,
            options: wsgi::RequestOptions::default(),
        }
    }
}
