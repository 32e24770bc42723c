//! # rwsgi-gevent
//!
//! The gevent personality: pywsgi's `WSGIServer` — one task per
//! connection on a single-threaded loop (greenlets on the hub), bounded by
//! `spawn=Pool(n)`, with pywsgi's environ, limits and access-log line — on
//! whichever rwsgi backend is chosen.
//!
//! gevent is chosen for the same promise as tornado: one process, one
//! thread, thousands of standing connections. Each connection is a task on
//! one loop (`io_threads = 1`); a synchronous application runs inline on
//! it, as on gevent's hub, unless [`WsgiServer::threads`] asks for a pool;
//! an async-stream body ([`Body::stream`](rwsgi_core::Body::stream))
//! waits on the backend's timer holding no thread.
//!
//! ## The shape users type
//!
//! ```no_run
//! use rwsgi_gevent::{Pool, WsgiServer};
//! # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
//! # fn main() -> std::io::Result<()> {
//! # let compiled: &dyn rwsgi_core::Backends = todo!();
//! // WSGIServer(("", 5000), app).serve_forever()
//! WsgiServer::new(("", 5000), app).serve_forever_on(compiled)?; // compiled: &rwsgi::backends::Compiled
//! // WSGIServer(":5000", app, spawn=Pool(100), log=None)
//! let server = WsgiServer::new(":5000", app).spawn(Pool::new(100)).log(None);
//! # drop(server);
//! # Ok(()) }
//! ```
//!
//! A personality never names a runtime, so the server is told which
//! backends exist: pass them (`serve_forever_on`, `start_with`), or
//! install them once with [`configure`] (as gevent's `config.loop` picks
//! the hub's loop) and call [`WsgiServer::serve_forever`] /
//! [`WsgiServer::start`] exactly as in Python.
//!
//! | gevent | rwsgi-gevent |
//! |---|---|
//! | `WSGIServer(('', 5000), app)`, `WSGIServer(':5000', app)`, `WSGIServer(sock, app)` | [`WsgiServer::new`] with a tuple, a string or a bound listener ([`Address`]) |
//! | `spawn='default'` / `spawn=Pool(n)` / `spawn=n` | [`Spawn::Default`] / [`Pool::new`] / a `usize` |
//! | `log=None`, `error_log=…`, `environ={…}`, `backlog=` | [`WsgiServer::log`], [`error_log`](WsgiServer::error_log), [`environ`](WsgiServer::environ), [`backlog`](WsgiServer::backlog) |
//! | `WSGIServer(('', 8443), app, keyfile='server.key', certfile='server.crt')` | `WsgiServer::new(("", 8443), app).keyfile("server.key").certfile("server.crt")` ([`WsgiServer::keyfile`]) |
//! | `ca_certs='ca.pem', cert_reqs=ssl.CERT_REQUIRED` | [`ca_certs("ca.pem")`](WsgiServer::ca_certs), [`cert_reqs(2)`](WsgiServer::cert_reqs) |
//! | `server.ssl_enabled` | [`WsgiServer::ssl_enabled`] |
//! | `server.start()`, `server.serve_forever()`, `server.stop(timeout=None)` | the same names |
//! | `with WSGIServer(...) as server:` | dropping the last handle stops it |
//! | `python -m gevent.pywsgi -b :5000 module:app` | `rwsgi gevent --bind :5000 APP` ([`main`]) |
//! | `keyfile=`, `certfile=`, `ca_certs=`, `cert_reqs=` on the command line | `rwsgi gevent --keyfile F --certfile F [--ca-certs F] [--cert-reqs N]` (pywsgi's `-b` command line has none) |
//!
//! TLS: any of `keyfile=`, `certfile=`, `ca_certs=`, `cert_reqs=` makes the
//! server speak TLS (gevent's `ssl_enabled`), mapped onto
//! [`Config::tls`](rwsgi_core::Config::tls); both files are then required,
//! and `cert_reqs` is 0, 1 or 2 (`ssl.CERT_NONE`, `CERT_OPTIONAL`,
//! `CERT_REQUIRED`). `wsgi.url_scheme` is `https`, as pywsgi sets it. The
//! other `ssl.wrap_socket` arguments gevent passes on — `ssl_version`,
//! `ciphers`, `do_handshake_on_connect`, `suppress_ragged_eofs` — and
//! `ssl_context=` are not offered: rustls negotiates TLS 1.2 or 1.3, picks
//! its cipher suites, and always handshakes on accept.
//!
//! ## pywsgi's behaviour kept
//!
//! * environ: `GATEWAY_INTERFACE` `CGI/1.1`, `SERVER_SOFTWARE`
//!   ([`SERVER_SOFTWARE`]), `REMOTE_ADDR` and `REMOTE_PORT`,
//!   `wsgi.input_terminated` true, `environ=` keys (request keys win);
//! * header names containing `_` are dropped;
//! * a request line of [`MAX_REQUEST_LINE`] (8 192) bytes or more, CRLF
//!   included, is answered 414; more than 100 header fields, or one longer
//!   than 65 536 bytes, is refused;
//! * no `Server` header; no keep-alive, header or body timeout;
//! * the access log, `client - - [YYYY-MM-DD HH:MM:SS] "request line"
//!   status length seconds` ([`format_request`]), to standard error unless
//!   `log=None`;
//! * `Pool(n)`: while `n` connections are open the server does not accept,
//!   and connections wait in the backlog (256) — nothing is refused;
//! * `stop(timeout)`: the listener closes, handlers get `timeout` (1 s by
//!   default) to finish, then what is open is closed.
//!
//! ## Where it differs from gevent, and why
//!
//! * `SERVER_NAME`/`SERVER_PORT` come from `Host` (rwsgi's gateway, as
//!   PEP 3333's URL reconstruction wants), not `getfqdn()` of the bound
//!   address.
//! * Bad requests are answered by rwsgi's one error table (431 for too many
//!   or too long headers where pywsgi answers 400; 505, 501, 413 …), and
//!   refused requests are not access-logged (pywsgi logs its 400/414).
//! * The logged length is the head plus the body; chunked framing is not
//!   counted (pywsgi counts every byte written), and the head is rebuilt
//!   with the status code's standard reason phrase.
//! * `stop()` closes idle keep-alive connections at once and, with the
//!   default `spawn`, also waits `timeout` then closes (gevent without a
//!   pool leaves handlers running); the process's loop ends with `stop`.
//! * pywsgi adds `Connection: Keep-Alive`/`Close` to every HTTP/1.0
//!   response; rwsgi only says `keep-alive` when it keeps the connection.
//! * TLS files are read, parsed and matched (key to certificate) when the
//!   server starts, before it binds, and a wrong one stops it with an
//!   error naming the file (gevent fails each handshake instead); a TLS
//!   request's environ also has `HTTPS=on`; a handshake not done in 10 s
//!   is cut.

#![warn(missing_docs)]

mod cli;
mod log;
mod server;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use rwsgi_core::{Application, Config, Shape, Shaped, SharedApp};

pub use log::{PywsgiLog, format_request, head_length};
pub use server::{
    Address, DEFAULT_BACKLOG, DEFAULT_STOP_TIMEOUT, GEVENT_VERSION, KEEP_ALIVE_FOREVER, MAX_REQUEST_LINE,
    Pool, SERVER_SOFTWARE, Spawn, WsgiServer, configure, configure_backend,
};

/// Runs `rwsgi gevent …`; `args[0]` is the program name. Exit status: 0,
/// 1 on a run-time failure, 2 on a usage error, 4 when the application's
/// factory fails.
pub fn main(
    registry: rwsgi_core::Registry,
    backends: &dyn rwsgi_core::Backends,
    args: Vec<OsString>,
) -> ExitCode {
    cli::main(registry, backends, args)
}

/// The suite adapter: backend `S` configured the gevent way — one loop
/// (`io_threads = 1`, greenlets on the hub), `max_connections` as the
/// pool, the application called as pywsgi calls it (`GATEWAY_INTERFACE`
/// added).
///
/// Every other field of the [`Config`] is honoured as given; pywsgi's own
/// defaults (no `Server` header, the 8 192-byte request line, no timeouts,
/// the access log) are what [`WsgiServer`] starts from, not this adapter,
/// so that the shared suite can set each field.
pub type Personality<S> = Shaped<S, Gevent>;

/// pywsgi's shape (see [`Personality`]).
pub struct Gevent;

impl Shape for Gevent {
    fn config(mut config: Config) -> Config {
        config.io_threads = 1;
        config
    }

    fn app(app: SharedApp) -> impl Application {
        server::PywsgiApp {
            app,
            environ: Arc::new(Vec::new()),
        }
    }
}
