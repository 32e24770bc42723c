//! A worker: the servers of every socket group on one application, its
//! requests tracked on the scoreboard, and the controls that stop it.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rwsgi_core::{
    Addr, Application, Backends, Body, BoxError, Environ, Launch, ServerHandle, SharedApp, StartResponse,
};

use crate::log::{self, CoreId, RequestLog};
use crate::scoreboard::Scoreboard;
use crate::{Group, Plan};

/// Stops a worker's servers, including those still starting.
#[derive(Default)]
pub struct Control {
    handles: Mutex<Vec<ServerHandle>>,
    /// The grace asked for, once a stop was asked.
    stop: Mutex<Option<Duration>>,
    /// The stop is a reload (the single-process mode serves again).
    pub reload: AtomicBool,
}

impl Control {
    /// A server started: it obeys a stop already asked for.
    pub fn register(&self, handle: ServerHandle) {
        if let Some(grace) = *self.stop.lock().unwrap_or_else(|e| e.into_inner()) {
            handle.shutdown(grace);
        }
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Stops every server within `grace` (a later, shorter grace wins).
    pub fn stop(&self, grace: Duration) {
        {
            let mut stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
            *stop = Some(stop.map_or(grace, |g| g.min(grace)));
        }
        for handle in self.handles.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            handle.shutdown(grace);
        }
    }

    /// Forgets the servers and the stop (before serving again).
    pub fn reset(&self) {
        self.handles.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.reload.store(false, Ordering::SeqCst);
    }
}

/// The application with its requests recorded on the scoreboard (for
/// `--harakiri`, `--stats`, `--max-requests`).
#[derive(Clone)]
struct Tracked {
    app: SharedApp,
    board: Scoreboard,
    worker: usize,
    harakiri: u64,
    max_requests: u64,
    mercy: Duration,
    control: Arc<Control>,
    retiring: Arc<AtomicBool>,
}

/// Ends a request's record when dropped (after the body, or at once when
/// the application fails).
struct Record {
    tracked: Tracked,
    core: Option<usize>,
    started: Instant,
}

impl Drop for Record {
    fn drop(&mut self) {
        let t = &self.tracked;
        if let Some(core) = self.core {
            t.board.core(t.worker, core).end();
        }
        let slot = t.board.worker(t.worker);
        let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        slot.running_time.fetch_add(micros, Ordering::Relaxed);
        let done = slot.requests.fetch_add(1, Ordering::AcqRel) + 1;
        if t.max_requests > 0 && done >= t.max_requests && !t.retiring.swap(true, Ordering::AcqRel) {
            log::line(
                false,
                &format!("...The work of process {} is done. Seeya!", std::process::id()),
            );
            t.control.stop(t.mercy);
        }
    }
}

impl Application for Tracked {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let core = self.board.claim(self.worker);
        if let Some(core) = core {
            let uri = environ
                .get("REQUEST_URI")
                .map_or_else(|| environ.raw_uri.clone(), |u| u.into_owned());
            let line = format!(
                "{} - {} {uri}",
                environ.remote_addr.as_deref().unwrap_or(""),
                environ.method
            );
            self.board.core(self.worker, core).begin(&line, self.harakiri);
            environ.insert_value("uwsgi.core", CoreId(core));
        }
        let record = Record {
            tracked: self.clone(),
            core,
            started: Instant::now(),
        };
        match catch_unwind(AssertUnwindSafe(|| self.app.call(environ, start_response))) {
            Ok(Ok(body)) => Ok(body.on_close(move || drop(record))),
            Ok(Err(err)) => {
                self.board
                    .worker(self.worker)
                    .exceptions
                    .fetch_add(1, Ordering::Relaxed);
                Err(err)
            }
            Err(panic) => {
                self.board
                    .worker(self.worker)
                    .exceptions
                    .fetch_add(1, Ordering::Relaxed);
                drop(record);
                resume_unwind(panic)
            }
        }
    }
}

/// Serves `app` as worker `worker` (0-based) until `control` stops every
/// server. `ready` runs once all servers listen.
pub fn serve(plan: &Plan<'_>, worker: usize, app: SharedApp, control: &Arc<Control>) -> Result<(), String> {
    let slot = plan.board.worker(worker);
    slot.accepting.store(0, Ordering::Release);
    let tracked = Tracked {
        app,
        board: plan.board,
        worker,
        harakiri: plan.settings.harakiri,
        max_requests: plan.settings.max_requests,
        mercy: Duration::from_secs(plan.settings.reload_mercy),
        control: Arc::clone(control),
        retiring: Arc::new(AtomicBool::new(false)),
    };
    let app = SharedApp::new(tracked);
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let groups = plan.groups.len();
    let result: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let threads: Vec<_> = plan
            .groups
            .iter()
            .map(|group| {
                let launch = launch(plan, group, worker, app.clone(), control, &started, groups);
                let backends: &dyn Backends = plan.backends;
                let backend = plan.backend;
                scope.spawn(move || launch.and_then(|l| backends.serve(backend, l)))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a server thread panicked")))
            })
            .collect()
    });
    slot.accepting.store(0, Ordering::Release);
    for r in result {
        r.map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn launch(
    plan: &Plan<'_>,
    group: &Group,
    worker: usize,
    app: SharedApp,
    control: &Arc<Control>,
    started: &Arc<std::sync::atomic::AtomicUsize>,
    groups: usize,
) -> std::io::Result<Launch> {
    let mut config = group.config.clone();
    config.access_log = Some(Arc::new(RequestLog {
        worker,
        board: plan.board,
        dated: plan.settings.log_date,
        print: !plan.settings.disable_logging,
    }));
    let listeners = group
        .listeners
        .iter()
        .map(rwsgi_core::Listener::try_clone)
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut launch = Launch::new(config, app);
    launch.listeners = Some(listeners);
    let control = Arc::clone(control);
    let started = Arc::clone(started);
    let board = plan.board;
    launch.ready = Some(Box::new(move |handle: &ServerHandle, _addrs: &[Addr]| {
        control.register(handle.clone());
        if started.fetch_add(1, Ordering::AcqRel) + 1 == groups {
            board.worker(worker).accepting.store(1, Ordering::Release);
        }
    }));
    Ok(launch)
}
