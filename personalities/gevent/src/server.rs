//! `gevent.pywsgi.WSGIServer`: listener forms, `spawn`, `start`,
//! `serve_forever`, `stop(timeout)`.

use std::borrow::Cow;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rwsgi_core::tls::{ClientAuth, TlsConfig};
use rwsgi_core::{
    AccessLog, Addr, Application, Backends, Bind, Body, BoxError, Config, Dispatch, Engine, Environ,
    ErrorLog, Errors, Launch, Listener, ServerHandle, SharedApp, StartResponse, UnderscoreHeaders,
};
use socket2::{Domain, Socket, Type};

use crate::log::PywsgiLog;

/// The gevent release whose behaviour this personality follows.
pub const GEVENT_VERSION: &str = "25.8";

/// `SERVER_SOFTWARE`: pywsgi's `gevent/X.Y Python/X.Y`, with rwsgi in
/// Python's place.
pub const SERVER_SOFTWARE: &str = concat!("gevent/25.8 rwsgi/", env!("CARGO_PKG_VERSION"));

/// pywsgi's `MAX_REQUEST_LINE`: a request line of this many bytes or more,
/// CRLF included, is answered 414.
pub const MAX_REQUEST_LINE: usize = 8192;

/// `StreamServer.backlog`.
pub const DEFAULT_BACKLOG: u32 = 256;

/// `BaseServer.stop_timeout`: how long `stop()` waits for handlers.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// pywsgi never times out an idle keep-alive connection; this is "never"
/// for the backend's timers (a year).
pub const KEEP_ALIVE_FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// `gevent.pool.Pool(size)`: at most `size` connections handled at once.
/// While it is full the server does not accept; connections wait in the
/// kernel's backlog until a handler finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    size: usize,
}

impl Pool {
    /// A pool of `size` greenlets (tasks).
    pub fn new(size: usize) -> Self {
        Pool { size }
    }

    /// Its size.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// The `spawn` argument: how each connection's handler is started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spawn {
    /// `spawn='default'`: a new task per connection, no limit.
    #[default]
    Default,
    /// `spawn=Pool(n)` or `spawn=n`: a bounded pool.
    Pool(Pool),
}

impl From<Pool> for Spawn {
    fn from(pool: Pool) -> Self {
        Spawn::Pool(pool)
    }
}

/// `spawn=n`: a shortcut for `Pool(n)`.
impl From<usize> for Spawn {
    fn from(size: usize) -> Self {
        Spawn::Pool(Pool::new(size))
    }
}

/// The `listener` argument: an address tuple, an address string, a port,
/// or an already-bound socket — parsed by gevent's `parse_address` rules.
///
/// | given | binds |
/// |---|---|
/// | `("", 8080)` | every interface, IPv6 and IPv4 (one dual-stack socket) |
/// | `("127.0.0.1", 8080)`, `("::1", 8080)` | that address (IPv6 if it contains `:`) |
/// | `":8080"`, `"*:8080"` | every IPv4 interface |
/// | `"8080"`, `8080u16` | every interface, IPv6 and IPv4 |
/// | `"host:8080"`, `"[::1]:8080"` | that address |
/// | a `std::net::TcpListener` or [`Listener`] | that socket, as it is |
#[derive(Debug)]
pub enum Address {
    /// `(host, port)`.
    Tuple(String, u16),
    /// An address string.
    Str(String),
    /// A bare port.
    Port(u16),
    /// An already bound, listening socket.
    Socket(Listener),
}

impl From<(&str, u16)> for Address {
    fn from((host, port): (&str, u16)) -> Self {
        Address::Tuple(host.to_owned(), port)
    }
}

impl From<(String, u16)> for Address {
    fn from((host, port): (String, u16)) -> Self {
        Address::Tuple(host, port)
    }
}

impl From<&str> for Address {
    fn from(address: &str) -> Self {
        Address::Str(address.to_owned())
    }
}

impl From<String> for Address {
    fn from(address: String) -> Self {
        Address::Str(address)
    }
}

impl From<u16> for Address {
    fn from(port: u16) -> Self {
        Address::Port(port)
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tuple(addr.ip().to_string(), addr.port())
    }
}

impl From<std::net::TcpListener> for Address {
    fn from(listener: std::net::TcpListener) -> Self {
        Address::Socket(Listener::Tcp(listener))
    }
}

impl From<Listener> for Address {
    fn from(listener: Listener) -> Self {
        Address::Socket(listener)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// `gevent.baseserver.parse_address`: the family, host and port an
/// address names.
fn parse_address(address: &Address) -> Result<(Family, String, u16), String> {
    let bad = |why: &str| format!("Failed to parse address {address:?}: {why}");
    match address {
        Address::Tuple(host, port) => {
            let family = if host.is_empty() || host.contains(':') {
                Family::V6
            } else {
                Family::V4
            };
            Ok((family, host.clone(), *port))
        }
        Address::Port(port) => Ok((Family::V6, String::new(), *port)),
        Address::Str(text) => match text.rsplit_once(':') {
            None => {
                let port = text.trim().parse().map_err(|_| bad("not a port number"))?;
                Ok((Family::V6, String::new(), port))
            }
            Some((host, port)) => {
                let port = port.trim().parse().map_err(|_| bad("not a port number"))?;
                let (family, host) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                    Some(inner) => (Family::V6, inner),
                    None => (Family::V4, host),
                };
                let host = if host == "*" { "" } else { host };
                Ok((family, host.to_owned(), port))
            }
        },
        Address::Socket(_) => Err(bad("a socket is not an address")),
    }
}

/// `StreamServer.get_listener`: binds as gevent does (`SO_REUSEADDR`; the
/// IPv6 wildcard accepts IPv4 too).
fn bind(address: &Address, backlog: u32) -> io::Result<Listener> {
    let (family, host, port) =
        parse_address(address).map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
    let addr = if host.is_empty() {
        match family {
            Family::V4 => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            Family::V6 => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        }
    } else {
        (host.as_str(), port)
            .to_socket_addrs()?
            .find(|a| a.is_ipv6() == (family == Family::V6))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{host} has no {} address",
                        if family == Family::V6 { "IPv6" } else { "IPv4" }
                    ),
                )
            })?
    };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket
        .bind(&addr.into())
        .map_err(|err| io::Error::new(err.kind(), format!("{err}: {addr}")))?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(Listener::Tcp(socket.into()))
}

/// The backends [`WsgiServer::start`] and [`WsgiServer::serve_forever`]
/// run on, once [`configure`]d.
struct LoopImpl {
    backends: Arc<dyn Backends>,
    backend: Option<String>,
    engine: Option<Engine>,
}

static CONFIGURED: RwLock<Option<LoopImpl>> = RwLock::new(None);

/// Installs the backends servers run on (gevent's `config.loop` picks the
/// hub's loop the same way): the preferred one, its default engine.
pub fn configure(backends: impl Backends + 'static) {
    *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(LoopImpl {
        backends: Arc::new(backends),
        backend: None,
        engine: None,
    });
}

/// As [`configure`], naming the backend and engine.
///
/// # Errors
///
/// A backend or engine the backends do not have.
pub fn configure_backend(
    backends: impl Backends + 'static,
    backend: Option<&str>,
    engine: Option<Engine>,
) -> Result<(), String> {
    backends.choose(backend, engine)?;
    *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(LoopImpl {
        backends: Arc::new(backends),
        backend: backend.map(str::to_owned),
        engine,
    });
    Ok(())
}

type Chosen = (Arc<dyn Backends>, Option<String>, Option<Engine>);

fn configured() -> io::Result<Chosen> {
    let configured = CONFIGURED.read().unwrap_or_else(|e| e.into_inner());
    let chosen = configured.as_ref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no backends configured: call rwsgi_gevent::configure(rwsgi::backends::Compiled) first, \
             or use serve_forever_on / start_with",
        )
    })?;
    Ok((
        Arc::clone(&chosen.backends),
        chosen.backend.clone(),
        chosen.engine,
    ))
}

/// `_NoopLog`: `error_log=None`.
struct NoopLog;

impl ErrorLog for NoopLog {
    fn write(&self, _text: &str) {}

    fn enabled(&self, _level: rwsgi_core::Level) -> bool {
        false
    }
}

/// The `**ssl_args` pywsgi passes to `ssl.wrap_socket` (those rwsgi
/// honours). Giving any of them asks for TLS, as in gevent.
#[derive(Clone, Debug, Default)]
struct SslArgs {
    keyfile: Option<PathBuf>,
    certfile: Option<PathBuf>,
    ca_certs: Option<PathBuf>,
    cert_reqs: u8,
}

impl SslArgs {
    fn tls(&self) -> Result<TlsConfig, String> {
        let auth = ClientAuth::from_cert_reqs(self.cert_reqs)?;
        let (_, tls) = rwsgi_core::tls::from_flags(
            &[],
            self.certfile.as_deref(),
            self.keyfile.as_deref(),
            self.ca_certs.as_deref(),
            auth,
        )?;
        tls.ok_or_else(|| "TLS needs keyfile= and certfile= (--keyfile, --certfile)".into())
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

struct Settings {
    address: Option<Address>,
    bound: Option<Listener>,
    app: SharedApp,
    spawn: Spawn,
    backlog: Option<u32>,
    log: Option<Errors>,
    error_log: Option<Errors>,
    environ: Vec<(String, String)>,
    stop_timeout: Duration,
    threads: Option<usize>,
    ssl: Option<SslArgs>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Starting,
    Running,
    Stopped,
}

#[derive(Default)]
struct Run {
    phase: Phase,
    handle: Option<ServerHandle>,
    addrs: Vec<Addr>,
    /// A stop asked for before the server was running.
    stop: Option<Duration>,
    thread: Option<JoinHandle<()>>,
    /// How a background run ended, if it failed.
    error: Option<io::Error>,
}

#[derive(Default)]
struct RunState {
    run: Mutex<Run>,
    changed: Condvar,
}

impl RunState {
    fn lock(&self) -> MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_while(&self, mut cond: impl FnMut(&Run) -> bool) -> MutexGuard<'_, Run> {
        self.changed
            .wait_while(self.lock(), |run| cond(run))
            .unwrap_or_else(|e| e.into_inner())
    }

    fn finished(&self, result: io::Result<()>) {
        let mut run = self.lock();
        run.phase = Phase::Stopped;
        run.handle = None;
        if let Err(err) = result {
            run.error = Some(err);
        }
        drop(run);
        self.changed.notify_all();
    }

    fn begin_stop(&self, grace: Duration) {
        let mut run = self.lock();
        match run.phase {
            Phase::Running => {
                if let Some(handle) = &run.handle {
                    handle.shutdown(grace);
                }
            }
            Phase::Starting => run.stop = Some(run.stop.map_or(grace, |g| g.min(grace))),
            Phase::Idle | Phase::Stopped => {}
        }
    }

    /// Waits for a run to end and joins its thread.
    fn wait_stopped(&self) {
        let mut run = self.wait_while(|run| matches!(run.phase, Phase::Starting | Phase::Running));
        let thread = run.thread.take();
        drop(run);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

struct Inner {
    settings: Mutex<Settings>,
    run: Arc<RunState>,
}

impl Drop for Inner {
    /// The context manager's `__exit__`: a started server is stopped (with
    /// `stop_timeout`) when the last handle to it goes.
    fn drop(&mut self) {
        let grace = self
            .settings
            .get_mut()
            .map_or(DEFAULT_STOP_TIMEOUT, |s| s.stop_timeout);
        self.run.begin_stop(grace);
        self.run.wait_stopped();
    }
}

/// `gevent.pywsgi.WSGIServer`: serves a WSGI application with one task per
/// connection on a single-threaded loop.
///
/// ```no_run
/// use rwsgi_gevent::{Pool, WsgiServer};
/// # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
/// # fn main() -> std::io::Result<()> {
/// # let compiled: &dyn rwsgi_core::Backends = todo!();
/// // WSGIServer(('', 5000), app, spawn=Pool(1000)).serve_forever()
/// WsgiServer::new(("", 5000), app).spawn(Pool::new(1000)).serve_forever_on(compiled)
/// # }
/// ```
///
/// Cloning gives another handle to the same server. When the last handle
/// is dropped, a started server is stopped as [`stop`](Self::stop) does —
/// the analogue of `with WSGIServer(...) as server:`.
#[derive(Clone)]
pub struct WsgiServer {
    inner: Arc<Inner>,
}

impl WsgiServer {
    /// `WSGIServer(listener, application)`: nothing is bound until
    /// [`init_socket`](Self::init_socket), [`start`](Self::start) or
    /// [`serve_forever`](Self::serve_forever).
    pub fn new(listener: impl Into<Address>, app: impl Application) -> Self {
        WsgiServer {
            inner: Arc::new(Inner {
                settings: Mutex::new(Settings {
                    address: Some(listener.into()),
                    bound: None,
                    app: SharedApp::new(app),
                    spawn: Spawn::Default,
                    backlog: None,
                    log: Some(Errors::stderr()),
                    error_log: Some(Errors::stderr()),
                    environ: Vec::new(),
                    stop_timeout: DEFAULT_STOP_TIMEOUT,
                    threads: None,
                    ssl: None,
                }),
                run: Arc::default(),
            }),
        }
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.inner.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `spawn=`: [`Spawn::Default`], a [`Pool`], or a number (a pool of
    /// that size).
    #[must_use]
    pub fn spawn(self, spawn: impl Into<Spawn>) -> Self {
        self.settings().spawn = spawn.into();
        self
    }

    /// `backlog=` (only for an address; a socket keeps its own).
    #[must_use]
    pub fn backlog(self, backlog: u32) -> Self {
        self.settings().backlog = Some(backlog);
        self
    }

    /// `log=`: where the access log goes; `None` disables it. Default:
    /// standard error.
    #[must_use]
    pub fn log(self, log: Option<Errors>) -> Self {
        self.settings().log = log;
        self
    }

    /// `error_log=`: where errors (and `wsgi.errors`) go; `None` discards
    /// them. Default: standard error.
    #[must_use]
    pub fn error_log(self, error_log: Option<Errors>) -> Self {
        self.settings().error_log = error_log;
        self
    }

    /// `environ=`: keys added to every request's environ (the request's own
    /// CGI and `HTTP_*` keys still win, as in pywsgi).
    #[must_use]
    pub fn environ<I, K, V>(self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.settings().environ = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// `stop_timeout`: how long [`stop`](Self::stop) without a timeout
    /// waits (default 1 s).
    #[must_use]
    pub fn stop_timeout(self, timeout: Duration) -> Self {
        self.settings().stop_timeout = timeout;
        self
    }

    /// Runs the application on a pool of `n` threads instead of the loop
    /// (gevent's threadpool; beyond pywsgi, which calls it on the hub).
    #[must_use]
    pub fn threads(self, n: usize) -> Self {
        self.settings().threads = Some(n);
        self
    }

    fn ssl_args(&self, set: impl FnOnce(&mut SslArgs)) {
        set(self.settings().ssl.get_or_insert_with(SslArgs::default));
    }

    /// `keyfile=`: the private key, PEM, of the certificate
    /// [`certfile`](Self::certfile) names. Any of the TLS arguments makes
    /// the server speak TLS, and both files are then required; they are
    /// read and checked when it starts, before it binds.
    ///
    /// ```no_run
    /// use rwsgi_gevent::WsgiServer;
    /// # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
    /// # fn main() -> std::io::Result<()> {
    /// # let compiled: &dyn rwsgi_core::Backends = todo!();
    /// // WSGIServer(('', 8443), app, keyfile='server.key', certfile='server.crt').serve_forever()
    /// WsgiServer::new(("", 8443), app)
    ///     .keyfile("server.key")
    ///     .certfile("server.crt")
    ///     .serve_forever_on(compiled)
    /// # }
    /// ```
    #[must_use]
    pub fn keyfile(self, file: impl Into<PathBuf>) -> Self {
        self.ssl_args(|ssl| ssl.keyfile = Some(file.into()));
        self
    }

    /// `certfile=`: the certificate chain, PEM, the server's own first.
    /// See [`keyfile`](Self::keyfile).
    #[must_use]
    pub fn certfile(self, file: impl Into<PathBuf>) -> Self {
        self.ssl_args(|ssl| ssl.certfile = Some(file.into()));
        self
    }

    /// `ca_certs=`: CA certificates, PEM, that client certificates must
    /// chain to.
    #[must_use]
    pub fn ca_certs(self, file: impl Into<PathBuf>) -> Self {
        self.ssl_args(|ssl| ssl.ca_certs = Some(file.into()));
        self
    }

    /// `cert_reqs=`: `ssl.CERT_NONE` (0, the default), `CERT_OPTIONAL` (1)
    /// or `CERT_REQUIRED` (2).
    #[must_use]
    pub fn cert_reqs(self, cert_reqs: u8) -> Self {
        self.ssl_args(|ssl| ssl.cert_reqs = cert_reqs);
        self
    }

    /// `server.ssl_enabled`: whether TLS arguments were given.
    pub fn ssl_enabled(&self) -> bool {
        self.settings().ssl.is_some()
    }

    /// The TLS settings the `keyfile=`/`certfile=`/`ca_certs=`/`cert_reqs=`
    /// arguments map onto, if any was given.
    ///
    /// # Errors
    ///
    /// A certificate without its key or the reverse, client certificate
    /// settings without either, a `cert_reqs` other than 0, 1 or 2.
    pub fn tls(&self) -> Result<Option<TlsConfig>, String> {
        self.settings().ssl.as_ref().map(SslArgs::tls).transpose()
    }

    /// Reads the TLS files, to refuse a wrong one before binding.
    pub(crate) fn check_tls(&self) -> io::Result<()> {
        let Some(tls) = self.tls().map_err(invalid_input)? else {
            return Ok(());
        };
        let mut config = Config::default();
        config.tls = Some(tls);
        rwsgi_core::tls::load_for(&config).map(drop)
    }

    /// `init_socket()`: binds the listener now (start does it otherwise),
    /// so that [`address`](Self::address) is known.
    ///
    /// # Errors
    ///
    /// An address that does not parse or cannot be bound; a `backlog` given
    /// with a socket.
    pub fn init_socket(&self) -> io::Result<()> {
        let mut settings = self.settings();
        if settings.bound.is_some() {
            return Ok(());
        }
        let address = settings
            .address
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the listener was closed"))?;
        let listener = match address {
            Address::Socket(listener) => {
                if settings.backlog.is_some() {
                    settings.address = Some(Address::Socket(listener));
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "backlog must be None when a socket instance is passed",
                    ));
                }
                if let Listener::Tcp(l) = &listener {
                    l.set_nonblocking(true)?;
                }
                listener
            }
            address => {
                let bound = bind(&address, settings.backlog.unwrap_or(DEFAULT_BACKLOG));
                settings.address = Some(address);
                bound?
            }
        };
        let addr = listener.local_addr()?;
        settings.bound = Some(listener);
        drop(settings);
        self.inner.run.lock().addrs = vec![addr];
        Ok(())
    }

    /// Where it listens, once bound.
    pub fn local_addrs(&self) -> Vec<Addr> {
        self.inner.run.lock().addrs.clone()
    }

    /// `server.address`: the bound TCP address.
    pub fn address(&self) -> Option<SocketAddr> {
        self.local_addrs().into_iter().find_map(|a| match a {
            Addr::Tcp(a) => Some(a),
            Addr::Unix(_) => None,
        })
    }

    /// `server.server_host`.
    pub fn server_host(&self) -> Option<String> {
        self.address().map(|a| a.ip().to_string())
    }

    /// `server.server_port`.
    pub fn server_port(&self) -> Option<u16> {
        self.address().map(|a| a.port())
    }

    /// `server.started`.
    pub fn started(&self) -> bool {
        matches!(self.inner.run.lock().phase, Phase::Starting | Phase::Running)
    }

    /// The running server's handle: live counters (open connections —
    /// the pool's use — and requests served).
    pub fn handle(&self) -> Option<ServerHandle> {
        self.inner.run.lock().handle.clone()
    }

    /// The backend configuration pywsgi's defaults and these settings make.
    ///
    /// # Errors
    ///
    /// `InvalidInput`: TLS arguments that do not make TLS settings (see
    /// [`tls`](Self::tls)); the files are not read here.
    pub fn config(&self) -> io::Result<Config> {
        let tls = self.tls().map_err(invalid_input)?;
        let settings = self.settings();
        let mut config = Config::default();
        let addrs = self.inner.run.lock().addrs.clone();
        let binds: Vec<Bind> = addrs.iter().filter_map(Addr::to_bind).collect();
        if !binds.is_empty() {
            config.binds = binds;
        }
        config.io_threads = 1;
        config.dispatch = match settings.threads {
            Some(n) => Dispatch::ThreadPool { min: 0, max: n },
            None => Dispatch::Inline,
        };
        config.backlog = settings.backlog.unwrap_or(DEFAULT_BACKLOG);
        config.keep_alive = KEEP_ALIVE_FOREVER;
        config.header_read_timeout = None;
        config.body_read_timeout = None;
        config.write_timeout = None;
        config.max_connections = match settings.spawn {
            Spawn::Default => usize::MAX,
            Spawn::Pool(pool) => pool.size,
        };
        config.limit_request_line = MAX_REQUEST_LINE - 3;
        config.limit_request_fields = 100;
        config.limit_request_field_size = 65_536;
        config.limit_request_head = 0;
        config.limit_request_body = None;
        config.underscore_headers = UnderscoreHeaders::Drop;
        config.permit_unconventional_http_method = true;
        config.server_header = None;
        config.server_software = Some(Cow::Borrowed(SERVER_SOFTWARE));
        config.error_log = match &settings.error_log {
            Some(errors) => errors.clone(),
            None => Errors::new(NoopLog),
        };
        config.access_log = settings
            .log
            .clone()
            .map(|sink| Arc::new(PywsgiLog::new(sink)) as Arc<dyn AccessLog>);
        config.tls = tls;
        Ok(config)
    }

    /// Binds if needed and assembles what the backend is started with.
    fn launch(&self, engine: Option<Engine>) -> io::Result<Launch> {
        // Wrong TLS files are refused before binding, naming the file.
        self.check_tls()?;
        self.init_socket()?;
        let mut config = self.config()?;
        config.engine = engine;
        let (listener, app, environ) = {
            let mut settings = self.settings();
            let environ = settings.environ.clone();
            for (key, value) in &environ {
                Environ::new()
                    .set(key, value.clone())
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, format!("environ: {err}")))?;
            }
            let listener = settings
                .bound
                .take()
                .ok_or_else(|| io::Error::other("the listener is gone"))?;
            (listener, settings.app.clone(), environ)
        };
        let app = SharedApp::new(PywsgiApp {
            app,
            environ: Arc::new(environ),
        });
        let run = Arc::clone(&self.inner.run);
        let mut launch = Launch::new(config, app);
        launch.listeners = Some(vec![listener]);
        launch.ready = Some(Box::new(move |handle: &ServerHandle, addrs: &[Addr]| {
            let mut state = run.lock();
            state.handle = Some(handle.clone());
            state.addrs = addrs.to_vec();
            state.phase = Phase::Running;
            if let Some(grace) = state.stop.take() {
                handle.shutdown(grace);
            }
            drop(state);
            run.changed.notify_all();
        }));
        Ok(launch)
    }

    /// Claims the right to run; `false` if a run is on already.
    fn claim(&self) -> bool {
        let mut run = self.inner.run.lock();
        if matches!(run.phase, Phase::Starting | Phase::Running) {
            return false;
        }
        run.phase = Phase::Starting;
        run.error = None;
        true
    }

    fn unclaim(&self) {
        let mut run = self.inner.run.lock();
        run.phase = Phase::Idle;
        run.stop = None;
        drop(run);
        self.inner.run.changed.notify_all();
    }

    /// `serve_forever()`: starts the server if it is not started and
    /// blocks until it is stopped, on the backends given to [`configure`].
    ///
    /// # Errors
    ///
    /// No backends configured; the listener cannot be bound; the backend
    /// cannot start; `InvalidInput` for wrong TLS arguments or files (the
    /// error names the file).
    pub fn serve_forever(&self) -> io::Result<()> {
        let (backends, backend, engine) = configured()?;
        self.serve_forever_with(&*backends, backend.as_deref(), engine)
    }

    /// [`serve_forever`](Self::serve_forever) on `backends`' preferred
    /// backend.
    ///
    /// # Errors
    ///
    /// As [`serve_forever`](Self::serve_forever).
    pub fn serve_forever_on(&self, backends: &dyn Backends) -> io::Result<()> {
        self.serve_forever_with(backends, None, None)
    }

    /// [`serve_forever`](Self::serve_forever) on the backend and engine
    /// named. The loop runs on the calling thread.
    ///
    /// # Errors
    ///
    /// As [`serve_forever`](Self::serve_forever), and an unknown backend or
    /// engine.
    pub fn serve_forever_with(
        &self,
        backends: &dyn Backends,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> io::Result<()> {
        if !self.claim() {
            // Started by `start()`: wait for it to stop.
            self.inner.run.wait_stopped();
            return self.inner.run.lock().error.take().map_or(Ok(()), Err);
        }
        let (name, launch) = self.prepare(backends, backend, engine)?;
        let result = backends.serve(name, launch);
        self.inner.run.finished(Ok(()));
        result
    }

    /// The backend to serve on and what to launch there; on an error the
    /// claim taken by the caller is given back.
    fn prepare(
        &self,
        backends: &dyn Backends,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> io::Result<(&'static str, Launch)> {
        let prepared = backends
            .choose(backend, engine)
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))
            .and_then(|name| Ok((name, self.launch(engine)?)));
        if prepared.is_err() {
            self.unclaim();
        }
        prepared
    }

    /// `start()`: binds and starts serving in the background (on a thread
    /// of its own: the hub), on the backends given to [`configure`].
    ///
    /// # Errors
    ///
    /// As [`serve_forever`](Self::serve_forever).
    pub fn start(&self) -> io::Result<()> {
        let (backends, backend, engine) = configured()?;
        self.start_with(backends, backend.as_deref(), engine)
    }

    /// [`start`](Self::start) on the backend and engine named.
    ///
    /// # Errors
    ///
    /// As [`serve_forever_with`](Self::serve_forever_with).
    pub fn start_with(
        &self,
        backends: Arc<dyn Backends>,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> io::Result<()> {
        if !self.claim() {
            return Ok(());
        }
        let (name, launch) = self.prepare(&*backends, backend, engine)?;
        let run = Arc::clone(&self.inner.run);
        let thread = std::thread::Builder::new()
            .name("gevent-hub".into())
            .spawn(move || {
                let result = backends.serve(name, launch);
                run.finished(result);
            });
        let thread = match thread {
            Ok(thread) => thread,
            Err(err) => {
                self.unclaim();
                return Err(err);
            }
        };
        let mut run = self.inner.run.wait_while(|run| run.phase == Phase::Starting);
        run.thread = Some(thread);
        if run.phase == Phase::Stopped {
            let err = run
                .error
                .take()
                .unwrap_or_else(|| io::Error::other("the server stopped while starting"));
            let thread = run.thread.take();
            drop(run);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
            return Err(err);
        }
        Ok(())
    }

    /// `stop(timeout=None)`: closes the listener, lets the handlers finish
    /// for `timeout` (default [`stop_timeout`](Self::stop_timeout), 1 s),
    /// then closes what is still open; returns once the server has stopped.
    pub fn stop(&self, timeout: Option<Duration>) {
        let grace = timeout.unwrap_or_else(|| self.settings().stop_timeout);
        self.inner.run.begin_stop(grace);
        self.inner.run.wait_stopped();
    }

    /// Begins [`stop`](Self::stop) without waiting (for signal handlers).
    pub fn begin_stop(&self, timeout: Option<Duration>) {
        let grace = timeout.unwrap_or_else(|| self.settings().stop_timeout);
        self.inner.run.begin_stop(grace);
    }
}

impl std::fmt::Debug for WsgiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiServer")
            .field("addrs", &self.local_addrs())
            .field("started", &self.started())
            .finish_non_exhaustive()
    }
}

/// Keys pywsgi's `get_environ` sets from the request, over the server's
/// base environ.
fn from_request(key: &str) -> bool {
    matches!(
        key,
        "REQUEST_METHOD"
            | "SCRIPT_NAME"
            | "PATH_INFO"
            | "QUERY_STRING"
            | "CONTENT_TYPE"
            | "CONTENT_LENGTH"
            | "SERVER_PROTOCOL"
            | "REMOTE_ADDR"
            | "REMOTE_PORT"
            | "wsgi.input"
            | "wsgi.input_terminated"
    ) || key.starts_with("HTTP_")
}

/// The application as pywsgi calls it: with `GATEWAY_INTERFACE` and the
/// server's `environ=` keys added.
pub(crate) struct PywsgiApp {
    pub app: SharedApp,
    pub environ: Arc<Vec<(String, String)>>,
}

impl Application for PywsgiApp {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        environ.set("GATEWAY_INTERFACE", "CGI/1.1")?;
        for (key, value) in self.environ.iter() {
            if !from_request(key) {
                environ.set(key, value.clone())?;
            }
        }
        self.app.call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(address: impl Into<Address>) -> Result<(Family, String, u16), String> {
        parse_address(&address.into())
    }

    #[test]
    fn addresses_parse_as_gevent_parses_them() {
        assert_eq!(parsed(("", 5000)), Ok((Family::V6, String::new(), 5000)));
        assert_eq!(
            parsed(("127.0.0.1", 5000)),
            Ok((Family::V4, "127.0.0.1".into(), 5000))
        );
        assert_eq!(parsed(("::1", 5000)), Ok((Family::V6, "::1".into(), 5000)));
        assert_eq!(parsed(":5000"), Ok((Family::V4, String::new(), 5000)));
        assert_eq!(parsed("*:5000"), Ok((Family::V4, String::new(), 5000)));
        assert_eq!(parsed("5000"), Ok((Family::V6, String::new(), 5000)));
        assert_eq!(parsed(5000u16), Ok((Family::V6, String::new(), 5000)));
        assert_eq!(parsed("[::1]:80"), Ok((Family::V6, "::1".into(), 80)));
        assert_eq!(parsed("localhost:80"), Ok((Family::V4, "localhost".into(), 80)));
        assert!(
            parsed("host:port")
                .unwrap_err()
                .contains("Failed to parse address")
        );
        assert!(parsed("nonsense").is_err());
    }

    #[test]
    fn config_has_pywsgis_defaults() {
        let app = |_: &mut Environ, _: &StartResponse| -> rwsgi_core::Result<Body> { Ok(Body::empty()) };
        let config = WsgiServer::new(("127.0.0.1", 0), app).config().unwrap();
        assert_eq!(config.io_threads, 1);
        assert_eq!(config.tls, None);
        assert_eq!(config.dispatch, Dispatch::Inline);
        assert_eq!(config.max_connections, usize::MAX);
        assert_eq!(config.limit_request_line, 8189);
        assert_eq!(config.backlog, 256);
        assert_eq!(config.server_header, None);
        assert!(config.access_log.is_some());
        let config = WsgiServer::new(("127.0.0.1", 0), app)
            .spawn(3)
            .log(None)
            .config()
            .unwrap();
        assert_eq!(config.max_connections, 3);
        assert!(config.access_log.is_none());
        let config = WsgiServer::new(":0", app).spawn(Pool::new(7)).config().unwrap();
        assert_eq!(config.max_connections, 7);
    }

    fn app(_: &mut Environ, _: &StartResponse) -> rwsgi_core::Result<Body> {
        Ok(Body::empty())
    }

    #[test]
    fn ssl_args_map_onto_tls() {
        let server = WsgiServer::new(("127.0.0.1", 0), app);
        assert!(!server.ssl_enabled());
        let server = server
            .keyfile("key.pem")
            .certfile("cert.pem")
            .ca_certs("ca.pem")
            .cert_reqs(2);
        assert!(server.ssl_enabled());
        let tls = server.config().unwrap().tls.expect("TLS");
        assert_eq!(tls.cert_file, PathBuf::from("cert.pem"));
        assert_eq!(tls.key_file, PathBuf::from("key.pem"));
        assert_eq!(tls.client_ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert_eq!(tls.listeners, rwsgi_core::tls::TlsListeners::All);
    }

    #[test]
    fn incomplete_ssl_args_are_refused() {
        let refused = |server: WsgiServer| {
            assert!(server.ssl_enabled());
            let err = server.config().expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            // Nothing is bound when the arguments are wrong.
            let launched = server.launch(None).err().expect("refused");
            assert_eq!(launched.kind(), io::ErrorKind::InvalidInput);
            assert!(server.local_addrs().is_empty());
            err.to_string()
        };
        let server = || WsgiServer::new(("127.0.0.1", 0), app);
        assert!(refused(server().certfile("cert.pem")).contains("--keyfile"));
        assert!(refused(server().keyfile("key.pem")).contains("--certfile"));
        assert!(refused(server().ca_certs("ca.pem")).contains("--certfile"));
        assert!(refused(server().cert_reqs(0)).contains("keyfile="));
        assert!(refused(server().keyfile("k").certfile("c").cert_reqs(5)).contains("cert-reqs 5"));
    }
}
