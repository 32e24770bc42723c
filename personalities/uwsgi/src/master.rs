//! The master: forks the workers, respawns them, enforces `--harakiri`,
//! serves `--stats`, and turns signals into uWSGI's reloads and stops.
//!
//! The master never starts a thread: it waits in `poll(2)` on a pipe that
//! the signal handlers write to and on the stats socket, and wakes once a
//! second for the harakiri check. So forking a worker (or respawning one
//! later) copies a single-threaded process.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use rwsgi_core::SharedApp;
use signal_hook::SigId;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};

use crate::log;
use crate::scoreboard::now_secs;
use crate::worker::Control;
use crate::{Plan, stats};

/// What the master is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Keeping the workers up.
    Running,
    /// Waiting for the workers to die, to spawn a new generation.
    Reloading,
    /// Waiting for the workers to die, to exit.
    Dying,
}

struct Flags {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
}

struct Master<'p, 'a> {
    plan: &'p Plan<'a>,
    app: Option<SharedApp>,
    pids: Vec<Option<Pid>>,
    /// The current pid was already killed for harakiri.
    cursed: Vec<bool>,
    /// When a worker that died too fast may be respawned.
    respawn_at: Vec<Option<Instant>>,
    state: State,
    mercy: Option<Instant>,
    flags: Flags,
    signal_ids: Vec<SigId>,
    wake: Option<UnixStream>,
    stats: Option<stats::StatsListener>,
}

/// Runs the master until INT (or QUIT, or TERM with `--die-on-term`).
///
/// # Errors
///
/// When signal handlers cannot be installed or the first workers cannot be
/// forked.
pub fn run(
    plan: &Plan<'_>,
    app: Option<SharedApp>,
    stats: Option<stats::StatsListener>,
) -> Result<(), String> {
    let (wake, wake_writer) = UnixStream::pair().map_err(|e| e.to_string())?;
    wake.set_nonblocking(true).map_err(|e| e.to_string())?;
    wake_writer.set_nonblocking(true).map_err(|e| e.to_string())?;
    let flags = Flags {
        hup: Arc::default(),
        term: Arc::default(),
        int: Arc::default(),
        quit: Arc::default(),
        usr1: Arc::default(),
    };
    let mut signal_ids = Vec::new();
    let register = |ids: &mut Vec<SigId>, signal: i32, flag: Option<&Arc<AtomicBool>>| -> io::Result<()> {
        if let Some(flag) = flag {
            ids.push(signal_hook::flag::register(signal, Arc::clone(flag))?);
        }
        ids.push(signal_hook::low_level::pipe::register(
            signal,
            wake_writer.try_clone()?,
        )?);
        Ok(())
    };
    for (signal, flag) in [
        (SIGHUP, Some(&flags.hup)),
        (SIGTERM, Some(&flags.term)),
        (SIGINT, Some(&flags.int)),
        (SIGQUIT, Some(&flags.quit)),
        (SIGUSR1, Some(&flags.usr1)),
        (SIGCHLD, None),
    ] {
        register(&mut signal_ids, signal, flag)
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    }
    drop(wake_writer);
    let workers = plan.settings.processes.max(1);
    let mut master = Master {
        plan,
        app,
        pids: vec![None; workers],
        cursed: vec![false; workers],
        respawn_at: vec![None; workers],
        state: State::Running,
        mercy: None,
        flags,
        signal_ids,
        wake: Some(wake),
        stats,
    };
    log::line(
        plan.settings.log_date,
        &format!("spawned uWSGI master process (pid: {})", std::process::id()),
    );
    for wid in 0..workers {
        master.spawn(wid, false)?;
    }
    master.run_loop()
}

impl Master<'_, '_> {
    fn run_loop(&mut self) -> Result<(), String> {
        let mut last_check = Instant::now();
        loop {
            self.wait(Duration::from_millis(1000).saturating_sub(last_check.elapsed()));
            self.handle_signals();
            self.serve_stats();
            self.reap();
            let now = Instant::now();
            for wid in 0..self.pids.len() {
                if self.state == State::Running && self.pids[wid].is_none() {
                    if let Some(at) = self.respawn_at[wid] {
                        if at <= now {
                            self.respawn_at[wid] = None;
                            self.spawn(wid, true)?;
                        }
                    }
                }
            }
            let all_dead = self.pids.iter().all(Option::is_none);
            match self.state {
                State::Reloading if all_dead => {
                    self.mercy = None;
                    if !self.plan.settings.lazy_apps {
                        // The reload loads the application again (uWSGI
                        // re-executes itself).
                        match crate::load_app(self.plan) {
                            Ok(app) => self.app = Some(app),
                            Err((message, _)) => log::line(self.plan.settings.log_date, &message),
                        }
                    }
                    log::line(self.plan.settings.log_date, "...respawning the workers (reload)");
                    self.state = State::Running;
                    for wid in 0..self.pids.len() {
                        self.respawn_at[wid] = None;
                        self.spawn(wid, true)?;
                    }
                }
                State::Dying if all_dead => {
                    log::line(self.plan.settings.log_date, "goodbye to uWSGI.");
                    for id in self.signal_ids.drain(..) {
                        signal_hook::low_level::unregister(id);
                    }
                    return Ok(());
                }
                _ => {}
            }
            if let Some(deadline) = self.mercy {
                if Instant::now() >= deadline {
                    for (wid, pid) in self.pids.iter().enumerate() {
                        if let Some(pid) = pid {
                            log::line(
                                self.plan.settings.log_date,
                                &format!(
                                    "worker {} (pid: {pid}) is taking too much time to die...NO MERCY !!!",
                                    wid + 1
                                ),
                            );
                            let _ = kill(*pid, Signal::SIGKILL);
                        }
                    }
                    self.mercy = None;
                }
            }
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                self.check_harakiri();
            }
        }
    }

    /// Sleeps until a signal, a stats client or `timeout`.
    fn wait(&mut self, timeout: Duration) {
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(1000);
        {
            let mut fds = Vec::with_capacity(2);
            if let Some(wake) = &self.wake {
                fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
            }
            if let Some(stats) = &self.stats {
                fds.push(PollFd::new(stats.as_fd(), PollFlags::POLLIN));
            }
            let _ = poll(&mut fds, millis);
        }
        if let Some(wake) = &mut self.wake {
            let mut sink = [0u8; 64];
            while matches!(wake.read(&mut sink), Ok(n) if n > 0) {}
        }
    }

    fn handle_signals(&mut self) {
        let die_on_term = self.plan.settings.die_on_term;
        if self.flags.int.swap(false, Ordering::AcqRel) {
            self.kill_them_all();
        }
        if self.flags.term.swap(false, Ordering::AcqRel) {
            if die_on_term {
                self.kill_them_all();
            } else {
                self.reap_them_all();
            }
        }
        if self.flags.quit.swap(false, Ordering::AcqRel) {
            if die_on_term {
                self.reap_them_all();
            } else {
                self.kill_them_all();
            }
        }
        if self.flags.hup.swap(false, Ordering::AcqRel) {
            self.grace_them_all();
        }
        if self.flags.usr1.swap(false, Ordering::AcqRel) {
            log::line(false, &stats::json(self.plan, &self.pids));
        }
    }

    /// HUP: every worker finishes its requests and exits; then a new
    /// generation is spawned.
    fn grace_them_all(&mut self) {
        if self.state == State::Dying {
            return;
        }
        log::line(self.plan.settings.log_date, "...gracefully killing workers...");
        self.signal_all(Signal::SIGHUP);
        self.state = State::Reloading;
        self.mercy = Some(Instant::now() + Duration::from_secs(self.plan.settings.reload_mercy));
    }

    /// TERM: the workers exit at once; then a new generation is spawned.
    fn reap_them_all(&mut self) {
        if self.state == State::Dying {
            return;
        }
        log::line(self.plan.settings.log_date, "...brutally killing workers...");
        self.signal_all(Signal::SIGTERM);
        self.state = State::Reloading;
        self.mercy = Some(Instant::now() + Duration::from_secs(self.plan.settings.reload_mercy.max(1)));
    }

    /// INT (QUIT): the workers exit at once, then the master.
    fn kill_them_all(&mut self) {
        if self.state == State::Dying {
            return;
        }
        log::line(
            self.plan.settings.log_date,
            "SIGINT/SIGQUIT received...killing workers...",
        );
        self.signal_all(Signal::SIGINT);
        self.state = State::Dying;
        let mercy = match self.plan.settings.reload_mercy {
            0 => 5,
            n => n,
        };
        self.mercy = Some(Instant::now() + Duration::from_secs(mercy));
    }

    fn signal_all(&self, signal: Signal) {
        for pid in self.pids.iter().flatten() {
            let _ = kill(*pid, signal);
        }
    }

    fn serve_stats(&mut self) {
        if let Some(listener) = &self.stats {
            listener.serve_pending(&stats::json(self.plan, &self.pids), self.plan.settings.stats_http);
        }
    }

    /// Collects dead workers; respawns them while running.
    fn reap(&mut self) {
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => status,
            };
            let (pid, signal, code) = match status {
                WaitStatus::Exited(pid, code) => (pid, None, code),
                WaitStatus::Signaled(pid, signal, _) => (pid, Some(signal), 0),
                _ => continue,
            };
            let Some(wid) = self.pids.iter().position(|p| *p == Some(pid)) else {
                continue;
            };
            self.pids[wid] = None;
            self.cursed[wid] = false;
            self.clear_slot(wid);
            let dated = self.plan.settings.log_date;
            let spawned = self.plan.board.worker(wid).last_spawn.load(Ordering::Relaxed);
            if self.state != State::Running {
                log::line(
                    dated,
                    &format!(
                        "worker {} buried after {} seconds",
                        wid + 1,
                        now_secs().saturating_sub(spawned)
                    ),
                );
                continue;
            }
            match (signal, code) {
                (Some(signal), _) => log::line(
                    dated,
                    &format!(
                        "DAMN ! worker {} (pid: {pid}) died, killed by signal {} :( trying respawn ...",
                        wid + 1,
                        signal as i32
                    ),
                ),
                (None, 0) => log::line(
                    dated,
                    &format!("worker {} killed successfully (pid: {pid})", wid + 1),
                ),
                (None, _) => log::line(
                    dated,
                    &format!(
                        "DAMN ! worker {} (pid: {pid}) died :( trying respawn ...",
                        wid + 1
                    ),
                ),
            }
            let delay = if now_secs().saturating_sub(spawned) < 1 {
                log::line(
                    dated,
                    "worker respawning too fast !!! i have to sleep a bit (2 seconds)...",
                );
                Duration::from_secs(2)
            } else {
                Duration::ZERO
            };
            self.respawn_at[wid] = Some(Instant::now() + delay);
        }
    }

    fn clear_slot(&self, wid: usize) {
        let board = &self.plan.board;
        let slot = board.worker(wid);
        slot.pid.store(0, Ordering::Release);
        slot.accepting.store(0, Ordering::Release);
        for core in 0..board.cores() {
            let c = board.core(wid, core);
            c.deadline.store(0, Ordering::Release);
            c.in_request.store(0, Ordering::Release);
        }
    }

    /// `--harakiri`: a worker whose request is past its deadline is killed
    /// (and respawned by [`reap`](Self::reap)), the request logged.
    fn check_harakiri(&mut self) {
        if self.plan.settings.harakiri == 0 {
            return;
        }
        let board = &self.plan.board;
        let now = now_secs();
        for wid in 0..self.pids.len() {
            let Some(pid) = self.pids[wid] else { continue };
            if self.cursed[wid] {
                continue;
            }
            let expired = (0..board.cores()).any(|c| {
                let core = board.core(wid, c);
                let deadline = core.deadline.load(Ordering::Acquire);
                core.in_request.load(Ordering::Acquire) == 1 && deadline > 0 && deadline < now
            });
            if !expired {
                continue;
            }
            let n = wid + 1;
            log::verbose(&format!("*** HARAKIRI ON WORKER {n} (pid: {pid}, try: 1) ***"));
            log::verbose(&format!("HARAKIRI !!! worker {n} status !!!"));
            for c in 0..board.cores() {
                let core = board.core(wid, c);
                if core.in_request.load(Ordering::Acquire) == 1 {
                    let since = core.started.load(Ordering::Acquire) / 1_000_000;
                    log::verbose(&format!("HARAKIRI [core {c}] {} since {since}", core.line()));
                }
            }
            log::verbose(&format!("HARAKIRI !!! end of worker {n} status !!!"));
            let _ = kill(pid, Signal::SIGKILL);
            board.worker(wid).harakiri_count.fetch_add(1, Ordering::Relaxed);
            self.cursed[wid] = true;
        }
    }

    /// Forks worker `wid`.
    fn spawn(&mut self, wid: usize, respawn: bool) -> Result<(), String> {
        if let Some(threads) = crate::thread_count().filter(|&n| n != 1) {
            return Err(format!(
                "the master runs {threads} threads and cannot fork safely (did the application start threads? use --lazy-apps)"
            ));
        }
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let board = self.plan.board;
        // SAFETY: the master is single-threaded (checked just above), so
        // the child is a consistent copy of it. The child never returns
        // into the master's loop: it runs the worker and exits.
        match unsafe { nix::unistd::fork() } {
            Err(err) => Err(format!("fork(): {err}")),
            Ok(ForkResult::Child) => {
                let code = self.worker_main(wid);
                let _ = io::stdout().flush();
                let _ = io::stderr().flush();
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                self.pids[wid] = Some(child);
                let slot = board.worker(wid);
                slot.pid.store(child.as_raw(), Ordering::Release);
                slot.last_spawn.store(now_secs(), Ordering::Relaxed);
                slot.requests.store(0, Ordering::Relaxed);
                let dated = self.plan.settings.log_date;
                if respawn {
                    slot.respawn_count.fetch_add(1, Ordering::Relaxed);
                    log::line(
                        dated,
                        &format!("Respawned uWSGI worker {} (new pid: {child})", wid + 1),
                    );
                } else {
                    log::line(
                        dated,
                        &format!(
                            "spawned uWSGI worker {} (pid: {child}, cores: {})",
                            wid + 1,
                            self.plan.settings.threads.max(1)
                        ),
                    );
                }
                Ok(())
            }
        }
    }

    /// In the child: drop the master's signal handling and descriptors,
    /// then serve until told to stop. Returns the exit status.
    fn worker_main(&mut self, wid: usize) -> i32 {
        for id in self.signal_ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        self.wake = None;
        self.stats = None;
        let plan = self.plan;
        let app = match self.app.clone() {
            Some(app) => app,
            None => match crate::load_app(plan) {
                Ok(app) => app,
                Err((message, code)) => {
                    log::line(plan.settings.log_date, &message);
                    return code;
                }
            },
        };
        let control = Arc::new(Control::default());
        let signals = match worker_signals(wid, &control, plan) {
            Ok(handle) => handle,
            Err(err) => {
                log::line(plan.settings.log_date, &format!("worker signals: {err}"));
                return 1;
            }
        };
        let result = crate::worker::serve(plan, wid, app, &control);
        signals.close();
        match result {
            Ok(()) => 0,
            Err(err) => {
                log::line(plan.settings.log_date, &err);
                1
            }
        }
    }
}

/// A worker's signals, as uWSGI's: HUP finishes the requests in flight and
/// exits (`gracefully_kill`); TERM exits at once (`reload_me`); INT and
/// QUIT exit at once (`end_me`).
fn worker_signals(
    wid: usize,
    control: &Arc<Control>,
    plan: &Plan<'_>,
) -> io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT, SIGQUIT])?;
    let handle = signals.handle();
    let control = Arc::clone(control);
    let mercy = Duration::from_secs(plan.settings.reload_mercy);
    let dated = plan.settings.log_date;
    std::thread::Builder::new()
        .name("uwsgi-worker-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        log::line(
                            dated,
                            &format!(
                                "Gracefully killing worker {} (pid: {})...",
                                wid + 1,
                                std::process::id()
                            ),
                        );
                        control.stop(mercy);
                    }
                    // UWSGI_RELOAD_CODE and UWSGI_END_CODE.
                    SIGTERM => std::process::exit(17),
                    _ => std::process::exit(30),
                }
            }
        })?;
    Ok(handle)
}
