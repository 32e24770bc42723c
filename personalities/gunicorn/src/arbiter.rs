//! The master process: gunicorn's arbiter.
//!
//! It binds, forks the workers, and then loops as gunicorn's does: signal
//! handlers only queue (see [`crate::signals`]); each turn of the loop
//! reaps exited workers, handles the queued signals, reads the heartbeats
//! (murdering silent workers), brings the number of workers back to what it
//! should be, and sleeps on the signal pipe for at most a second.
//!
//! The master never starts a thread or a runtime: everything it does is on
//! its one thread, so that `fork` copies a consistent process.

use std::ffi::OsString;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use rwsgi_core::{Addr, Backends, Bind, Config, Listener, Registry, SharedApp};

use crate::glog::Log;
use crate::hooks::{Arbiter as ArbiterView, Hooks, Worker as WorkerView};
use crate::pidfile::Pidfile;
use crate::settings::{self, Settings, WorkerClass};
use crate::signals::{self, Signals};
use crate::tmp::{WorkerTmp, monotonic};
use crate::worker::{self, APP_LOAD_ERROR, WORKER_BOOT_ERROR};

/// What the master was started with, kept for `SIGHUP` (reload) and
/// `SIGUSR2` (re-exec).
pub(crate) struct Start<'a> {
    pub args: Vec<OsString>,
    pub registry: Registry,
    pub backends: &'a dyn Backends,
    pub backend: &'static str,
    pub hooks: Arc<dyn Hooks>,
    pub custom_hooks: bool,
    /// The working directory before `--chdir`, where a re-exec starts.
    pub cwd: PathBuf,
    /// The environment before `--env` changed it.
    pub env: Vec<(OsString, OsString)>,
    pub preloaded: Option<SharedApp>,
}

/// Why the master stops, and how.
struct Halt {
    reason: Option<&'static str>,
    code: u8,
    graceful: bool,
}

impl Halt {
    fn signal(graceful: bool) -> Halt {
        Halt {
            reason: None,
            code: 0,
            graceful,
        }
    }
}

/// Why a worker is leaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retire {
    /// It stays.
    No,
    /// A reload (`SIGHUP`): it goes once its replacements are booted.
    Reload,
    /// It reached `--max-requests`: it goes once its replacement is booted.
    MaxRequests,
}

/// A worker, as the master tracks it.
struct Child {
    pid: Pid,
    age: u64,
    tmp: WorkerTmp,
    /// The monotonic time it was forked.
    spawned: Duration,
    booted: bool,
    /// It asked to be replaced (`--max-requests`).
    wants_retire: bool,
    retire: Retire,
    /// When it was sent `SIGTERM` (or `SIGQUIT`) to leave.
    terminating: Option<Instant>,
    /// When it was sent `SIGABRT` on timeout.
    aborted: Option<Instant>,
}

impl Child {
    fn active(&self) -> bool {
        self.retire == Retire::No && self.terminating.is_none()
    }
}

/// The master.
pub(crate) struct Master<'a> {
    start: Start<'a>,
    settings: Arc<Settings>,
    log: Log,
    class: WorkerClass,
    listeners: Vec<Listener>,
    unix_paths: Vec<PathBuf>,
    workers: Vec<Child>,
    num_workers: usize,
    worker_age: u64,
    pid: u32,
    /// The old master, while this one is a re-exec not yet promoted.
    master_pid: Option<Pid>,
    /// The new master started by `SIGUSR2`, while it runs.
    reexec_pid: Option<Pid>,
    master_name: &'static str,
    pidfile: Option<Pidfile>,
    signals: Option<Signals>,
    last_logged_count: Option<usize>,
}

impl<'a> Master<'a> {
    pub(crate) fn new(start: Start<'a>, settings: Settings, log: Log, class: WorkerClass) -> Master<'a> {
        let num_workers = settings.workers;
        Master {
            start,
            settings: Arc::new(settings),
            log,
            class,
            listeners: Vec::new(),
            unix_paths: Vec::new(),
            workers: Vec::new(),
            num_workers,
            worker_age: 0,
            pid: std::process::id(),
            master_pid: None,
            reexec_pid: None,
            master_name: "Master",
            pidfile: None,
            signals: None,
            last_logged_count: None,
        }
    }

    fn view(&self) -> ArbiterView {
        ArbiterView {
            pid: self.pid,
            num_workers: self.num_workers,
            cfg: Arc::clone(&self.settings),
            log: self.log.clone(),
        }
    }

    fn worker_view(&self, pid: u32, age: u64) -> WorkerView {
        WorkerView {
            pid,
            ppid: self.pid,
            age,
            log: self.log.clone(),
        }
    }

    fn set_num_workers(&mut self, value: usize) {
        let old = self.num_workers;
        self.num_workers = value;
        self.start.hooks.nworkers_changed(&self.view(), value, Some(old));
    }

    /// Runs the master until it stops; returns the process's exit status.
    pub(crate) fn run(mut self) -> u8 {
        if let Err(code) = self.boot() {
            return code;
        }
        let halt = loop {
            if let Err(halt) = self.turn() {
                break halt;
            }
        };
        self.halt(halt)
    }

    /// gunicorn's `Arbiter.start`.
    fn boot(&mut self) -> Result<(), u8> {
        self.log.info(format_args!(
            "Starting gunicorn (rwsgi {}, backend {})",
            env!("CARGO_PKG_VERSION"),
            self.start.backend
        ));
        if let Some(old) = std::env::var("GUNICORN_PID")
            .ok()
            .and_then(|p| p.parse::<i32>().ok())
        {
            self.master_pid = Some(Pid::from_raw(old));
            self.master_name = "Master.2";
        }
        if let Some(path) = self.settings.pidfile.clone() {
            let path = if self.master_pid.is_some() {
                with_suffix(&path, ".2")
            } else {
                path
            };
            match Pidfile::create(&path, self.pid) {
                Ok(pidfile) => self.pidfile = Some(pidfile),
                Err(err) => {
                    eprintln!("\nError: {err}\n");
                    return Err(1);
                }
            }
        }
        self.start
            .hooks
            .nworkers_changed(&self.view(), self.num_workers, None);
        self.start.hooks.on_starting(&self.view());
        match Signals::install() {
            Ok(signals) => self.signals = Some(signals),
            Err(err) => {
                self.log
                    .error(format_args!("Cannot install signal handlers: {err}"));
                return Err(1);
            }
        }
        if let Err(err) = self.create_listeners() {
            self.log.error(format_args!("{err}"));
            if let Some(pidfile) = &self.pidfile {
                pidfile.unlink();
            }
            return Err(1);
        }
        let listening: Vec<String> = self
            .listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|addr| listener_url(&addr))
            .collect();
        self.log.debug(format_args!("Arbiter booted"));
        self.log.info(format_args!(
            "Listening at: {} ({})",
            listening.join(","),
            self.pid
        ));
        self.log.info(format_args!("Using worker: {}", self.class.name()));
        self.start.hooks.when_ready(&self.view());
        Ok(())
    }

    /// Binds `--bind`, or adopts the sockets of the old master
    /// (`GUNICORN_FD`) or of systemd (`LISTEN_FDS`).
    fn create_listeners(&mut self) -> Result<(), String> {
        let mut config = Config::default();
        config.backlog = self.settings.backlog;
        config.reuse_port = self.settings.reuse_port;
        if let Ok(fds) = std::env::var("GUNICORN_FD") {
            // SAFETY: the master is single-threaded: nothing reads the
            // environment concurrently.
            unsafe { std::env::remove_var("GUNICORN_FD") };
            config.binds = fds
                .split(',')
                .map(|fd| fd.trim().parse().map(Bind::Fd))
                .collect::<Result<_, _>>()
                .map_err(|_| format!("GUNICORN_FD={fds:?} is not a list of descriptors"))?;
            self.listeners = rwsgi_core::bind_all(&config).map_err(|e| e.to_string())?;
            return Ok(());
        }
        let systemd = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p == self.pid)
            && std::env::var_os("LISTEN_FDS").is_some();
        config.binds = if systemd {
            vec![Bind::Systemd]
        } else {
            self.settings
                .bind
                .iter()
                .map(|b| b.parse::<Bind>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?
        };
        self.unix_paths = config
            .binds
            .iter()
            .filter_map(|b| match b {
                Bind::Unix { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        // gunicorn binds unix sockets under `--umask`, and gives them to
        // `--user`/`--group`.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(self.settings.umask));
        let mut tries = 0;
        let bound = loop {
            match rwsgi_core::bind_all(&config) {
                Ok(listeners) => break Ok(listeners),
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse && tries < 4 => {
                    tries += 1;
                    self.log.error(format_args!("Connection in use: {err}"));
                    self.log.error(format_args!("Retrying in 1 second."));
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(err) => {
                    break Err(format!(
                        "Can't connect to {}: {err}",
                        self.settings.bind.join(",")
                    ));
                }
            }
        };
        nix::sys::stat::umask(old);
        self.listeners = bound?;
        if self.settings.user.is_some() || self.settings.group.is_some() {
            for path in &self.unix_paths {
                let _ = nix::unistd::chown(
                    path,
                    self.settings.user.map(nix::unistd::Uid::from_raw),
                    self.settings.group.map(nix::unistd::Gid::from_raw),
                );
            }
        }
        Ok(())
    }

    /// One turn of the main loop.
    fn turn(&mut self) -> Result<(), Halt> {
        self.maybe_promote_master();
        self.reap_workers()?;
        self.handle_signals()?;
        self.reap_workers()?;
        self.read_heartbeats();
        self.murder_workers();
        self.manage_workers();
        if let Some(signals) = &self.signals {
            signals.wait(Duration::from_secs(1));
        }
        Ok(())
    }

    fn take(&self, signal: Signal) -> u32 {
        self.signals.as_ref().map_or(0, |s| s.take(signal))
    }

    fn handle_signals(&mut self) -> Result<(), Halt> {
        // Stopping comes first, whatever order the signals came in.
        for (signal, graceful) in [
            (Signal::SIGQUIT, false),
            (Signal::SIGINT, false),
            (Signal::SIGTERM, true),
        ] {
            if self.take(signal) > 0 {
                self.log
                    .info(format_args!("Handling signal: {}", signals::name(signal)));
                return Err(Halt::signal(graceful));
            }
        }
        // SIGCHLD only wakes the loop.
        self.take(Signal::SIGCHLD);
        for signal in [
            Signal::SIGHUP,
            Signal::SIGUSR2,
            Signal::SIGUSR1,
            Signal::SIGWINCH,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
        ] {
            // gunicorn queues at most 5 signals.
            for _ in 0..self.take(signal).min(5) {
                if signal != Signal::SIGWINCH {
                    self.log
                        .info(format_args!("Handling signal: {}", signals::name(signal)));
                }
                match signal {
                    Signal::SIGHUP => self.reload(),
                    Signal::SIGUSR2 => self.reexec(),
                    Signal::SIGUSR1 => {
                        self.log.reopen();
                        self.kill_workers(Signal::SIGUSR1);
                    }
                    Signal::SIGWINCH => self.handle_winch(),
                    Signal::SIGTTIN => {
                        self.set_num_workers(self.num_workers + 1);
                        self.manage_workers();
                    }
                    // Not below one worker, as gunicorn.
                    Signal::SIGTTOU if self.num_workers > 1 => {
                        self.set_num_workers(self.num_workers - 1);
                        self.manage_workers();
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// `SIGWINCH`: stop the workers gracefully (the master stays). gunicorn
    /// only obeys it when daemonized, because a terminal sends it on every
    /// resize; rwsgi ignores it only in that case — when the master is the
    /// foreground process group of its terminal.
    fn handle_winch(&mut self) {
        let foreground =
            nix::unistd::tcgetpgrp(std::io::stdin()).is_ok_and(|pg| pg == nix::unistd::getpgrp());
        if foreground && !self.settings.daemon {
            self.log.debug(format_args!("SIGWINCH ignored. Not daemonized"));
            return;
        }
        self.log.info(format_args!("Handling signal: winch"));
        self.log.info(format_args!("graceful stop of workers"));
        self.set_num_workers(0);
        for i in 0..self.workers.len() {
            self.terminate(i, Signal::SIGTERM);
        }
    }

    /// `SIGHUP`: reload the configuration, start new workers, and retire
    /// the old ones once the new ones are up.
    fn reload(&mut self) {
        self.log.info(format_args!("Hang up: {}", self.master_name));
        let loaded = settings::load(&self.start.args, &|k| std::env::var(k).ok()).and_then(|new| {
            // New workers read the certificate again: a broken one keeps the
            // old workers rather than starting none.
            settings::check_tls(&new).map_err(settings::LoadError::Config)?;
            Ok(new)
        });
        match loaded {
            Ok(new) => match new.worker_class() {
                Ok(class) => {
                    let rebind = new.bind != self.settings.bind;
                    self.class = class;
                    self.settings = Arc::new(new);
                    if rebind && self.master_pid.is_none() {
                        let old = std::mem::take(&mut self.listeners);
                        match self.create_listeners() {
                            Ok(()) => {
                                drop(old);
                                let listening: Vec<String> = self
                                    .listeners
                                    .iter()
                                    .filter_map(|l| l.local_addr().ok())
                                    .map(|a| listener_url(&a))
                                    .collect();
                                self.log
                                    .info(format_args!("Listening at: {}", listening.join(",")));
                            }
                            Err(err) => {
                                self.log.error(format_args!("{err}; keeping the old listeners"));
                                self.listeners = old;
                            }
                        }
                    }
                }
                Err(err) => return self.reload_failed(&err),
            },
            Err(err) => {
                return self.reload_failed(&match err {
                    settings::LoadError::Usage(e) => e.to_string(),
                    settings::LoadError::UsageMessage(m) | settings::LoadError::Config(m) => m,
                });
            }
        }
        self.log.reopen();
        self.start.hooks.on_reload(&self.view());
        if let Some(path) = self.settings.pidfile.clone() {
            if let Some(old) = self.pidfile.take() {
                old.unlink();
            }
            let path = if self.master_pid.is_some() {
                with_suffix(&path, ".2")
            } else {
                path
            };
            match Pidfile::create(&path, self.pid) {
                Ok(p) => self.pidfile = Some(p),
                Err(err) => self.log.error(format_args!("{err}")),
            }
        }
        if self.settings.workers != self.num_workers {
            self.set_num_workers(self.settings.workers);
        }
        for child in &mut self.workers {
            if child.terminating.is_none() {
                child.retire = Retire::Reload;
            }
        }
        self.manage_workers();
    }

    /// A reload whose configuration (or certificate) is wrong changes
    /// nothing: the workers serving now go on, since new ones could not boot.
    fn reload_failed(&mut self, why: &str) {
        self.log.error(format_args!(
            "Reload failed, keeping the configuration and the workers: {why}"
        ));
        self.log.reopen();
    }

    /// `SIGUSR2`: start a new master from the same binary and arguments on
    /// the same sockets. This one keeps running until told (`SIGWINCH`
    /// stops its workers, `SIGTERM` stops it).
    fn reexec(&mut self) {
        if self.reexec_pid.is_some() {
            self.log
                .warning(format_args!("USR2 signal ignored. Child exists."));
            return;
        }
        if self.master_pid.is_some() {
            self.log
                .warning(format_args!("USR2 signal ignored. Parent exists."));
            return;
        }
        self.start.hooks.pre_exec(&self.view());
        // The program as it was started (not /proc/self/exe): after a binary
        // upgrade, the path names the new binary.
        let mut argv = std::env::args_os();
        let arg0 = argv.next().unwrap_or_default();
        let exe = if Path::new(&arg0).components().count() > 1 {
            self.start.cwd.join(&arg0)
        } else if arg0.is_empty() {
            match std::env::current_exe() {
                Ok(exe) => exe,
                Err(err) => {
                    self.log.error(format_args!("Cannot re-exec: {err}"));
                    return;
                }
            }
        } else {
            PathBuf::from(&arg0) // looked up in PATH
        };
        let fds: Vec<String> = self.listeners.iter().map(|l| l.as_raw_fd().to_string()).collect();
        let mut command = std::process::Command::new(&exe);
        std::os::unix::process::CommandExt::arg0(&mut command, arg0);
        command
            .args(argv)
            .env_clear()
            .envs(self.start.env.iter().map(|(k, v)| (k, v)))
            .env("GUNICORN_PID", self.pid.to_string())
            .env("GUNICORN_FD", fds.join(","))
            .current_dir(&self.start.cwd);
        // The listeners are close-on-exec; the new master must inherit them.
        for listener in &self.listeners {
            let _ = set_cloexec(listener.as_raw_fd(), false);
        }
        let spawned = command.spawn();
        for listener in &self.listeners {
            let _ = set_cloexec(listener.as_raw_fd(), true);
        }
        match spawned {
            Ok(child) => {
                let pid = i32::try_from(child.id()).unwrap_or(0);
                self.reexec_pid = Some(Pid::from_raw(pid));
                // Reaped by `reap_workers`; dropping the handle neither
                // waits for nor stops it.
                drop(child);
            }
            Err(err) => self
                .log
                .error(format_args!("Cannot re-exec {}: {err}", exe.display())),
        }
    }

    /// A re-executed master whose old master is gone takes over the name.
    fn maybe_promote_master(&mut self) {
        let Some(old) = self.master_pid else { return };
        if nix::unistd::getppid() == old {
            return;
        }
        self.log.info(format_args!("Master has been promoted."));
        self.master_name = "Master";
        self.master_pid = None;
        // SAFETY: the master is single-threaded.
        unsafe { std::env::remove_var("GUNICORN_PID") };
        if let (Some(pidfile), Some(path)) = (&mut self.pidfile, &self.settings.pidfile) {
            if let Err(err) = pidfile.rename(path) {
                self.log.error(format_args!("{err}"));
            }
        }
    }

    fn reap_workers(&mut self) -> Result<(), Halt> {
        loop {
            let status = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(err) => {
                    self.log.error(format_args!("waitpid failed: {err}"));
                    return Ok(());
                }
                Ok(status) => status,
            };
            let Some(pid) = status.pid() else { continue };
            if self.reexec_pid == Some(pid) {
                self.reexec_pid = None;
                self.log
                    .warning(format_args!("The new master (pid:{pid}) exited: {status:?}"));
                continue;
            }
            let Some(index) = self.workers.iter().position(|c| c.pid == pid) else {
                continue;
            };
            let child = self.workers.remove(index);
            match status {
                WaitStatus::Exited(_, code) => {
                    if code != 0 {
                        self.log
                            .error(format_args!("Worker (pid:{pid}) exited with code {code}."));
                    }
                    if code == WORKER_BOOT_ERROR {
                        return Err(Halt {
                            reason: Some("Worker failed to boot."),
                            code: 3,
                            graceful: true,
                        });
                    }
                    if code == APP_LOAD_ERROR {
                        return Err(Halt {
                            reason: Some("App failed to load."),
                            code: 4,
                            graceful: true,
                        });
                    }
                }
                WaitStatus::Signaled(_, signal, _) => {
                    let mut message = format!("Worker (pid:{pid}) was sent {}!", signal.as_str());
                    if signal == Signal::SIGKILL {
                        message.push_str(" Perhaps out of memory?");
                    }
                    if child.terminating.is_some() && signal == Signal::SIGTERM {
                        self.log.info(format_args!("{message}"));
                    } else {
                        self.log.error(format_args!("{message}"));
                    }
                }
                _ => {}
            }
            let view = self.worker_view(u32::try_from(pid.as_raw()).unwrap_or(0), child.age);
            self.start.hooks.child_exit(&self.view(), &view);
        }
    }

    /// Reads every heartbeat file: boot, and requests to be replaced.
    fn read_heartbeats(&mut self) {
        let mut retiring = self.workers.iter().any(|c| c.retire == Retire::MaxRequests);
        let mut order: Vec<usize> = (0..self.workers.len()).collect();
        order.sort_by_key(|&i| self.workers[i].age);
        for i in order {
            let child = &mut self.workers[i];
            let Ok(beat) = child.tmp.beat() else { continue };
            if beat.last.is_some() && !child.booted {
                child.booted = true;
            }
            if beat.retire {
                child.wants_retire = true;
            }
            // One `--max-requests` retirement at a time, so that workers
            // never all restart together.
            if child.wants_retire && child.retire == Retire::No && child.terminating.is_none() && !retiring {
                child.retire = Retire::MaxRequests;
                retiring = true;
            }
        }
    }

    /// gunicorn's `murder_workers`: a worker silent for `--timeout` gets
    /// `SIGABRT`, and `SIGKILL` if it is still there a second later.
    fn murder_workers(&mut self) {
        let now = monotonic();
        let timeout = Duration::from_secs(self.settings.timeout);
        let graceful = Duration::from_secs(self.settings.graceful_timeout);
        for i in 0..self.workers.len() {
            let child = &self.workers[i];
            let pid = child.pid;
            // A worker told to leave that outstays its grace period.
            if child
                .terminating
                .is_some_and(|t| t.elapsed() > graceful + Duration::from_secs(2))
            {
                let _ = kill(pid, Signal::SIGKILL);
                continue;
            }
            if timeout.is_zero() {
                continue;
            }
            let Ok(beat) = child.tmp.beat() else { continue };
            let last = beat.last.unwrap_or(child.spawned);
            if now.saturating_sub(last) <= timeout {
                continue;
            }
            match child.aborted {
                None => {
                    self.log.critical(format_args!("WORKER TIMEOUT (pid:{pid})"));
                    self.workers[i].aborted = Some(Instant::now());
                    let _ = kill(pid, Signal::SIGABRT);
                }
                Some(at) if at.elapsed() >= Duration::from_secs(1) => {
                    let _ = kill(pid, Signal::SIGKILL);
                }
                Some(_) => {}
            }
        }
    }

    /// Keeps `num_workers` active workers; retires old ones once their
    /// replacements are booted.
    fn manage_workers(&mut self) {
        // Decisions below depend on who has booted: read it fresh.
        self.read_heartbeats();
        let active = self.workers.iter().filter(|c| c.active()).count();
        for _ in active..self.num_workers {
            if let Err(err) = self.spawn_worker() {
                self.log.error(format_args!("Cannot spawn a worker: {err}"));
                break;
            }
        }
        // Too many (SIGTTOU): the oldest go.
        let mut active: Vec<usize> = (0..self.workers.len())
            .filter(|&i| self.workers[i].active())
            .collect();
        active.sort_by_key(|&i| self.workers[i].age);
        let excess = active.len().saturating_sub(self.num_workers);
        for &i in active.iter().take(excess) {
            self.terminate(i, Signal::SIGTERM);
        }
        // Retiring workers go when enough new ones are up.
        let booted = self.workers.iter().filter(|c| c.active() && c.booted).count();
        let mut retiring: Vec<usize> = (0..self.workers.len())
            .filter(|&i| self.workers[i].retire != Retire::No && self.workers[i].terminating.is_none())
            .collect();
        retiring.sort_by_key(|&i| self.workers[i].age);
        for i in retiring {
            if !self.workers[i].booted || booted >= self.num_workers {
                self.terminate(i, Signal::SIGTERM);
            }
        }
        let count = self.workers.iter().filter(|c| c.terminating.is_none()).count();
        if self.last_logged_count != Some(count) {
            self.last_logged_count = Some(count);
            self.log.debug(format_args!("{count} workers"));
        }
    }

    fn terminate(&mut self, index: usize, signal: Signal) {
        let child = &mut self.workers[index];
        if child.terminating.is_none() {
            child.terminating = Some(Instant::now());
            let _ = kill(child.pid, signal);
        }
    }

    fn kill_workers(&self, signal: Signal) {
        for child in &self.workers {
            let _ = kill(child.pid, signal);
        }
    }

    fn spawn_worker(&mut self) -> std::io::Result<()> {
        self.worker_age += 1;
        let age = self.worker_age;
        let tmp = WorkerTmp::new(
            self.settings.worker_tmp_dir.as_deref(),
            (self.settings.user, self.settings.group),
        )?;
        self.start.hooks.pre_fork(&self.view(), &self.worker_view(0, age));
        let spawned = monotonic();
        // SAFETY: the master is single-threaded (it never starts a thread
        // or a runtime, and `crate::Gunicorn::run` warns when it was called
        // with threads running), so the child gets a consistent copy of
        // the process: no lock is held by a thread that does not exist in
        // it. The child never returns from this function: it serves and
        // exits.
        match unsafe { nix::unistd::fork() }? {
            ForkResult::Parent { child } => {
                self.workers.push(Child {
                    pid: child,
                    age,
                    tmp,
                    spawned,
                    booted: false,
                    wants_retire: false,
                    retire: Retire::No,
                    terminating: None,
                    aborted: None,
                });
                Ok(())
            }
            ForkResult::Child => {
                // A panic must never unwind into the master's code in this
                // process: it ends the worker (before boot: a boot error,
                // as gunicorn's exception in a worker that has not booted).
                let run = std::panic::AssertUnwindSafe(|| self.become_worker(age, tmp));
                let code = std::panic::catch_unwind(run)
                    .unwrap_or_else(|_| if worker::booted() { 1 } else { WORKER_BOOT_ERROR });
                std::process::exit(code)
            }
        }
    }

    /// In the child just forked: drop what belongs to the master and run
    /// the worker.
    fn become_worker(&mut self, age: u64, tmp: WorkerTmp) -> i32 {
        if let Some(signals) = self.signals.take() {
            signals.reset_in_child();
        }
        // The other workers' heartbeat files are the master's business.
        self.workers.clear();
        let boot = worker::Boot {
            settings: Arc::clone(&self.settings),
            log: self.log.clone(),
            hooks: Arc::clone(&self.start.hooks),
            custom_hooks: self.start.custom_hooks,
            registry: self.start.registry.clone(),
            backends: self.start.backends,
            backend: self.start.backend,
            class: self.class,
            listeners: std::mem::take(&mut self.listeners),
            tmp,
            age,
            ppid: self.pid,
            num_workers: self.num_workers,
            preloaded: self.start.preloaded.clone(),
        };
        worker::run(boot)
    }

    /// gunicorn's `halt`: stop the workers, say why, and exit.
    fn halt(mut self, halt: Halt) -> u8 {
        self.stop(halt.graceful);
        if halt.code == 0 {
            self.log.info(format_args!("Shutting down: {}", self.master_name));
        } else {
            self.log
                .error(format_args!("Shutting down: {}", self.master_name));
        }
        if let Some(reason) = halt.reason {
            if halt.code == 0 {
                self.log.info(format_args!("Reason: {reason}"));
            } else {
                self.log.error(format_args!("Reason: {reason}"));
            }
        }
        if let Some(pidfile) = &self.pidfile {
            pidfile.unlink();
        }
        self.start.hooks.on_exit(&self.view());
        halt.code
    }

    /// gunicorn's `stop`: close the listeners, ask the workers to leave
    /// (`SIGTERM` graceful, `SIGQUIT` quick), wait up to
    /// `--graceful-timeout`, then `SIGKILL` what is left. A `SIGINT` or
    /// `SIGQUIT` during a graceful stop makes it quick.
    fn stop(&mut self, graceful: bool) {
        let unlink = self.reexec_pid.is_none() && self.master_pid.is_none() && !self.settings.reuse_port;
        self.listeners.clear();
        if unlink {
            for path in &self.unix_paths {
                let _ = std::fs::remove_file(path);
            }
        }
        let signal = if graceful {
            Signal::SIGTERM
        } else {
            Signal::SIGQUIT
        };
        self.kill_workers(signal);
        let deadline = Instant::now() + Duration::from_secs(self.settings.graceful_timeout);
        let mut quick = !graceful;
        while !self.workers.is_empty() && Instant::now() < deadline {
            let _ = self.reap_workers();
            if self.workers.is_empty() {
                break;
            }
            if !quick && (self.take(Signal::SIGINT) > 0 || self.take(Signal::SIGQUIT) > 0) {
                quick = true;
                self.kill_workers(Signal::SIGQUIT);
            }
            if let Some(signals) = &self.signals {
                signals.wait(Duration::from_millis(100));
            }
        }
        let _ = self.reap_workers();
        self.kill_workers(Signal::SIGKILL);
        for child in std::mem::take(&mut self.workers) {
            let _ = waitpid(child.pid, None);
        }
    }
}

/// gunicorn's listener name: `http://HOST:PORT` or `unix:PATH`.
fn listener_url(addr: &Addr) -> String {
    match addr {
        Addr::Tcp(a) => format!("http://{a}"),
        Addr::Unix(_) => addr.to_string(),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn set_cloexec(fd: i32, on: bool) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    // SAFETY: `fd` is a listener this master owns and keeps open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = if on { FdFlag::FD_CLOEXEC } else { FdFlag::empty() };
    fcntl(fd, FcntlArg::F_SETFD(flags)).map(drop)
}

/// The environment as pairs, for a re-exec.
pub(crate) fn environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}
