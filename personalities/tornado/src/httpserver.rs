//! `tornado.httpserver.HTTPServer`: the options, and the three ways to
//! start it (`listen`; `bind` + `start(n)`; `add_sockets`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rwsgi_core::tls::{ClientAuth, TlsConfig};
use rwsgi_core::{AccessLog, Addr, Bind, Config, Engine, Launch, Listener, ServerHandle, SharedApp};

use crate::ioloop::IoLoop;
use crate::netutil::{Listen, bind_sockets};
use crate::process;
use crate::wsgi::{ContainerApp, RequestOptions, WsgiContainer};

/// tornado's `max_buffer_size` default: 100 MiB.
pub const DEFAULT_MAX_BUFFER_SIZE: u64 = 104_857_600;
/// tornado's `max_header_size` default: 64 KiB.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 65_536;
/// tornado's `idle_connection_timeout` default: 3600 s.
pub const DEFAULT_IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// `ssl_options`: the keys of tornado's dict form
/// (`ssl_options={"certfile": ..., "keyfile": ...}`), which are
/// `ssl.wrap_socket`'s arguments. With them every socket of the server
/// speaks TLS and `wsgi.url_scheme` is `https` (unless
/// [`protocol`](HttpServerOptions::protocol) says otherwise, as in
/// tornado).
///
/// ```
/// use rwsgi_tornado::SslOptions;
/// // ssl_options={"certfile": "cert.pem", "keyfile": "key.pem",
/// //              "ca_certs": "clients.pem", "cert_reqs": ssl.CERT_REQUIRED}
/// let options = SslOptions::new("cert.pem", "key.pem").ca_certs("clients.pem").cert_reqs(2);
/// assert_eq!(options.tls()?.client_ca_file.as_deref(), Some("clients.pem".as_ref()));
/// # Ok::<(), String>(())
/// ```
///
/// An `ssl.SSLContext` built with `load_cert_chain(certfile, keyfile)`,
/// `load_verify_locations(ca_certs)` and `verify_mode` is the same four
/// settings. The dict's other keys, `ssl_version` and `ciphers` (and a
/// context's other settings), are not offered: rustls negotiates TLS 1.2 or
/// 1.3 and chooses its cipher suites itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SslOptions {
    /// `"certfile"`: the certificate chain, PEM, the server's own first.
    /// Required.
    pub certfile: Option<PathBuf>,
    /// `"keyfile"`: its private key, PEM. Required: rwsgi reads the key
    /// from a file of its own (Python also finds it inside `certfile`).
    pub keyfile: Option<PathBuf>,
    /// `"ca_certs"`: CA certificates, PEM, that client certificates must
    /// chain to. Default: none.
    pub ca_certs: Option<PathBuf>,
    /// `"cert_reqs"`: `ssl.CERT_NONE` (0, the default), `CERT_OPTIONAL`
    /// (1) or `CERT_REQUIRED` (2).
    pub cert_reqs: u8,
}

impl SslOptions {
    /// `{"certfile": certfile, "keyfile": keyfile}`.
    pub fn new(certfile: impl Into<PathBuf>, keyfile: impl Into<PathBuf>) -> Self {
        SslOptions {
            certfile: Some(certfile.into()),
            keyfile: Some(keyfile.into()),
            ..SslOptions::default()
        }
    }

    /// `"ca_certs"`.
    #[must_use]
    pub fn ca_certs(mut self, file: impl Into<PathBuf>) -> Self {
        self.ca_certs = Some(file.into());
        self
    }

    /// `"cert_reqs"`: 0, 1 or 2.
    #[must_use]
    pub fn cert_reqs(mut self, cert_reqs: u8) -> Self {
        self.cert_reqs = cert_reqs;
        self
    }

    /// The TLS settings they map onto (the files are read when the server
    /// starts; [`HttpServer::listen`] checks them first).
    ///
    /// # Errors
    ///
    /// No `certfile` (tornado: `missing key "certfile" in ssl_options`), a
    /// certificate without its key or the reverse, a `cert_reqs` other
    /// than 0, 1 or 2.
    pub fn tls(&self) -> Result<TlsConfig, String> {
        let auth = ClientAuth::from_cert_reqs(self.cert_reqs).map_err(|e| format!("ssl_options: {e}"))?;
        let (_, tls) = rwsgi_core::tls::from_flags(
            &[],
            self.certfile.as_deref(),
            self.keyfile.as_deref(),
            self.ca_certs.as_deref(),
            auth,
        )
        .map_err(|e| format!("ssl_options: {e}"))?;
        tls.ok_or_else(|| "missing key \"certfile\" in ssl_options (--certfile)".into())
    }

    /// The options that stand for `tls` (what a [`Config`] can say of them).
    fn from_tls(tls: &TlsConfig) -> Self {
        SslOptions {
            certfile: Some(tls.cert_file.clone()),
            keyfile: Some(tls.key_file.clone()),
            ca_certs: tls.client_ca_file.clone(),
            cert_reqs: match tls.client_auth {
                ClientAuth::None => 0,
                ClientAuth::Optional => 1,
                ClientAuth::Required => 2,
            },
        }
    }
}

/// The `HTTPServer(...)` keyword arguments, with tornado's defaults.
#[derive(Clone, Debug)]
pub struct HttpServerOptions {
    /// `xheaders`: believe `X-Real-Ip`/`X-Forwarded-For` and
    /// `X-Scheme`/`X-Forwarded-Proto`. Default: false.
    pub xheaders: bool,
    /// `trusted_downstream`: proxies skipped (from the right) in
    /// `X-Forwarded-For`. Default: none.
    pub trusted_downstream: HashSet<String>,
    /// `protocol`: the scheme of every request (`https` behind a TLS
    /// terminator). Default: none (`https` with `ssl_options`, else
    /// `http`).
    pub protocol: Option<Cow<'static, str>>,
    /// `ssl_options`: TLS on every socket of the server. Default: none.
    pub ssl_options: Option<SslOptions>,
    /// `no_keep_alive`: one request per connection. Default: false.
    pub no_keep_alive: bool,
    /// `max_buffer_size`: the most a request body may hold in memory, and
    /// `max_body_size`'s default. Default: 100 MiB.
    pub max_buffer_size: u64,
    /// `max_header_size`: the longest request head. Default: 64 KiB.
    pub max_header_size: usize,
    /// `max_body_size`: the largest request body. Default:
    /// `max_buffer_size`.
    pub max_body_size: Option<u64>,
    /// `idle_connection_timeout`: how long a connection may wait for a
    /// request head (idle keep-alive time included). Default: 3600 s.
    pub idle_connection_timeout: Duration,
    /// `body_timeout`: how long reading a request body may wait. Default:
    /// none.
    pub body_timeout: Option<Duration>,
    /// `decompress_request`: inflate `Content-Encoding: gzip` request
    /// bodies. Default: false.
    pub decompress_request: bool,
}

impl Default for HttpServerOptions {
    fn default() -> Self {
        HttpServerOptions {
            xheaders: false,
            trusted_downstream: HashSet::new(),
            protocol: None,
            ssl_options: None,
            no_keep_alive: false,
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_body_size: None,
            idle_connection_timeout: DEFAULT_IDLE_CONNECTION_TIMEOUT,
            body_timeout: None,
            decompress_request: false,
        }
    }
}

impl HttpServerOptions {
    /// The options a [`Config`] expresses: what the suite adapter
    /// ([`Personality`](crate::Personality)) runs with.
    pub fn from_config(config: &Config) -> Self {
        HttpServerOptions {
            no_keep_alive: config.keep_alive.is_zero(),
            max_header_size: config.limit_request_head,
            max_body_size: config.limit_request_body,
            idle_connection_timeout: config.keep_alive,
            body_timeout: config.body_read_timeout,
            ssl_options: config.tls.as_ref().map(SslOptions::from_tls),
            ..HttpServerOptions::default()
        }
    }

    pub(crate) fn request_options(&self) -> RequestOptions {
        RequestOptions {
            xheaders: self.xheaders.then(|| self.trusted_downstream.clone()),
            protocol: self.protocol.clone(),
            decompress: self.decompress_request.then_some(self.max_buffer_size),
        }
    }

    /// The TLS settings `ssl_options` map onto, if any.
    ///
    /// # Errors
    ///
    /// As [`SslOptions::tls`].
    pub fn tls(&self) -> Result<Option<TlsConfig>, String> {
        self.ssl_options.as_ref().map(SslOptions::tls).transpose()
    }

    /// The backend configuration for these options: one event loop, no
    /// connection limit, tornado's timeouts and limits, TLS from
    /// `ssl_options`.
    ///
    /// # Errors
    ///
    /// `InvalidInput`: `ssl_options` that do not make TLS settings
    /// ([`SslOptions::tls`]). The files are not read here.
    pub fn config(&self, container: &WsgiContainer) -> io::Result<Config> {
        let idle = if self.idle_connection_timeout.is_zero() {
            DEFAULT_IDLE_CONNECTION_TIMEOUT // tornado: `idle_connection_timeout or 3600`
        } else {
            self.idle_connection_timeout
        };
        let mut config = Config::default();
        config.io_threads = 1;
        config.dispatch = container.dispatch();
        config.keep_alive = if self.no_keep_alive { Duration::ZERO } else { idle };
        config.header_read_timeout = Some(idle);
        config.body_read_timeout = self.body_timeout;
        config.write_timeout = None;
        config.max_connections = usize::MAX;
        // tornado bounds a head only by `max_header_size`. rwsgi also caps
        // the field count at 100 (gunicorn's and pywsgi's figure): without
        // a count, the hyper engine sizes its header index for 4 096 fields,
        // which costs about 7 KiB more per idle connection.
        config.limit_request_line = 0;
        config.limit_request_fields = 100;
        config.limit_request_field_size = 0;
        config.limit_request_head = if self.max_header_size == 0 {
            DEFAULT_MAX_HEADER_SIZE // `max_header_size or 65536`
        } else {
            self.max_header_size
        };
        config.limit_request_body = Some(self.max_body_size.unwrap_or(self.max_buffer_size));
        config.permit_unconventional_http_method = true;
        config.server_header = container.server_header.clone();
        config.server_software = None;
        config.access_log = container
            .access_log
            .clone()
            .filter(|l| l.is_enabled())
            .map(|l| Arc::new(l) as Arc<dyn AccessLog>);
        config.tls = self.tls().map_err(invalid_input)?;
        Ok(config)
    }

    /// Reads the TLS files `ssl_options` name, to refuse wrong ones before
    /// anything is bound (tornado checks that they exist when the server
    /// is made; rwsgi also parses them and matches the key).
    ///
    /// # Errors
    ///
    /// `InvalidInput`: as [`config`](Self::config), or the error naming
    /// the file that is wrong.
    pub fn check_tls(&self) -> io::Result<()> {
        let Some(tls) = self.tls().map_err(invalid_input)? else {
            return Ok(());
        };
        let mut config = Config::default();
        config.tls = Some(tls);
        rwsgi_core::tls::load_for(&config).map(drop)
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// `tornado.httpserver.HTTPServer`: a single-threaded HTTP server on the
/// current [`IoLoop`].
///
/// ```no_run
/// use rwsgi_tornado::{HttpServer, IoLoop, WsgiContainer};
/// # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
/// # fn main() -> std::io::Result<()> {
/// # let backends: &dyn rwsgi_core::Backends = todo!();
/// HttpServer::new(WsgiContainer::new(app)).xheaders(true).listen(8888)?;
/// IoLoop::current().start_on(backends)?;
/// # Ok(()) }
/// ```
///
/// Cloning it gives another handle to the same server (for
/// [`stop`](Self::stop) from another thread).
#[derive(Clone)]
pub struct HttpServer {
    container: WsgiContainer,
    options: HttpServerOptions,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Sockets bound by `bind` and not yet started.
    pending: Vec<Listener>,
    /// Where it listens.
    addrs: Vec<Addr>,
    started: bool,
    forked: bool,
    /// The running server's handle.
    handle: Option<ServerHandle>,
    /// A stop asked for before the server was running.
    stop: Option<Duration>,
}

impl HttpServer {
    /// `HTTPServer(container)` with tornado's defaults.
    pub fn new(container: WsgiContainer) -> Self {
        HttpServer::with_options(container, HttpServerOptions::default())
    }

    /// `HTTPServer(container, **options)`.
    pub fn with_options(container: WsgiContainer, options: HttpServerOptions) -> Self {
        HttpServer {
            container,
            options,
            shared: Arc::default(),
        }
    }

    /// `xheaders=`.
    #[must_use]
    pub fn xheaders(mut self, xheaders: bool) -> Self {
        self.options.xheaders = xheaders;
        self
    }

    /// `trusted_downstream=`.
    #[must_use]
    pub fn trusted_downstream<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.trusted_downstream = proxies.into_iter().map(Into::into).collect();
        self
    }

    /// `protocol=`.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<Cow<'static, str>>) -> Self {
        self.options.protocol = Some(protocol.into());
        self
    }

    /// `no_keep_alive=`.
    #[must_use]
    pub fn no_keep_alive(mut self, no_keep_alive: bool) -> Self {
        self.options.no_keep_alive = no_keep_alive;
        self
    }

    /// `max_buffer_size=`.
    #[must_use]
    pub fn max_buffer_size(mut self, bytes: u64) -> Self {
        self.options.max_buffer_size = bytes;
        self
    }

    /// `max_header_size=`.
    #[must_use]
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.options.max_header_size = bytes;
        self
    }

    /// `max_body_size=`.
    #[must_use]
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.options.max_body_size = Some(bytes);
        self
    }

    /// `idle_connection_timeout=`.
    #[must_use]
    pub fn idle_connection_timeout(mut self, timeout: Duration) -> Self {
        self.options.idle_connection_timeout = timeout;
        self
    }

    /// `body_timeout=`.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.options.body_timeout = Some(timeout);
        self
    }

    /// `decompress_request=`.
    #[must_use]
    pub fn decompress_request(mut self, decompress: bool) -> Self {
        self.options.decompress_request = decompress;
        self
    }

    /// `ssl_options=`: TLS on every socket of the server.
    ///
    /// ```no_run
    /// use rwsgi_tornado::{HttpServer, SslOptions, WsgiContainer};
    /// # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
    /// # fn main() -> std::io::Result<()> {
    /// // HTTPServer(WSGIContainer(app), ssl_options={"certfile": "cert.pem", "keyfile": "key.pem"})
    /// let server = HttpServer::new(WsgiContainer::new(app)).ssl_options(SslOptions::new("cert.pem", "key.pem"));
    /// server.listen(443)?; // reads and checks the files first
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn ssl_options(mut self, options: SslOptions) -> Self {
        self.options.ssl_options = Some(options);
        self
    }

    /// The options.
    pub fn options(&self) -> &HttpServerOptions {
        &self.options
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `listen(port, address=None, backlog=128, reuse_port=False)`: binds
    /// now and serves on the current thread's [`IoLoop`] once it starts.
    /// Can be called again to listen on more ports.
    ///
    /// ```no_run
    /// # use rwsgi_tornado::{HttpServer, Listen, WsgiContainer};
    /// # fn demo(server: HttpServer) -> std::io::Result<()> {
    /// server.listen(8888)?; // every interface
    /// server.listen((8889, "127.0.0.1"))?;
    /// server.listen(Listen::new(8890).reuse_port(true))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When the address cannot be bound; `InvalidInput` when
    /// [`ssl_options`](Self::ssl_options) are wrong (checked before
    /// binding, the error naming the file).
    pub fn listen(&self, listen: impl Into<Listen>) -> io::Result<()> {
        self.options.check_tls()?;
        let listeners = bind_sockets(&listen.into())?;
        self.register(listeners)
    }

    /// `add_sockets(sockets)`: serves already-bound listening sockets (from
    /// [`bind_sockets`](crate::bind_sockets), a parent process, systemd) on
    /// the current thread's [`IoLoop`].
    ///
    /// # Errors
    ///
    /// When a socket's address cannot be read; `InvalidInput` when
    /// [`ssl_options`](Self::ssl_options) are wrong.
    pub fn add_sockets(&self, listeners: Vec<Listener>) -> io::Result<()> {
        self.options.check_tls()?;
        self.register(listeners)
    }

    /// Serves `listeners` on the current thread's loop, `ssl_options`
    /// checked already.
    pub(crate) fn register(&self, listeners: Vec<Listener>) -> io::Result<()> {
        self.remember_addrs(&listeners)?;
        self.state().started = true;
        IoLoop::current().add_sockets(self, listeners);
        Ok(())
    }

    /// `add_socket(socket)`.
    ///
    /// # Errors
    ///
    /// As [`add_sockets`](Self::add_sockets).
    pub fn add_socket(&self, listener: Listener) -> io::Result<()> {
        self.add_sockets(vec![listener])
    }

    /// `bind(port, ...)`: binds now, to serve after [`start`](Self::start).
    /// **Deprecated upstream since tornado 6.2** ("use either `listen()` or
    /// `add_sockets()` instead of `bind()` and `start()`"), kept because
    /// `bind` + `start(n)` is how many deployments fork workers.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound; `InvalidInput` when
    /// [`ssl_options`](Self::ssl_options) are wrong.
    pub fn bind(&self, listen: impl Into<Listen>) -> io::Result<()> {
        self.options.check_tls()?;
        self.add_pending(bind_sockets(&listen.into())?)
    }

    /// Sockets to serve once [`start`](Self::start) is called (what
    /// [`bind`](Self::bind) does with the sockets it binds).
    pub(crate) fn add_pending(&self, listeners: Vec<Listener>) -> io::Result<()> {
        self.remember_addrs(&listeners)?;
        self.state().pending.extend(listeners);
        Ok(())
    }

    /// `start(num_processes)`: forks `num_processes` processes (0: one per
    /// CPU; 1: none) that share the sockets [`bind`](Self::bind) bound, and
    /// serves them on the current [`IoLoop`] of each. The parent process
    /// never returns: it watches the children (see [`crate::process`]).
    /// **Deprecated upstream since tornado 6.2**, as `bind`.
    ///
    /// Must be called while the process has one thread.
    ///
    /// # Errors
    ///
    /// When the server was started already, or forking is refused.
    pub fn start(&self, num_processes: usize) -> io::Result<()> {
        self.start_with_restarts(num_processes, None)
    }

    /// `start(num_processes, max_restarts)`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_with_restarts(&self, num_processes: usize, max_restarts: Option<usize>) -> io::Result<()> {
        let listeners = {
            let mut state = self.state();
            if state.started {
                return Err(io::Error::other("the server was started already"));
            }
            state.started = true;
            std::mem::take(&mut state.pending)
        };
        if num_processes != 1 {
            process::fork_processes(num_processes, max_restarts)?;
            self.state().forked = true;
        }
        IoLoop::current().add_sockets(self, listeners);
        Ok(())
    }

    /// Where it listens (known once bound).
    pub fn local_addrs(&self) -> Vec<Addr> {
        self.state().addrs.clone()
    }

    /// The running server's handle (counters, shutdown), once its loop has
    /// started it.
    pub fn handle(&self) -> Option<ServerHandle> {
        self.state().handle.clone()
    }

    /// `stop()`: stops accepting; requests in progress continue (up to
    /// `idle_connection_timeout`), idle connections close. The loop's
    /// [`start`](IoLoop::start) returns once every server on it has stopped.
    pub fn stop(&self) {
        let idle = self.options.idle_connection_timeout;
        self.shutdown(if idle.is_zero() {
            DEFAULT_IDLE_CONNECTION_TIMEOUT
        } else {
            idle
        });
    }

    /// Stops as [`stop`](Self::stop), but closes whatever is still open
    /// after `grace` (rwsgi's graceful shutdown; tornado leaves that to the
    /// application).
    pub fn shutdown(&self, grace: Duration) {
        let mut state = self.state();
        match &state.handle {
            Some(handle) => handle.shutdown(grace),
            None => state.stop = Some(state.stop.map_or(grace, |g| g.min(grace))),
        }
    }

    fn remember_addrs(&self, listeners: &[Listener]) -> io::Result<()> {
        let addrs = listeners
            .iter()
            .map(Listener::local_addr)
            .collect::<io::Result<Vec<_>>>()?;
        self.state().addrs.extend(addrs);
        Ok(())
    }

    pub(crate) fn same(&self, other: &HttpServer) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The backend configuration.
    ///
    /// # Errors
    ///
    /// As [`HttpServerOptions::config`].
    pub fn config(&self) -> io::Result<Config> {
        let mut config = self.options.config(&self.container)?;
        let state = self.state();
        config.multiprocess = state.forked;
        let binds: Vec<Bind> = state.addrs.iter().filter_map(Addr::to_bind).collect();
        if !binds.is_empty() {
            config.binds = binds;
        }
        Ok(config)
    }

    /// What the backend is started with; `on_ready` is told the handle.
    pub(crate) fn launch(
        &self,
        listeners: Vec<Listener>,
        engine: Option<Engine>,
        on_ready: impl FnOnce(&ServerHandle) + Send + 'static,
    ) -> io::Result<Launch> {
        let mut config = self.config()?;
        config.engine = engine;
        let app = SharedApp::new(ContainerApp {
            app: self.container.app.clone(),
            options: self.options.request_options(),
        });
        let shared = Arc::clone(&self.shared);
        let mut launch = Launch::new(config, app);
        launch.listeners = Some(listeners);
        launch.ready = Some(Box::new(move |handle: &ServerHandle, _addrs: &[Addr]| {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.handle = Some(handle.clone());
            if let Some(grace) = state.stop.take() {
                handle.shutdown(grace);
            }
            drop(state);
            on_ready(handle);
        }));
        Ok(launch)
    }

    /// Forgets the handle once the server has returned.
    pub(crate) fn finished(&self) {
        self.state().handle = None;
    }
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("options", &self.options)
            .field("addrs", &self.local_addrs())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_core::{Body, Dispatch, Environ, StartResponse};

    fn app(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::empty())
    }

    #[test]
    fn defaults_are_tornados() {
        let config = HttpServer::new(WsgiContainer::new(app)).config().unwrap();
        assert_eq!(config.io_threads, 1);
        assert_eq!(config.tls, None);
        assert_eq!(config.dispatch, Dispatch::Inline);
        assert_eq!(config.keep_alive, Duration::from_secs(3600));
        assert_eq!(config.header_read_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(config.limit_request_head, 65_536);
        assert_eq!(config.limit_request_body, Some(100 * 1024 * 1024));
        assert_eq!(config.body_read_timeout, None);
        assert_eq!(config.server_header.as_deref(), Some("TornadoServer/6.5"));
        assert!(!config.multithread());

        let config = HttpServer::new(WsgiContainer::with_executor(
            app,
            crate::ThreadPoolExecutor::new(4),
        ))
        .no_keep_alive(true)
        .max_body_size(10)
        .idle_connection_timeout(Duration::ZERO)
        .config()
        .unwrap();
        assert_eq!(config.dispatch, Dispatch::ThreadPool { min: 0, max: 4 });
        assert_eq!(config.keep_alive, Duration::ZERO);
        assert_eq!(config.header_read_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(config.limit_request_body, Some(10));
        assert!(config.multithread());
    }

    #[test]
    fn ssl_options_map_onto_tls() {
        let server = HttpServer::new(WsgiContainer::new(app)).ssl_options(
            SslOptions::new("cert.pem", "key.pem")
                .ca_certs("ca.pem")
                .cert_reqs(1),
        );
        let tls = server.config().unwrap().tls.expect("TLS");
        assert_eq!(tls.cert_file, PathBuf::from("cert.pem"));
        assert_eq!(tls.key_file, PathBuf::from("key.pem"));
        assert_eq!(tls.client_ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(tls.client_auth, ClientAuth::Optional);
        assert_eq!(tls.listeners, rwsgi_core::tls::TlsListeners::All);
        let mut config = Config::default();
        config.tls = Some(tls);
        assert_eq!(
            HttpServerOptions::from_config(&config).ssl_options,
            Some(
                SslOptions::new("cert.pem", "key.pem")
                    .ca_certs("ca.pem")
                    .cert_reqs(1)
            )
        );
        let required = SslOptions::new("c", "k").cert_reqs(2).tls().unwrap();
        assert_eq!(required.client_auth, ClientAuth::Required);
    }

    #[test]
    fn incomplete_ssl_options_are_refused() {
        let refused = |options: SslOptions| {
            let server = HttpServer::new(WsgiContainer::new(app)).ssl_options(options);
            let err = server.config().expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            // Nothing is bound when the options are wrong.
            let listened = server.listen((0, "127.0.0.1")).expect_err("refused");
            assert_eq!(listened.kind(), io::ErrorKind::InvalidInput);
            assert!(server.local_addrs().is_empty());
            err.to_string()
        };
        let cert_only = SslOptions {
            certfile: Some("cert.pem".into()),
            ..SslOptions::default()
        };
        assert!(refused(cert_only).contains("--keyfile"));
        let key_only = SslOptions {
            keyfile: Some("key.pem".into()),
            ..SslOptions::default()
        };
        assert!(refused(key_only).contains("--certfile"));
        assert!(refused(SslOptions::default()).contains("missing key \"certfile\""));
        assert!(refused(SslOptions::new("c", "k").cert_reqs(3)).contains("cert-reqs 3"));
    }
}
