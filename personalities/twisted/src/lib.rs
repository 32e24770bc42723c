//! # rwsgi-twisted
//!
//! The twisted personality: `rwsgi twistd [-n] web --wsgi APP --listen
//! ENDPOINT`, served the way `twistd web --wsgi` serves a WSGI application —
//! one reactor thread for all I/O, the application on a thread pool (twisted's
//! `ThreadPool()`: at least 5, at most 20 threads), endpoints written as
//! [strports], twisted's combined access log, and twistd's process
//! handling (daemonising, pidfile, `--uid`/`--gid`).
//!
//! | twistd | rwsgi |
//! |---|---|
//! | `twistd -n web --wsgi myproject.app --listen tcp:8080` | `rwsgi twistd -n web --wsgi myproject.app --listen tcp:8080` |
//! | `--listen haproxy:tcp:8080` | the same: the PROXY header sets `REMOTE_ADDR` |
//! | `web --port tcp:8080` (deprecated) | accepted, with twisted's deprecation warning |
//! | the WSGI pool, `ThreadPool()` (5..20) | `Dispatch::ThreadPool { min: 5, max: 20 }`; `--min-threads`/`--max-threads` change it |
//!
//! [`Reactor`] puts the same shape on any backend, for code that starts a
//! server itself.

pub mod daemon;
pub mod log;
pub mod strports;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rwsgi_core::{
    Addr, Backends, Bind, Config, Dispatch, Engine, Launch, Listener, ProxyProtocol, Registry, RegistryError,
    ServerHandle, Shape, Shaped,
};

use daemon::Startup;
use log::{CombinedLog, TwistdLog};
use rwsgi_core::tls::{TlsConfig, TlsListeners};
use strports::{Endpoint, SystemdSocket};

/// twisted's WSGI pool: `twisted.python.threadpool.ThreadPool()`'s
/// defaults, which `twistd web --wsgi` uses.
pub const POOL_MIN: usize = 5;
/// The most threads of the WSGI pool.
pub const POOL_MAX: usize = 20;

/// What twistd's version line names.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Parser, Debug)]
#[command(
    name = "twistd",
    about = "twistd's command line, served by rwsgi: twistd [options] web [web options]",
    after_help = "Only the web plugin with --wsgi is served. ENDPOINT is a strports \
                  description: tcp:8080, tcp:port=80:interface=127.0.0.1, tcp6:port=80:interface=\\:\\:1, \
                  unix:address=/run/app.sock:mode=660, systemd:domain=INET:index=0, haproxy:tcp:8080."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    plugin: Plugin,
}

#[derive(Args, Debug)]
struct Global {
    /// Don't daemonize, don't use default umask of 0077
    #[arg(short = 'n', long)]
    nodaemon: bool,
    /// Log to a specified file, - for stdout [default: stdout with -n, else twistd.log]
    #[arg(short = 'l', long, value_name = "FILE")]
    logfile: Option<String>,
    /// Name of the pidfile ('' for none)
    #[arg(long, value_name = "FILE", default_value = "twistd.pid")]
    pidfile: String,
    /// Change to a supplied directory before running
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    rundir: PathBuf,
    /// The (octal) file creation mask to apply
    #[arg(long, value_name = "UMASK")]
    umask: Option<String>,
    /// The uid to run as (a name or a number)
    #[arg(short = 'u', long, value_name = "UID")]
    uid: Option<String>,
    /// The gid to run as (a name or a number)
    #[arg(short = 'g', long, value_name = "GID")]
    gid: Option<String>,
    /// Which reactor to use; rwsgi's reactor is its backend (see --backend)
    #[arg(short = 'r', long, value_name = "NAME")]
    reactor: Option<String>,
    /// rwsgi: the runtime (tokio, smol, async-std among those compiled in)
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// rwsgi: the HTTP engine (hyper, async-h1, h1)
    #[arg(long, value_name = "NAME")]
    engine: Option<Engine>,
}

#[derive(Subcommand, Debug)]
enum Plugin {
    /// A web server; rwsgi serves its --wsgi form
    Web(Web),
}

#[derive(Args, Debug)]
struct Web {
    /// The FQPN of a WSGI application object to serve as the root resource
    #[arg(long, value_name = "APP")]
    wsgi: Option<String>,
    /// Add an strports description of port to start the server on [default: tcp:8080]
    #[arg(long = "listen", value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// (DEPRECATED: use --listen) Strports description of port to start the server on
    #[arg(short = 'p', long = "port", value_name = "ENDPOINT")]
    port: Option<String>,
    /// Path to web CLF (Combined Log Format) log file
    #[arg(short = 'l', long, value_name = "PATH")]
    logfile: Option<PathBuf>,
    /// Do not display tracebacks in broken web pages (rwsgi never does)
    #[arg(short = 'n', long)]
    notracebacks: bool,
    /// Display tracebacks in broken web pages (rwsgi answers 500 without one)
    #[arg(long)]
    display_tracebacks: bool,
    /// rwsgi: threads the WSGI pool keeps (twisted's ThreadPool minthreads)
    #[arg(long, value_name = "N", default_value_t = POOL_MIN)]
    min_threads: usize,
    /// rwsgi: the most threads of the WSGI pool (maxthreads); request 21 waits with the default 20
    #[arg(long, value_name = "N", default_value_t = POOL_MAX)]
    max_threads: usize,
    /// rwsgi: reactor threads (twisted has one)
    #[arg(long, value_name = "N", default_value_t = 1)]
    io_threads: usize,
    /// rwsgi: seconds a connection may sit idle, between requests or in one
    /// (twisted's HTTPChannel timeout: 60)
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    idle_timeout: f64,
    /// rwsgi: seconds in-flight requests get to finish on SIGTERM/SIGINT
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    graceful_timeout: f64,
    /// Options of twisted's web plugin rwsgi does not serve (--path, --class, --https, ...)
    #[arg(long = "path", value_name = "PATH", hide = true)]
    path: Option<String>,
    #[arg(long = "class", value_name = "CLASS", hide = true)]
    class: Option<String>,
    #[arg(long = "resource-script", value_name = "FILE", hide = true)]
    resource_script: Option<String>,
    #[arg(long = "https", value_name = "PORT", hide = true)]
    https: Option<String>,
}

/// A failure and its exit status.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    fn runtime(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

/// Runs `rwsgi twistd …`; `args[0]` is the program name.
pub fn main(registry: Registry, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
    let program = args
        .first()
        .map_or_else(|| "rwsgi twistd".to_owned(), |a| a.to_string_lossy().into_owned());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli, &registry, backends, &program) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// One endpoint, bound.
struct Bound {
    description: String,
    listener: Listener,
    haproxy: bool,
    tls: bool,
    /// A lock file and a socket file to remove at exit (unix endpoints).
    cleanup: Vec<PathBuf>,
}

fn run(cli: Cli, registry: &Registry, backends: &dyn Backends, program: &str) -> Result<(), Failure> {
    let Plugin::Web(web) = cli.plugin;
    let global = cli.global;
    for (given, name) in [
        (web.path.is_some(), "--path"),
        (web.class.is_some(), "--class"),
        (web.resource_script.is_some(), "--resource-script"),
        (web.https.is_some(), "--https"),
    ] {
        if given {
            return Err(Failure::usage(format!(
                "web {name} is not served by rwsgi: it serves a WSGI application (--wsgi)"
            )));
        }
    }
    if let Some(reactor) = &global.reactor {
        let known = ["epoll", "poll", "select", "default", "asyncio"];
        if !known.contains(&reactor.as_str()) {
            return Err(Failure::usage(format!(
                "--reactor {reactor}: rwsgi's reactor is its backend (--backend); it accepts {} and ignores them",
                known.join(", ")
            )));
        }
    }
    let spec = web.wsgi.clone().ok_or_else(|| {
        Failure::usage("web: --wsgi APP is required (rwsgi serves WSGI applications, not twisted resources)")
    })?;
    let mut descriptions = web.listen.clone();
    if let Some(port) = &web.port {
        // twisted: warnings.warn(getDeprecationWarningString(opt_port, 18.4.0))
        eprintln!(
            "{program}: DeprecationWarning: twisted.web.tap.Options.opt_port was deprecated in Twisted 18.4.0; use --listen instead"
        );
        descriptions.push(port.clone());
    }
    if descriptions.is_empty() {
        descriptions.push("tcp:8080".to_owned());
    }
    let endpoints = descriptions
        .iter()
        .map(|d| strports::parse(d).map(|e| (d.clone(), e)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Failure::usage(err.to_string()))?;
    if web.max_threads == 0 || web.min_threads > web.max_threads {
        return Err(Failure::usage(
            "--min-threads must be at most --max-threads, which must be at least 1",
        ));
    }
    let graceful = Duration::try_from_secs_f64(web.graceful_timeout)
        .map_err(|_| Failure::usage("--graceful-timeout: not a duration in seconds"))?;
    let idle = Duration::try_from_secs_f64(web.idle_timeout)
        .map_err(|_| Failure::usage("--idle-timeout: not a duration in seconds"))?;
    let uid = global
        .uid
        .as_deref()
        .map(daemon::resolve_uid)
        .transpose()
        .map_err(Failure::usage)?;
    let gid = global
        .gid
        .as_deref()
        .map(daemon::resolve_gid)
        .transpose()
        .map_err(Failure::usage)?;
    let umask = global
        .umask
        .as_deref()
        .map(|u| {
            u32::from_str_radix(u, 8).map_err(|_| Failure::usage(format!("--umask {u}: not an octal mask")))
        })
        .transpose()?;
    let app = registry.resolve(&spec).map_err(|err| match err {
        RegistryError::Failed { .. } => Failure {
            message: err.to_string(),
            code: 4,
        },
        RegistryError::Unknown { .. } => {
            Failure::usage(format!("No such WSGI application: {spec:?} ({err})"))
        }
    })?;
    let backend = backends
        .choose(global.backend.as_deref(), global.engine)
        .map_err(Failure::usage)?;

    std::env::set_current_dir(&global.rundir)
        .map_err(|err| Failure::runtime(format!("--rundir {}: {err}", global.rundir.display())))?;
    let pidfile = (!global.pidfile.is_empty()).then(|| PathBuf::from(&global.pidfile));
    if let Some(path) = &pidfile {
        daemon::check_pidfile(path).map_err(Failure::runtime)?;
    }
    let log = match global.logfile.as_deref() {
        Some("-") => Ok(TwistdLog::stdout()),
        None if global.nodaemon => Ok(TwistdLog::stdout()),
        Some(path) => TwistdLog::file(Path::new(path)),
        None => TwistdLog::file(Path::new("twistd.log")),
    }
    .map_err(|err| Failure::runtime(format!("cannot open the log file: {err}")))?;
    let access: Arc<dyn rwsgi_core::AccessLog> = match &web.logfile {
        Some(path) => Arc::new(
            CombinedLog::file(path)
                .map_err(|err| Failure::runtime(format!("web --logfile {}: {err}", path.display())))?,
        ),
        None => Arc::new(CombinedLog::into_twistd(log.clone())),
    };

    let mut config = Config::default();
    config.io_threads = web.io_threads.max(1);
    config.dispatch = Dispatch::ThreadPool {
        min: web.min_threads,
        max: web.max_threads,
    };
    config.engine = global.engine;
    // twisted's WSGI environ has no SERVER_SOFTWARE, and twisted.web
    // renders a resource once the whole request has arrived.
    config.server_software = None;
    config.buffer_request_body = true;
    // twisted.web times a connection out after 60 s without traffic,
    // whether it is between requests or inside one.
    config.keep_alive = idle;
    config.header_read_timeout = Some(idle);
    config.body_read_timeout = Some(idle);
    // The reactor accepts without a limit of its own: the open-file limit
    // is one.
    config.max_connections = usize::MAX;
    config.error_log = rwsgi_core::Errors::new(log.clone());
    config.access_log = Some(access);

    let bound = bind(&endpoints, &config).map_err(Failure::runtime)?;
    config.binds = bound
        .iter()
        .map(|b| b.listener.local_addr())
        .map(addr_bind)
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::runtime(e.to_string()))?;
    config.proxy_protocol = ProxyProtocol::Listeners(
        bound
            .iter()
            .enumerate()
            .filter(|(_, b)| b.haproxy)
            .map(|(i, _)| i)
            .collect(),
    );
    config.tls = tls_config(&endpoints, &bound).map_err(Failure::usage)?;
    config
        .validate()
        .map_err(|err| Failure::usage(format!("configuration: {err}")))?;

    if let Some(mask) = umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    } else if !global.nodaemon {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    }
    let startup = if global.nodaemon {
        Startup::foreground()
    } else {
        daemon::daemonize().map_err(|err| Failure::runtime(format!("cannot daemonize: {err}")))?
    };
    let startup = Arc::new(Mutex::new(startup));
    let fail_startup = |failure: Failure| {
        startup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failed(&failure.message);
        failure
    };
    if let Some(path) = &pidfile {
        daemon::write_pidfile(path)
            .map_err(|err| fail_startup(Failure::runtime(format!("cannot write the pidfile: {err}"))))?;
    }
    daemon::shed_privileges(uid, gid)
        .map_err(|err| fail_startup(Failure::runtime(format!("cannot drop privileges: {err}"))))?;

    log.event(
        "twisted.scripts._twistd_unix.UnixAppLogger#info",
        &format!("twistd (rwsgi {VERSION}) starting up."),
    );
    let engine_name = global.engine.map_or_else(
        || {
            backends
                .available()
                .into_iter()
                .find(|(n, _)| *n == backend)
                .map_or("?", |(_, e)| e[0].name())
                .to_owned()
        },
        |e| e.name().to_owned(),
    );
    log.event(
        "twisted.scripts._twistd_unix.UnixAppLogger#info",
        &format!("reactor class: rwsgi {backend} ({engine_name})."),
    );
    let cleanup: Vec<PathBuf> = bound.iter().flat_map(|b| b.cleanup.clone()).collect();
    let descriptions: Vec<String> = bound.iter().map(|b| b.description.clone()).collect();
    let listeners: Vec<Listener> = bound.into_iter().map(|b| b.listener).collect();

    let signals = Arc::new(Mutex::new(None));
    let installed = Arc::clone(&signals);
    let ready_log = log.clone();
    let ready_startup = Arc::clone(&startup);
    let foreground = global.nodaemon;
    let schemes: Vec<rwsgi_core::Scheme> = (0..listeners.len())
        .map(|i| rwsgi_core::tls::scheme(&config, i))
        .collect();
    let mut launch = Launch::new(config, app);
    launch.listeners = Some(listeners);
    launch.ready = Some(Box::new(move |handle: &ServerHandle, addrs: &[Addr]| {
        for (addr, description) in addrs.iter().zip(&descriptions) {
            let what = match addr {
                Addr::Tcp(a) => a.port().to_string(),
                other => other.to_string(),
            };
            ready_log.event("-", &format!("Site starting on {what}"));
            ready_log.event(
                "twisted.web.server.Site#info",
                &format!("Starting factory <twisted.web.server.Site> ({description})"),
            );
        }
        if foreground {
            rwsgi_core::announce(
                addrs.iter().zip(&schemes).map(|(a, s)| (a, *s)),
                &format!("{spec} (twistd web, backend {backend})"),
            );
        }
        *installed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(stop_on_signals(handle.clone(), graceful, ready_log.clone()));
        ready_startup.lock().unwrap_or_else(|e| e.into_inner()).ready();
    }));
    let served = backends.serve(backend, launch);
    if let Some(Ok(handle)) = signals.lock().unwrap_or_else(|e| e.into_inner()).take() {
        handle.close();
    }
    log.event("-", "Main loop terminated.");
    log.event(
        "twisted.scripts._twistd_unix.UnixAppLogger#info",
        "Server Shut Down.",
    );
    for path in cleanup {
        let _ = std::fs::remove_file(path);
    }
    if let Some(path) = &pidfile {
        let _ = std::fs::remove_file(path);
    }
    served.map_err(|err| fail_startup(Failure::runtime(err.to_string())))
}

/// The TLS of the `ssl:` endpoints: one certificate for the server, so
/// they must all name the same files.
fn tls_config(endpoints: &[(String, Endpoint)], bound: &[Bound]) -> Result<Option<TlsConfig>, String> {
    let mut tls: Option<TlsConfig> = None;
    for (description, endpoint) in endpoints {
        let Endpoint::Ssl {
            private_key,
            cert_key,
            extra_cert_chain,
            ..
        } = endpoint.inner()
        else {
            continue;
        };
        let mut this = TlsConfig::new(cert_key, private_key);
        this.extra_chain_file = extra_cert_chain.as_ref().map(Into::into);
        match &tls {
            Some(first)
                if (&first.cert_file, &first.key_file, &first.extra_chain_file)
                    != (&this.cert_file, &this.key_file, &this.extra_chain_file) =>
            {
                return Err(format!(
                    "{description}: rwsgi serves one certificate per server; every ssl: endpoint must name the same privateKey, certKey and extraCertChain"
                ));
            }
            Some(_) => {}
            None => tls = Some(this),
        }
    }
    Ok(tls.map(|mut tls| {
        tls.listeners = TlsListeners::Only(
            bound
                .iter()
                .enumerate()
                .filter(|(_, b)| b.tls)
                .map(|(i, _)| i)
                .collect(),
        );
        tls
    }))
}

fn addr_bind(addr: io::Result<Addr>) -> io::Result<Bind> {
    Ok(match addr? {
        Addr::Tcp(a) => Bind::Tcp {
            host: a.ip().to_string(),
            port: a.port(),
        },
        Addr::Unix(path) => Bind::Unix {
            path: path.unwrap_or_default(),
            mode: None,
        },
    })
}

/// Binds each endpoint with its own backlog.
fn bind(endpoints: &[(String, Endpoint)], config: &Config) -> Result<Vec<Bound>, String> {
    let mut out = Vec::new();
    for (description, endpoint) in endpoints {
        let mut one = config.clone();
        let mut cleanup = Vec::new();
        let (bind, backlog) = match endpoint.inner() {
            Endpoint::Tcp {
                port,
                interface,
                backlog,
            }
            | Endpoint::Ssl {
                port,
                interface,
                backlog,
                ..
            } => (
                Bind::Tcp {
                    host: if interface.is_empty() {
                        "0.0.0.0".to_owned()
                    } else {
                        interface.clone()
                    },
                    port: *port,
                },
                *backlog,
            ),
            Endpoint::Tcp6 {
                port,
                interface,
                backlog,
            } => (
                Bind::Tcp {
                    host: interface.clone(),
                    port: *port,
                },
                *backlog,
            ),
            Endpoint::Unix {
                address,
                mode,
                backlog,
                lockfile,
            } => {
                if *lockfile {
                    cleanup.push(take_lock(address)?);
                }
                cleanup.push(PathBuf::from(address));
                (
                    Bind::Unix {
                        path: address.into(),
                        mode: Some(*mode),
                    },
                    *backlog,
                )
            }
            Endpoint::Systemd { which, .. } => (Bind::Fd(systemd_fd(which)?), config.backlog),
            Endpoint::Haproxy(_) => unreachable!("inner() unwraps haproxy"),
        };
        one.binds = vec![bind];
        one.backlog = backlog;
        let mut listeners = rwsgi_core::bind_all(&one).map_err(|err| format!("{description}: {err}"))?;
        out.push(Bound {
            description: description.clone(),
            listener: listeners.remove(0),
            haproxy: endpoint.is_haproxy(),
            tls: matches!(endpoint.inner(), Endpoint::Ssl { .. }),
            cleanup,
        });
    }
    Ok(out)
}

/// The descriptor systemd passed for a `systemd:` endpoint.
fn systemd_fd(which: &SystemdSocket) -> Result<i32, String> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let count: usize = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|_| pid_ok)
        .ok_or("systemd: no sockets were passed (LISTEN_FDS/LISTEN_PID unset or for another process)")?;
    let index = match which {
        SystemdSocket::Index(i) => *i,
        SystemdSocket::Name(name) => std::env::var("LISTEN_FDNAMES")
            .unwrap_or_default()
            .split(':')
            .position(|n| n == name)
            .ok_or_else(|| format!("systemd: no socket named {name:?} in LISTEN_FDNAMES"))?,
    };
    if index >= count {
        return Err(format!(
            "systemd: index {index}, but only {count} sockets were passed"
        ));
    }
    i32::try_from(3 + index).map_err(|_| "systemd: index out of range".to_owned())
}

/// twisted's `lockfile=1`: a symlink `ADDRESS.lock` naming our pid; a live
/// owner keeps the socket from being taken over.
fn take_lock(address: &str) -> Result<PathBuf, String> {
    let lock = PathBuf::from(format!("{address}.lock"));
    for _ in 0..2 {
        match std::os::unix::fs::symlink(std::process::id().to_string(), &lock) {
            Ok(()) => return Ok(lock),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_link(&lock)
                    .ok()
                    .and_then(|p| p.to_str()?.parse::<i32>().ok());
                if let Some(pid) = owner {
                    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() {
                        return Err(format!(
                            "Couldn't listen on {address}: the lock {} is held by process {pid}",
                            lock.display()
                        ));
                    }
                }
                let _ = std::fs::remove_file(&lock);
            }
            Err(err) => return Err(format!("{}: {err}", lock.display())),
        }
    }
    Err(format!("{}: cannot take the lock", lock.display()))
}

/// SIGTERM and SIGINT stop the reactor (in-flight requests get `graceful`
/// to finish); a second one stops at once.
fn stop_on_signals(
    handle: ServerHandle,
    graceful: Duration,
    log: TwistdLog,
) -> io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    let control = signals.handle();
    std::thread::Builder::new()
        .name("twistd-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
                log.event("-", &format!("Received {name}, shutting down."));
                let quick = handle.is_shutting_down();
                handle.shutdown(if quick { Duration::ZERO } else { graceful });
            }
        })?;
    Ok(control)
}

/// The twisted shape on a backend: one reactor thread and the WSGI thread
/// pool, for servers started from code (and the integration suite).
///
/// A configuration with several event-loop threads becomes one reactor
/// thread, with twisted's pool (5..20) unless it names a pool of its own. A
/// configuration that is already one thread dispatching inline is kept:
/// that is a twisted `Resource` rendered on the reactor thread, which
/// twisted serves the same way. Either way the request body is read in
/// full before the application runs, as twisted.web reads it.
pub type Reactor<S> = Shaped<S, TwistedWeb>;

/// The shape of `twistd web --wsgi` (see [`Reactor`]).
pub struct TwistedWeb;

impl Shape for TwistedWeb {
    fn config(config: Config) -> Config {
        reactor_config(config)
    }
}

/// `config` in the twisted shape (see [`Reactor`]).
pub fn reactor_config(mut config: Config) -> Config {
    config.buffer_request_body = true;
    if config.io_threads == 1 && config.dispatch == Dispatch::Inline {
        return config;
    }
    config.io_threads = 1;
    if config.dispatch == Dispatch::Inline {
        config.dispatch = Dispatch::ThreadPool {
            min: POOL_MIN,
            max: POOL_MAX,
        };
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactor_shape() {
        let mut config = Config::default();
        config.io_threads = 4;
        let shaped = reactor_config(config.clone());
        assert_eq!(shaped.io_threads, 1);
        assert_eq!(shaped.dispatch, Dispatch::ThreadPool { min: 5, max: 20 });
        assert!(shaped.multithread());
        config.dispatch = Dispatch::ThreadPool { min: 0, max: 10 };
        assert_eq!(
            reactor_config(config.clone()).dispatch,
            Dispatch::ThreadPool { min: 0, max: 10 }
        );
        config.io_threads = 1;
        config.dispatch = Dispatch::Inline;
        assert_eq!(reactor_config(config).dispatch, Dispatch::Inline);
    }

    #[test]
    fn cli_parses_twistd_forms() {
        let cli = Cli::try_parse_from([
            "twistd",
            "-n",
            "--pidfile",
            "",
            "web",
            "--wsgi",
            "myproject.app",
            "--listen",
            "tcp:8080",
            "--listen",
            "unix:/tmp/x.sock",
            "-l",
            "access.log",
        ])
        .unwrap();
        assert!(cli.global.nodaemon);
        let Plugin::Web(web) = cli.plugin;
        assert_eq!(web.listen.len(), 2);
        assert_eq!(web.logfile.as_deref(), Some(Path::new("access.log")));
        assert_eq!((web.min_threads, web.max_threads), (5, 20));
        // -n after `web` is --notracebacks, as in twistd.
        let cli = Cli::try_parse_from(["twistd", "web", "-n", "--port", "tcp:80"]).unwrap();
        assert!(!cli.global.nodaemon);
        let Plugin::Web(web) = cli.plugin;
        assert!(web.notracebacks);
        assert_eq!(web.port.as_deref(), Some("tcp:80"));
    }

    #[test]
    fn locks_refuse_a_live_owner() {
        let dir = std::env::temp_dir().join(format!("rwsgi-twisted-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let address = dir.join("s.sock").to_string_lossy().into_owned();
        let lock = take_lock(&address).unwrap();
        assert!(take_lock(&address).unwrap_err().contains("held by process"));
        std::fs::remove_file(&lock).unwrap();
        // A stale lock (a pid that is not running) is replaced.
        std::os::unix::fs::symlink("999999999", &lock).unwrap();
        assert_eq!(take_lock(&address).unwrap(), lock);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
