//! # rwsgi-uwsgi
//!
//! The uWSGI personality: `rwsgi uwsgi --http :5000 --module APP` and the
//! rest of uWSGI's surface — `--socket` for nginx's `uwsgi_pass` (the uwsgi
//! binary protocol, served by [`rwsgi_uwsgi_proto`] on every backend),
//! `--http-socket`, `--master`, `--processes` × `--threads`, `--harakiri`,
//! `--max-requests`, `--stats`, `--ini`, uWSGI's log lines and its signals:
//!
//! | signal | master | `--die-on-term` |
//! |---|---|---|
//! | HUP | graceful reload: workers finish their requests, a new generation is spawned (the application loaded again) | same |
//! | TERM | brutal reload: workers exit at once, a new generation is spawned | stop |
//! | INT | stop: workers exit at once, then the master | same |
//! | QUIT | stop | brutal reload |
//!
//! The master is single-threaded and forks the workers (each runs the
//! chosen backend); it keeps a [scoreboard](scoreboard) in shared memory
//! where workers record their requests, which is how `--harakiri` finds a
//! stuck one and `--stats` reports.
//!
//! [`HttpSocket`] puts the same per-worker shape on any backend, for code
//! that starts a server itself.

pub mod log;
mod master;
pub mod options;
pub mod scoreboard;
mod stats;
mod worker;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rwsgi_core::{
    Addr, Backends, Bind, Config, Dispatch, Engine, Listener, Registry, RegistryError, Scheme, Shape, Shaped,
    SharedApp,
};

use options::Settings;
use rwsgi_core::tls::{ClientAuth, TlsConfig, TlsListeners};
use scoreboard::Scoreboard;
use worker::Control;

/// The uWSGI version whose surface this follows.
pub const UWSGI_VERSION: &str = concat!("2.0.28-rwsgi-", env!("CARGO_PKG_VERSION"));

/// uWSGI's exit status when the application cannot be loaded.
const FAILED_APP_CODE: i32 = 22;

/// What a group of sockets speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Uwsgi,
}

impl Protocol {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Uwsgi => "uwsgi",
        }
    }
}

/// Sockets of one protocol, served by one server per worker.
pub(crate) struct Group {
    pub config: Config,
    pub listeners: Vec<Listener>,
    pub names: Vec<String>,
    pub protocol: Protocol,
}

/// Everything a worker needs.
pub(crate) struct Plan<'a> {
    pub settings: Settings,
    pub groups: Vec<Group>,
    pub backends: &'a dyn Backends,
    pub backend: &'static str,
    pub board: Scoreboard,
    pub registry: &'a Registry,
    pub spec: String,
}

/// Runs `rwsgi uwsgi …`; `args[0]` is the program name.
pub fn main(registry: Registry, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
    let program = args
        .first()
        .map_or_else(|| "rwsgi uwsgi".to_owned(), |a| a.to_string_lossy().into_owned());
    let rest: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("UWSGI_"))
        .collect();
    let settings = match options::parse_args(&rest, &env) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{program}: {err}");
            return ExitCode::from(1);
        }
    };
    if settings.help {
        println!("{}", help(&program));
        return ExitCode::SUCCESS;
    }
    if settings.version {
        println!("{UWSGI_VERSION}");
        return ExitCode::SUCCESS;
    }
    match run(settings, &registry, backends) {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, code)) => {
            eprintln!("{program}: {message}");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn help(program: &str) -> String {
    format!(
        "Usage: {program} [options...]\n\
         uWSGI's options, served by rwsgi (also from --ini FILE[:SECTION], FILE.ini arguments and UWSGI_* variables):\n\
         \x20 --http ADDR, --http-socket ADDR   HTTP on ADDR (HOST:PORT, :PORT or a unix path)\n\
         \x20 -s|--socket ADDR                  the uwsgi protocol on ADDR (nginx uwsgi_pass); --protocol=http for HTTP\n\
         \x20 -w|--module APP, --callable NAME  the application (module:callable, default callable 'application')\n\
         \x20 -M|--master, -p|--processes N, --threads N, -t|--harakiri SECS, -R|--max-requests N, --lazy-apps\n\
         \x20 -b|--buffer-size N (4096, max 65535), -l|--listen N (100), --chmod-socket[=MODE], --vacuum\n\
         \x20 --stats ADDR [--stats-http], --uid, --gid, --pidfile, --die-on-term, --reload-mercy SECS\n\
         \x20 --http-keepalive[=SECS], -z|--socket-timeout SECS (4), -L|--disable-logging, --logto FILE, --log-date\n\
         \x20 rwsgi's own: --backend NAME, --engine NAME (HTTP sockets), --io-threads N\n\
         Signals: HUP graceful reload; TERM brutal reload (stop with --die-on-term); INT/QUIT stop."
    )
}

type Failure = (String, i32);

fn run(settings: Settings, registry: &Registry, backends: &dyn Backends) -> Result<(), Failure> {
    let fail = |m: String| (m, 1);
    if let Some(dir) = &settings.chdir {
        std::env::set_current_dir(dir).map_err(|e| fail(format!("chdir({}): {e}", dir.display())))?;
    }
    for (name, value) in &settings.env {
        // SAFETY: nothing else runs yet: no thread has been started, so no
        // one reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
    if let Some(path) = &settings.logto {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| fail(format!("--logto {}: {e}", path.display())))?;
        nix::unistd::dup2_stderr(&file).map_err(|e| fail(format!("--logto: {e}")))?;
    }
    let spec = settings
        .app_spec()
        .ok_or_else(|| fail("no app loaded: give --module APP (rwsgi always needs one)".into()))?;
    let engine = settings
        .engine
        .as_deref()
        .map(str::parse::<Engine>)
        .transpose()
        .map_err(|e| (e, 2))?;
    let backend = backends
        .choose(settings.backend.as_deref(), engine)
        .map_err(|e| (e, 2))?;
    let master_mode = settings.master
        || settings.processes > 1
        || settings.harakiri > 0
        || settings.stats.is_some()
        || settings.max_requests > 0;
    log::line(
        settings.log_date,
        &format!(
            "*** Starting uWSGI {UWSGI_VERSION} on [{}] ***",
            log::ctime(std::time::SystemTime::now())
        ),
    );
    let (groups, cleanup) = bind_groups(&settings, engine)?;
    if !master_mode {
        log::line(
            settings.log_date,
            "*** WARNING: you are running uWSGI without its master process manager ***",
        );
    }
    let stats = settings
        .stats
        .as_deref()
        .map(|addr| {
            stats::StatsListener::bind(addr)
                .map_err(|e| fail(format!("cannot bind the stats server on {addr}: {e}")))
        })
        .transpose()?;
    if let Some(listener) = &stats {
        log::line(
            settings.log_date,
            &format!("stats server enabled on {} fd: {}", listener.describe(), {
                use std::os::fd::{AsFd, AsRawFd};
                listener.as_fd().as_raw_fd()
            }),
        );
    }
    if let Some(path) = &settings.pidfile {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| fail(format!("--pidfile {}: {e}", path.display())))?;
    }
    shed_privileges(&settings).map_err(fail)?;
    let workers = if master_mode { settings.processes.max(1) } else { 1 };
    let board = Scoreboard::new(workers, settings.threads.clamp(8, 1024))
        .map_err(|e| fail(format!("cannot map the scoreboard: {e}")))?;
    announce(&groups, &spec, backend, workers);
    let plan = Plan {
        settings,
        groups,
        backends,
        backend,
        board,
        registry,
        spec,
    };
    let app = if plan.settings.lazy_apps {
        None
    } else {
        Some(load_app(&plan)?)
    };
    let result = if master_mode {
        master::run(&plan, app, stats).map_err(fail)
    } else {
        single(&plan, app)
    };
    if plan.settings.vacuum {
        for path in cleanup.iter().chain(plan.settings.pidfile.iter()) {
            let _ = std::fs::remove_file(path);
        }
        if let Some(addr) = plan.settings.stats.as_deref().filter(|a| a.contains('/')) {
            let _ = std::fs::remove_file(addr);
        }
        log::line(
            plan.settings.log_date,
            "VACUUM: unix sockets and pidfile removed.",
        );
    }
    result
}

/// Loads the application: in the master before forking, or in each worker
/// with `--lazy-apps`.
pub(crate) fn load_app(plan: &Plan<'_>) -> Result<SharedApp, Failure> {
    match plan.registry.resolve(&plan.spec) {
        Ok(app) => {
            log::line(
                plan.settings.log_date,
                &format!(
                    "WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter rwsgi pid: {} (default app)",
                    std::process::id()
                ),
            );
            Ok(app)
        }
        Err(err @ RegistryError::Unknown { .. }) => Err((format!("*** no app loaded: {err} ***"), 2)),
        Err(err) => Err((format!("*** no app loaded: {err} ***"), FAILED_APP_CODE)),
    }
}

/// The threads of this process (from `/proc`).
pub(crate) fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// An address as uWSGI reads it: a path (anything with `/`) is a unix
/// socket; `:PORT` is every interface.
fn parse_address(addr: &str, chmod: Option<u32>) -> Result<Bind, String> {
    if addr.starts_with('@') {
        return Err(format!(
            "{addr}: abstract unix sockets are not supported by rwsgi"
        ));
    }
    if addr.contains('/') {
        return Ok(Bind::Unix {
            path: addr.into(),
            mode: chmod,
        });
    }
    addr.parse::<Bind>().map_err(|e| e.to_string())
}

/// Binds every socket, grouped by protocol; the unix socket paths (for
/// `--vacuum`).
fn bind_groups(settings: &Settings, engine: Option<Engine>) -> Result<(Vec<Group>, Vec<PathBuf>), Failure> {
    let socket_protocol = if settings.protocol == "http" {
        Protocol::Http
    } else {
        Protocol::Uwsgi
    };
    let https = settings
        .https
        .iter()
        .map(|spec| https_spec(spec).map_err(|e| (format!("--https {spec}: {e}"), 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let addresses: Vec<(&str, Protocol, &str, Option<&TlsConfig>)> = settings
        .http
        .iter()
        .map(|a| (a.as_str(), Protocol::Http, "http", None))
        .chain(
            https
                .iter()
                .map(|(a, tls)| (*a, Protocol::Http, "https", Some(tls))),
        )
        .chain(
            settings
                .http_socket
                .iter()
                .map(|a| (a.as_str(), Protocol::Http, "http-socket", None)),
        )
        .chain(
            settings
                .socket
                .iter()
                .map(|a| (a.as_str(), socket_protocol, "socket", None)),
        )
        .collect();
    if addresses.is_empty() {
        return Err((
            "The -s/--socket option is missing and stdin is not a socket (give --http, --http-socket or --socket).".into(),
            1,
        ));
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut cleanup = Vec::new();
    for (numbered, (addr, protocol, kind, tls)) in addresses.into_iter().enumerate() {
        let bind = parse_address(addr, settings.chmod_socket).map_err(|e| (format!("--{kind} {e}"), 1))?;
        if let Bind::Unix { path, .. } = &bind {
            cleanup.push(path.clone());
        }
        let mut config = group_config(settings, protocol, engine);
        config.binds = vec![bind];
        let listener = rwsgi_core::bind_all(&config)
            .map_err(|e| (format!("--{kind} {addr}: {e}"), 1))?
            .remove(0);
        let local = listener.local_addr().map_err(|e| (e.to_string(), 1))?;
        let name = match &local {
            Addr::Tcp(a) => a.to_string(),
            Addr::Unix(path) => path
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        };
        let fd = {
            use std::os::fd::AsRawFd;
            listener.as_raw_fd()
        };
        let line = match (&local, kind) {
            (_, "http") => format!("uWSGI http bound on {name} fd {fd}"),
            (Addr::Tcp(_), _) => format!("uwsgi socket {numbered} bound to TCP address {name} fd {fd}"),
            (Addr::Unix(_), _) => format!("uwsgi socket {numbered} bound to UNIX address {name} fd {fd}"),
        };
        log::line(settings.log_date, &line);
        let group = match groups.iter().position(|g| g.protocol == protocol) {
            Some(at) => {
                let group = &mut groups[at];
                group.config.binds.extend(config.binds);
                group
            }
            None => {
                groups.push(Group {
                    config,
                    listeners: Vec::new(),
                    names: Vec::new(),
                    protocol,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        if let Some(tls) = tls {
            mark_tls(&mut group.config, group.listeners.len(), tls)
                .map_err(|e| (format!("--https {addr}: {e}"), 1))?;
        }
        group.listeners.push(listener);
        group.names.push(name);
    }
    Ok((groups, cleanup))
}

/// `ADDR,CERT,KEY[,CIPHERS[,CLIENT_CA]]`, uWSGI's `--https` value: the
/// address and the TLS settings (a `!` before the client CA makes client
/// certificates required, else they are optional).
fn https_spec(spec: &str) -> Result<(&str, TlsConfig), String> {
    let parts: Vec<&str> = spec.split(',').collect();
    let [addr, cert, key, rest @ ..] = &parts[..] else {
        return Err("expected ADDR,CERT,KEY[,CIPHERS[,CLIENT_CA]]".into());
    };
    let mut tls = TlsConfig::new(cert, key);
    match rest {
        [] => {}
        [ciphers, ..] if !ciphers.is_empty() => {
            return Err(format!(
                "the cipher list {ciphers:?} is OpenSSL's; rwsgi (rustls) chooses its cipher suites itself: leave the field empty"
            ));
        }
        [_] => {}
        [_, ca] => {
            let (ca, auth) = match ca.strip_prefix('!') {
                Some(ca) => (ca, ClientAuth::Required),
                None => (*ca, ClientAuth::Optional),
            };
            tls.client_ca_file = Some(ca.into());
            tls.client_auth = auth;
        }
        _ => return Err("too many fields: expected ADDR,CERT,KEY[,CIPHERS[,CLIENT_CA]]".into()),
    }
    Ok((addr, tls))
}

/// Marks the listener at `index` of a group as TLS with `tls`: one
/// certificate per server, so every `--https` must name the same files.
fn mark_tls(config: &mut Config, index: usize, tls: &TlsConfig) -> Result<(), String> {
    match &mut config.tls {
        None => {
            let mut first = tls.clone();
            first.listeners = TlsListeners::Only(vec![index]);
            config.tls = Some(first);
        }
        Some(current) => {
            let same = |t: &TlsConfig| {
                (
                    t.cert_file.clone(),
                    t.key_file.clone(),
                    t.client_ca_file.clone(),
                    t.client_auth,
                )
            };
            if same(current) != same(tls) {
                return Err(
                    "rwsgi serves one certificate per server: every --https must name the same files".into(),
                );
            }
            if let TlsListeners::Only(list) = &mut current.listeners {
                list.push(index);
            }
        }
    }
    Ok(())
}

/// The server configuration of one protocol group.
fn group_config(settings: &Settings, protocol: Protocol, engine: Option<Engine>) -> Config {
    let mut config = Config::default();
    config.backlog = settings.listen;
    config.io_threads = settings.io_threads.max(1);
    config.dispatch = if settings.threads > 1 {
        Dispatch::ThreadPool {
            min: settings.threads,
            max: settings.threads,
        }
    } else {
        Dispatch::Inline
    };
    config.multiprocess = settings.processes > 1;
    // uWSGI sets no connection limit of its own: the open-file limit is one.
    config.max_connections = usize::MAX;
    config.error_log = rwsgi_core::Errors::new(log::UwsgiLog {
        dated: settings.log_date,
    });
    config.header_read_timeout = Some(Duration::from_secs(settings.socket_timeout.max(1)));
    // The buffer (`--buffer-size`) bounds the request head or the vars.
    config.limit_request_head = settings.buffer_size;
    match protocol {
        Protocol::Http => {
            config.engine = engine;
            config.keep_alive = settings
                .http_keepalive
                .map_or(Duration::ZERO, Duration::from_secs);
        }
        Protocol::Uwsgi => {
            config.engine = Some(Engine::Uwsgi);
            // Only the buffer size bounds a uwsgi packet, as in uWSGI.
            config.limit_request_line = 0;
            config.limit_request_fields = 0;
            config.limit_request_field_size = 0;
        }
    }
    config
}

fn shed_privileges(settings: &Settings) -> Result<(), String> {
    use nix::unistd::{Gid, Group as UnixGroup, Uid, User};
    if let Some(spec) = &settings.gid {
        let gid = match spec.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => {
                UnixGroup::from_name(spec)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("--gid {spec}: no such group"))?
                    .gid
            }
        };
        if gid != nix::unistd::getegid() {
            nix::unistd::setgroups(&[gid]).map_err(|e| format!("setgroups(): {e}"))?;
            nix::unistd::setgid(gid).map_err(|e| format!("setgid(): {e}"))?;
        }
        log::line(settings.log_date, &format!("setgid() to {gid}"));
    }
    if let Some(spec) = &settings.uid {
        let uid = match spec.parse::<u32>() {
            Ok(n) => Uid::from_raw(n),
            Err(_) => {
                User::from_name(spec)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("--uid {spec}: no such user"))?
                    .uid
            }
        };
        if uid != nix::unistd::geteuid() {
            nix::unistd::setuid(uid).map_err(|e| format!("setuid(): {e}"))?;
        }
        log::line(settings.log_date, &format!("setuid() to {uid}"));
    }
    Ok(())
}

/// The lines rwsgi's subcommands print on standard output once bound.
fn announce(groups: &[Group], spec: &str, backend: &str, workers: usize) {
    let addrs: Vec<(Addr, Scheme)> = groups
        .iter()
        .flat_map(|group| {
            group.listeners.iter().enumerate().filter_map(move |(i, l)| {
                let scheme = match group.protocol {
                    Protocol::Http => rwsgi_core::tls::scheme(&group.config, i),
                    Protocol::Uwsgi => Scheme::Uwsgi,
                };
                Some((l.local_addr().ok()?, scheme))
            })
        })
        .collect();
    let plural = if workers == 1 { "" } else { "s" };
    rwsgi_core::announce(
        addrs.iter().map(|(a, s)| (a, *s)),
        &format!("{spec} (uwsgi, backend {backend}, {workers} worker{plural})"),
    );
}

/// Without a master: one process serves; HUP reloads the application in
/// place, TERM, INT and QUIT stop.
fn single(plan: &Plan<'_>, app: Option<SharedApp>) -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let control = Arc::new(Control::default());
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT, SIGQUIT])
        .map_err(|e| (format!("cannot install signal handlers: {e}"), 1))?;
    let signals_handle = signals.handle();
    let for_signals = Arc::clone(&control);
    let mercy = Duration::from_secs(plan.settings.reload_mercy);
    let dated = plan.settings.log_date;
    std::thread::Builder::new()
        .name("uwsgi-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    log::line(dated, "...gracefully killing workers...");
                    for_signals.reload.store(true, Ordering::SeqCst);
                    for_signals.stop(mercy);
                } else {
                    log::line(dated, "SIGINT/SIGQUIT received...killing workers...");
                    for_signals.reload.store(false, Ordering::SeqCst);
                    for_signals.stop(Duration::ZERO);
                }
            }
        })
        .map_err(|e| (e.to_string(), 1))?;
    plan.board
        .worker(0)
        .pid
        .store(i32::try_from(std::process::id()).unwrap_or(0), Ordering::Relaxed);
    log::line(
        dated,
        &format!(
            "spawned uWSGI worker 1 (and the only) (pid: {}, cores: {})",
            std::process::id(),
            plan.settings.threads.max(1)
        ),
    );
    let mut app = match app {
        Some(app) => app,
        None => load_app(plan)?,
    };
    let result = loop {
        if let Err(err) = worker::serve(plan, 0, app.clone(), &control) {
            break Err((err, 1));
        }
        if !control.reload.load(Ordering::SeqCst) {
            break Ok(());
        }
        control.reset();
        app = load_app(plan)?;
    };
    signals_handle.close();
    log::line(dated, "goodbye to uWSGI.");
    result
}

/// uWSGI's per-worker shape on a backend, as `--http-socket` serves it
/// (for servers started from code, and the integration suite):
/// `--threads N` is a pool of exactly N threads, the request head must fit
/// `--buffer-size` (4096), and keep-alive stays as configured (uWSGI's
/// `--http-keepalive`).
pub type HttpSocket<S> = Shaped<S, Worker>;

/// uWSGI's per-worker shape (see [`HttpSocket`]).
pub struct Worker;

impl Shape for Worker {
    fn config(config: Config) -> Config {
        http_socket_config(config)
    }
}

/// `config` in uWSGI's per-worker shape (see [`HttpSocket`]).
pub fn http_socket_config(mut config: Config) -> Config {
    if config.limit_request_head == 0 || config.limit_request_head > 4096 {
        config.limit_request_head = 4096;
    }
    if let Dispatch::ThreadPool { max, .. } = config.dispatch {
        config.dispatch = Dispatch::ThreadPool { min: max, max };
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("/tmp/a.sock", Some(0o660)),
            Ok(Bind::Unix {
                path: "/tmp/a.sock".into(),
                mode: Some(0o660)
            })
        );
        assert_eq!(
            parse_address(":3031", None),
            Ok(Bind::Tcp {
                host: "0.0.0.0".into(),
                port: 3031
            })
        );
        assert!(parse_address("@abstract", None).is_err());
    }

    #[test]
    fn group_configs() {
        let mut settings = Settings::default();
        settings.threads = 4;
        settings.processes = 2;
        settings.buffer_size = 8192;
        let http = group_config(&settings, Protocol::Http, None);
        assert_eq!(http.dispatch, Dispatch::ThreadPool { min: 4, max: 4 });
        assert!(http.multiprocess && http.multithread());
        assert_eq!(http.keep_alive, Duration::ZERO);
        assert_eq!(http.limit_request_head, 8192);
        let uwsgi = group_config(&settings, Protocol::Uwsgi, None);
        assert_eq!(uwsgi.engine, Some(Engine::Uwsgi));
        assert_eq!(uwsgi.limit_request_line, 0);
        settings.threads = 1;
        settings.processes = 1;
        settings.http_keepalive = Some(5);
        let single = group_config(&settings, Protocol::Http, None);
        assert_eq!(single.dispatch, Dispatch::Inline);
        assert!(!single.multithread() && !single.multiprocess);
        assert_eq!(single.keep_alive, Duration::from_secs(5));
    }

    #[test]
    fn http_socket_shape() {
        let mut config = Config::default();
        config.dispatch = Dispatch::ThreadPool { min: 1, max: 6 };
        let shaped = http_socket_config(config);
        assert_eq!(shaped.dispatch, Dispatch::ThreadPool { min: 6, max: 6 });
        assert_eq!(shaped.limit_request_head, 4096);
    }
}
