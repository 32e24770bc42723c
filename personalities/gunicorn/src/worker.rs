//! A worker process: what runs after `fork`. It adopts the master's
//! listeners, loads the application (unless the master preloaded it), and
//! serves it on the chosen backend until told to stop.
//!
//! Threads of its own: one for signals (a handler only queues; the thread
//! acts), one for the heartbeat. The heartbeat stops when the worker can
//! no longer serve — when as many requests as it has room for have been
//! inside the application for longer than `--timeout` (one for `sync`,
//! `--threads` for `gthread`, the event-loop threads for the inline
//! classes) — so a stuck worker falls silent and its master replaces it,
//! as a blocked gunicorn worker would.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi_core::middleware::TrustedPeers;
use rwsgi_core::proxy_protocol::ProxyPolicy;
use rwsgi_core::{
    Application, Backends, Body, BoxError, Config, Dispatch, Environ, Launch, Listener, Registry,
    ServerHandle, SharedApp, StartResponse,
};

use crate::glog::{Log, WorkerAccess};
use crate::hooks::{Arbiter, Hooks, Worker};
use crate::scheme::SecureScheme;
use crate::settings::{MAX_HEADERS, MAX_REQUEST_LINE, Settings, WorkerClass};
use crate::tmp::WorkerTmp;

/// A worker could not boot (gunicorn's `WORKER_BOOT_ERROR`): the master
/// halts rather than fork again.
pub const WORKER_BOOT_ERROR: i32 = 3;
/// A worker could not load the application (gunicorn's
/// `APP_LOAD_ERROR`).
pub const APP_LOAD_ERROR: i32 = 4;

/// Set once this process's server is listening.
static BOOTED: AtomicBool = AtomicBool::new(false);

/// Whether this worker process has booted.
pub(crate) fn booted() -> bool {
    BOOTED.load(Ordering::SeqCst)
}

/// Everything a freshly forked worker needs.
pub(crate) struct Boot<'a> {
    pub settings: Arc<Settings>,
    pub log: Log,
    pub hooks: Arc<dyn Hooks>,
    pub custom_hooks: bool,
    pub registry: Registry,
    pub backends: &'a dyn Backends,
    pub backend: &'static str,
    pub class: WorkerClass,
    pub listeners: Vec<Listener>,
    pub tmp: WorkerTmp,
    pub age: u64,
    pub ppid: u32,
    pub num_workers: usize,
    pub preloaded: Option<SharedApp>,
}

impl Boot<'_> {
    fn arbiter(&self) -> Arbiter {
        Arbiter {
            pid: self.ppid,
            num_workers: self.num_workers,
            cfg: Arc::clone(&self.settings),
            log: self.log.clone(),
        }
    }
}

/// Runs the worker; returns its exit status.
pub(crate) fn run(boot: Boot<'_>) -> i32 {
    let pid = std::process::id();
    let log = boot.log.clone();
    let worker = Worker {
        pid,
        ppid: boot.ppid,
        age: boot.age,
        log: log.clone(),
    };
    log.info(format_args!("Booting worker with pid: {pid}"));
    boot.hooks.post_fork(&boot.arbiter(), &worker);
    let code = serve(boot, &worker);
    log.info(format_args!("Worker exiting (pid: {pid})"));
    code
}

fn serve(boot: Boot<'_>, worker: &Worker) -> i32 {
    let log = &boot.log;
    let settings = Arc::clone(&boot.settings);
    if let Err(err) = set_owner_process(settings.user, settings.group, settings.initgroups) {
        log.error(format_args!(
            "Exception in worker process: cannot switch user or group: {err}"
        ));
        return WORKER_BOOT_ERROR;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(settings.umask));

    let arbiter = boot.arbiter();
    let tmp = Arc::new(boot.tmp);
    let control = Arc::new(Control::default());
    let capacity = match boot.class {
        WorkerClass::Sync => 1,
        WorkerClass::Gthread => settings.threads.max(1),
        WorkerClass::Inline(_) => settings.io_threads.unwrap_or(1).max(1),
    };
    let max_requests = if settings.max_requests == 0 {
        u64::MAX
    } else {
        settings.max_requests + jitter(settings.max_requests_jitter)
    };
    let hooks = boot
        .custom_hooks
        .then(|| (Arc::clone(&boot.hooks), worker.clone()));
    let state = Arc::new(WorkerState {
        slots: Mutex::new(Vec::new()),
        served: AtomicU64::new(0),
        max_requests,
        retiring: AtomicBool::new(false),
        capacity,
        tmp: Arc::clone(&tmp),
        ppid: boot.ppid,
        log: log.clone(),
        hooks: hooks.clone(),
    });
    if let Err(err) = watch_signals(
        Arc::clone(&control),
        Arc::clone(&state),
        Arc::clone(&boot.hooks),
        worker.clone(),
        Duration::from_secs(settings.graceful_timeout),
    ) {
        log.error(format_args!(
            "Exception in worker process: cannot handle signals: {err}"
        ));
        return WORKER_BOOT_ERROR;
    }

    // Load the application, as gunicorn's worker does (after fork, unless
    // preloaded).
    let app = match boot.preloaded.clone() {
        Some(app) => app,
        None => match load_app(&boot.registry, settings.wsgi_app.as_deref().unwrap_or_default()) {
            Ok(app) => app,
            Err((code, message)) => {
                log.error(format_args!("Exception in worker process: {message}"));
                // gunicorn also prints the failure to stderr.
                if settings.errorlog != "-" {
                    eprintln!("{message}");
                }
                return code;
            }
        },
    };
    boot.hooks.post_worker_init(worker);

    let listeners = boot.listeners;
    let proxy_allow = match settings.proxy_allow_ips.parse::<TrustedPeers>() {
        Ok(allow) => allow,
        Err(err) => {
            log.error(format_args!(
                "Exception in worker process: --proxy-allow-from: {err}"
            ));
            return WORKER_BOOT_ERROR;
        }
    };
    let trusted = match settings.forwarded_allow_ips.parse::<TrustedPeers>() {
        Ok(trusted) => trusted,
        Err(err) => {
            log.error(format_args!(
                "Exception in worker process: --forwarded-allow-ips: {err}"
            ));
            return WORKER_BOOT_ERROR;
        }
    };
    let app = match SecureScheme::new(app, trusted, &settings.secure_scheme_headers) {
        Ok(app) => app,
        Err(err) => {
            log.error(format_args!("Exception in worker process: {err}"));
            return WORKER_BOOT_ERROR;
        }
    };
    let app = SharedApp::new(Tracker {
        app,
        state: Arc::clone(&state),
        control: Arc::clone(&control),
    });

    let access: Option<Arc<dyn rwsgi_core::AccessLog>> =
        (log.has_access_log() || hooks.is_some()).then(|| {
            Arc::new(WorkerAccess {
                log: log.clone(),
                hooks: hooks.clone(),
            }) as Arc<dyn rwsgi_core::AccessLog>
        });
    let mut config = worker_config(&settings, boot.class, log, access);
    if let Some(versions) = settings.proxy_protocol.versions() {
        // gunicorn's PROXY mode: a header is read where there is one, from
        // --proxy-allow-from only; plain HTTP is served too.
        config.proxy_protocol = rwsgi_core::ProxyProtocol::All;
        config.proxy_policy = ProxyPolicy {
            optional: true,
            versions,
            allow_from: Some(proxy_allow),
        };
    }
    let booted = Arc::new(AtomicBool::new(false));
    let on_ready = {
        let control = Arc::clone(&control);
        let booted = Arc::clone(&booted);
        let state = Arc::clone(&state);
        let timeout = Duration::from_secs(settings.timeout);
        let graceful = Duration::from_secs(settings.graceful_timeout);
        move |handle: &ServerHandle, _: &[rwsgi_core::Addr]| {
            booted.store(true, Ordering::SeqCst);
            BOOTED.store(true, Ordering::SeqCst);
            control.ready(handle.clone());
            state.tmp.notify();
            let _ = std::thread::Builder::new()
                .name("gunicorn-heartbeat".into())
                .spawn(move || heartbeat(&state, &control, timeout, graceful));
        }
    };
    let launch = Launch {
        config,
        listeners: Some(listeners),
        app,
        ready: Some(Box::new(on_ready)),
    };
    let result = boot.backends.serve(boot.backend, launch);
    let worker_exit = |code| {
        boot.hooks.worker_exit(&arbiter, worker);
        code
    };
    match result {
        Ok(()) => worker_exit(0),
        Err(err) if !booted.load(Ordering::SeqCst) => {
            log.error(format_args!("Exception in worker process: {err}"));
            worker_exit(WORKER_BOOT_ERROR)
        }
        Err(err) => {
            log.error(format_args!("Exception in worker process: {err}"));
            worker_exit(1)
        }
    }
}

/// The server configuration of one worker, by worker class.
///
/// | class | dispatch | connections | keep-alive |
/// |---|---|---|---|
/// | `sync` | a pool of 1 thread | 1 (the next is accepted when this one closes) | off (gunicorn's sync worker closes after each response) |
/// | `gthread` | a pool of `--threads` | `--worker-connections` | `--keep-alive` |
/// | `gevent`, `eventlet`, `tornado`, `async` | inline on the event loop | `--worker-connections` | `--keep-alive` |
pub(crate) fn worker_config(
    settings: &Settings,
    class: WorkerClass,
    log: &Log,
    access: Option<Arc<dyn rwsgi_core::AccessLog>>,
) -> Config {
    let mut config = Config::default();
    config.tls = settings.tls().expect("checked when the settings were loaded");
    config.io_threads = settings.io_threads.unwrap_or(1).max(1);
    config.header_read_timeout = Some(Duration::from_secs(settings.header_read_timeout));
    config.write_timeout = Some(Duration::from_secs(settings.write_timeout));
    config.engine = settings.engine;
    config.backlog = settings.backlog;
    config.keep_alive = Duration::from_secs(settings.keepalive);
    config.max_connections = settings.worker_connections.max(1);
    match class {
        WorkerClass::Sync => {
            config.dispatch = Dispatch::ThreadPool { min: 1, max: 1 };
            config.max_connections = 1;
            config.keep_alive = Duration::ZERO;
        }
        WorkerClass::Gthread => {
            let threads = settings.threads.max(1);
            config.dispatch = Dispatch::ThreadPool {
                min: threads,
                max: threads,
            };
        }
        WorkerClass::Inline(_) => config.dispatch = Dispatch::Inline,
    }
    // gunicorn's ceilings: a longer line limit means 8190 (0: none); at
    // most 32768 fields (0 would refuse every header in gunicorn: here the
    // ceiling).
    config.limit_request_line = if settings.limit_request_line > MAX_REQUEST_LINE {
        MAX_REQUEST_LINE
    } else {
        settings.limit_request_line
    };
    config.limit_request_fields = match settings.limit_request_fields {
        0 => MAX_HEADERS,
        n => n.min(MAX_HEADERS),
    };
    config.limit_request_field_size = settings.limit_request_field_size;
    // gunicorn bounds the head only through the three limits above.
    config.limit_request_head = 0;
    config.multiprocess = settings.workers > 1;
    config.error_log = log.errors();
    config.access_log = access;
    config
}

/// Resolves the application spec in a worker (or in the master, with
/// `--preload` and `--check-config`), with gunicorn's exit statuses and
/// messages.
pub(crate) fn load_app(registry: &Registry, spec: &str) -> Result<SharedApp, (i32, String)> {
    registry.resolve(spec).map_err(|err| match err {
        rwsgi_core::RegistryError::Failed { .. } => (APP_LOAD_ERROR, err.to_string()),
        rwsgi_core::RegistryError::Unknown { .. } => unknown_spec(registry, spec),
    })
}

/// gunicorn's answer to an application it cannot import: no such module is
/// a boot error (3), no such attribute in a known module an app load error
/// (4). The message lists what is registered.
pub(crate) fn unknown_spec(registry: &Registry, spec: &str) -> (i32, String) {
    let specs = registry.specs();
    let (module, name) = spec
        .split_once(':')
        .or_else(|| spec.rsplit_once('.'))
        .unwrap_or((spec, "application"));
    let known = if specs.is_empty() {
        "(none)".to_owned()
    } else {
        specs.join(", ")
    };
    let module_known = specs
        .iter()
        .any(|s| s.split_once(':').is_some_and(|(m, _)| m == module));
    if module_known {
        (
            APP_LOAD_ERROR,
            format!("Failed to find attribute '{name}' in '{module}'. Registered applications: {known}"),
        )
    } else {
        (
            WORKER_BOOT_ERROR,
            format!(
                "No module named '{module}' (no application {spec:?} is registered). Registered applications: {known}"
            ),
        )
    }
}

/// Whether `spec` names a registered application, without running any
/// factory.
pub(crate) fn is_registered(registry: &Registry, spec: &str) -> bool {
    let specs = registry.specs();
    if specs.iter().any(|s| s == spec) {
        return true;
    }
    !spec.contains(':')
        && spec
            .rsplit_once('.')
            .is_some_and(|(m, n)| specs.contains(&format!("{m}:{n}")))
}

/// gunicorn's `set_owner_process`: the group (and its access list), then
/// the user.
fn set_owner_process(uid: Option<u32>, gid: Option<u32>, initgroups: bool) -> nix::Result<()> {
    use nix::unistd::{Gid, Uid};
    if let Some(gid) = gid.map(Gid::from_raw) {
        let user = uid.and_then(|uid| nix::unistd::User::from_uid(Uid::from_raw(uid)).ok().flatten());
        match user {
            Some(user) if initgroups => {
                let name = std::ffi::CString::new(user.name).map_err(|_| nix::errno::Errno::EINVAL)?;
                nix::unistd::initgroups(&name, gid)?;
            }
            _ if gid != nix::unistd::getgid() => nix::unistd::setgroups(&[gid])?,
            _ => {}
        }
        nix::unistd::setgid(gid)?;
    }
    if let Some(uid) = uid.map(Uid::from_raw) {
        if uid != nix::unistd::getuid() {
            nix::unistd::setuid(uid)?;
        }
    }
    Ok(())
}

/// `randint(0, jitter)`: a worker's share of `--max-requests-jitter`.
fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut seed = u64::from(std::process::id())
        ^ crate::tmp::monotonic().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    // splitmix64
    seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % (max + 1)
}

/// Shutdown requests, which may come before the server exists.
#[derive(Default)]
pub(crate) struct Control {
    inner: Mutex<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    handle: Option<ServerHandle>,
    pending: Option<Duration>,
}

impl Control {
    /// Stops the server within `grace` (now, or as soon as it exists).
    pub(crate) fn stop(&self, grace: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match &inner.handle {
            Some(handle) => handle.shutdown(grace),
            None => inner.pending = Some(inner.pending.map_or(grace, |p| p.min(grace))),
        }
    }

    fn ready(&self, handle: ServerHandle) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(grace) = inner.pending.take() {
            handle.shutdown(grace);
        }
        inner.handle = Some(handle);
    }

    /// Whether the server is stopping.
    pub(crate) fn stopping(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.pending.is_some() || inner.handle.as_ref().is_some_and(ServerHandle::is_shutting_down)
    }
}

/// What one thread is doing in the application: every thread that calls
/// the application (an event-loop thread, a pool thread) has one slot,
/// reused from request to request so that tracking allocates nothing.
struct Slot {
    busy: bool,
    started: Instant,
    method: http::Method,
    uri: String,
    protocol: Cow<'static, str>,
    peer: String,
}

type SlotRef = Arc<Mutex<Slot>>;

thread_local! {
    /// This thread's slot, and the state it is registered with.
    static SLOT: std::cell::RefCell<Option<(usize, SlotRef)>> = const { std::cell::RefCell::new(None) };
}

fn lock(slot: &SlotRef) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the worker knows about its requests.
pub(crate) struct WorkerState {
    slots: Mutex<Vec<SlotRef>>,
    served: AtomicU64,
    max_requests: u64,
    retiring: AtomicBool,
    capacity: usize,
    tmp: Arc<WorkerTmp>,
    ppid: u32,
    log: Log,
    hooks: Option<(Arc<dyn Hooks>, Worker)>,
}

impl WorkerState {
    /// This thread's slot (registered on first use).
    fn slot(&self) -> SlotRef {
        let me = std::ptr::from_ref(self) as usize;
        SLOT.with_borrow_mut(|cached| {
            if let Some((owner, slot)) = cached {
                if *owner == me {
                    return Arc::clone(slot);
                }
            }
            let slot = Arc::new(Mutex::new(Slot {
                busy: false,
                started: Instant::now(),
                method: http::Method::GET,
                uri: String::new(),
                protocol: Cow::Borrowed(""),
                peer: String::new(),
            }));
            self.slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::clone(&slot));
            *cached = Some((me, Arc::clone(&slot)));
            slot
        })
    }

    fn enter(&self, environ: &Environ) -> SlotRef {
        let slot = self.slot();
        {
            let mut s = lock(&slot);
            s.busy = true;
            s.started = Instant::now();
            s.method.clone_from(&environ.method);
            s.uri.clear();
            s.uri.push_str(&environ.raw_uri);
            s.protocol.clone_from(&environ.server_protocol);
            s.peer.clear();
            s.peer.push_str(environ.remote_addr.as_deref().unwrap_or("-"));
        }
        slot
    }

    fn busy_slots(&self) -> Vec<SlotRef> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether every request the worker has room for has been in the
    /// application longer than `timeout`.
    fn stuck(&self, timeout: Duration) -> bool {
        let stuck = self
            .busy_slots()
            .iter()
            .filter(|slot| {
                let s = lock(slot);
                s.busy && s.started.elapsed() > timeout
            })
            .count();
        stuck > 0 && stuck >= self.capacity
    }

    /// The requests inside the application, longest first.
    fn describe(&self) -> Vec<String> {
        let mut entries: Vec<(Instant, String)> = self
            .busy_slots()
            .iter()
            .filter_map(|slot| {
                let s = lock(slot);
                s.busy.then(|| {
                    (
                        s.started,
                        format!(
                            "\"{} {} {}\" from {}, in the application for {:.1} s",
                            s.method,
                            s.uri,
                            s.protocol,
                            s.peer,
                            s.started.elapsed().as_secs_f64()
                        ),
                    )
                })
            })
            .collect();
        entries.sort_by_key(|(started, _)| *started);
        entries.into_iter().map(|(_, line)| line).collect()
    }

    /// `--max-requests` reached: ask the master for a replacement, and keep
    /// serving until it is up (the master then sends `SIGTERM`).
    fn retire(&self) {
        if self.retiring.swap(true, Ordering::SeqCst) {
            return;
        }
        self.log
            .info(format_args!("Autorestarting worker after current request."));
        self.tmp.request_retire();
        // SIGCHLD only wakes the master's loop, which then reads the
        // request from the heartbeat file (it would within a second anyway).
        let ppid = nix::unistd::Pid::from_raw(i32::try_from(self.ppid).unwrap_or(0));
        let _ = nix::sys::signal::kill(ppid, nix::sys::signal::Signal::SIGCHLD);
    }
}

/// The application as the worker serves it: counts requests
/// (`--max-requests`), remembers the ones inside the application (for the
/// heartbeat and for `SIGABRT`), and runs `pre_request`.
struct Tracker<A> {
    app: A,
    state: Arc<WorkerState>,
    control: Arc<Control>,
}

/// Marks the slot free when the application returns (or panics).
struct Leave(SlotRef);

impl Drop for Leave {
    fn drop(&mut self) {
        lock(&self.0).busy = false;
    }
}

impl<A: Application> Application for Tracker<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let state = &*self.state;
        let served = state.served.fetch_add(1, Ordering::Relaxed) + 1;
        if served == state.max_requests && !self.control.stopping() {
            state.retire();
        }
        match &state.hooks {
            Some((hooks, worker)) => hooks.pre_request(worker, environ),
            None if state.log.enabled(rwsgi_core::Level::Debug) => {
                state
                    .log
                    .debug(format_args!("{} {}", environ.method, environ.path_info));
            }
            None => {}
        }
        let _leave = Leave(state.enter(environ));
        self.app.call(environ, start_response)
    }
}

/// Beats while the worker can serve; shuts down if its master is gone.
fn heartbeat(state: &WorkerState, control: &Control, timeout: Duration, graceful: Duration) {
    let interval = if timeout.is_zero() {
        Duration::from_secs(1)
    } else {
        (timeout / 2).min(Duration::from_secs(1))
    };
    let parent = nix::unistd::Pid::from_raw(i32::try_from(state.ppid).unwrap_or(0));
    let mut orphaned = false;
    loop {
        std::thread::sleep(interval);
        if !orphaned && nix::unistd::getppid() != parent {
            orphaned = true;
            state.log.info(format_args!(
                "Parent changed, shutting down: <Worker {}>",
                std::process::id()
            ));
            control.stop(graceful);
        }
        if timeout.is_zero() || !state.stuck(timeout) {
            state.tmp.notify();
        }
    }
}

/// The worker's signals (gunicorn's `Worker.init_signals`): TERM graceful,
/// INT and QUIT quick, USR1 reopens the logs, ABRT (the master's timeout)
/// logs the requests the worker is stuck on and exits. The others keep
/// their default dispositions, as in gunicorn.
fn watch_signals(
    control: Arc<Control>,
    state: Arc<WorkerState>,
    hooks: Arc<dyn Hooks>,
    worker: Worker,
    graceful: Duration,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGABRT, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGABRT])?;
    std::thread::Builder::new()
        .name("gunicorn-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGTERM => control.stop(graceful),
                    SIGINT | SIGQUIT => {
                        hooks.worker_int(&worker);
                        control.stop(Duration::ZERO);
                    }
                    SIGUSR1 => state.log.reopen(),
                    SIGABRT => {
                        let stuck = state.describe();
                        if stuck.is_empty() {
                            state.log.error(format_args!(
                                "WORKER TIMEOUT (pid:{}): aborting; no request was inside the application",
                                worker.pid
                            ));
                        }
                        for line in stuck {
                            state.log.error(format_args!(
                                "WORKER TIMEOUT (pid:{}): aborting while handling {line}",
                                worker.pid
                            ));
                        }
                        hooks.worker_abort(&worker);
                        std::process::exit(1);
                    }
                    _ => {}
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_specs_get_gunicorns_codes() {
        fn app(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::empty())
        }
        let registry = Registry::new()
            .app("demo:hello", app)
            .factory("demo:broken()", || {
                Err::<fn(&mut Environ, &StartResponse) -> rwsgi_core::Result<Body>, _>("no db")
            });
        assert!(is_registered(&registry, "demo:hello"));
        assert!(is_registered(&registry, "demo.hello"));
        assert!(!is_registered(&registry, "demo:nope"));
        let (code, message) = unknown_spec(&registry, "demo:nope");
        assert_eq!(code, APP_LOAD_ERROR);
        assert!(
            message.starts_with("Failed to find attribute 'nope' in 'demo'."),
            "{message}"
        );
        assert!(message.contains("demo:hello"));
        let (code, message) = unknown_spec(&registry, "other:app");
        assert_eq!(code, WORKER_BOOT_ERROR);
        assert!(message.starts_with("No module named 'other'"), "{message}");
        assert!(matches!(
            load_app(&registry, "demo:broken()"),
            Err((APP_LOAD_ERROR, _))
        ));
        assert!(load_app(&registry, "demo:hello").is_ok());
    }

    #[test]
    fn classes_map_to_configs() {
        let settings = Settings::defaults(&|_| None);
        let log = Log::stderr();
        let sync = worker_config(&settings, WorkerClass::Sync, &log, None);
        assert_eq!(sync.dispatch, Dispatch::ThreadPool { min: 1, max: 1 });
        assert_eq!((sync.max_connections, sync.keep_alive), (1, Duration::ZERO));
        assert_eq!(sync.io_threads, 1);
        let mut threaded = settings.clone();
        threaded.threads = 8;
        threaded.limit_request_line = 100_000;
        threaded.limit_request_fields = 0;
        let gthread = worker_config(&threaded, WorkerClass::Gthread, &log, None);
        assert_eq!(gthread.dispatch, Dispatch::ThreadPool { min: 8, max: 8 });
        assert_eq!(gthread.max_connections, 1000);
        assert_eq!(gthread.keep_alive, Duration::from_secs(2));
        assert_eq!(gthread.limit_request_line, MAX_REQUEST_LINE);
        assert_eq!(gthread.limit_request_fields, MAX_HEADERS);
        let inline = worker_config(&settings, WorkerClass::Inline("gevent"), &log, None);
        assert_eq!(inline.dispatch, Dispatch::Inline);
        assert!(gthread.validate().is_ok() && inline.validate().is_ok() && sync.validate().is_ok());
    }

    #[test]
    fn jitter_stays_in_range() {
        assert_eq!(jitter(0), 0);
        for _ in 0..100 {
            assert!(jitter(5) <= 5);
        }
    }
}
