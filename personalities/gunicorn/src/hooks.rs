//! Server hooks: gunicorn's `on_starting`, `post_fork`, `pre_request`, …
//! as a Rust trait.

use std::sync::Arc;

use rwsgi_core::{AccessRecord, Environ};

use crate::glog::Log;
use crate::settings::Settings;

/// gunicorn's server hooks, with gunicorn's names and call points. Every
/// method does nothing by default; implement the ones you need and pass the
/// value to [`Gunicorn::hooks`](crate::Gunicorn::hooks).
///
/// Hooks that take an [`Arbiter`] run in the master process, those that
/// take only a [`Worker`] in that worker (`post_fork` runs in the new
/// worker, right after `fork`). The master is single-threaded and forks
/// its workers: a master hook must not start threads or runtimes (they
/// would not exist in the workers), and must be quick (the master does
/// nothing else while it runs).
///
/// ```
/// use rwsgi_gunicorn::{Arbiter, Hooks, Worker};
///
/// struct ResetPools;
///
/// impl Hooks for ResetPools {
///     fn post_fork(&self, _server: &Arbiter, worker: &Worker) {
///         // Connections opened before fork belong to the master: drop them
///         // and let this worker open its own.
///         worker.log.info(format_args!("worker {} resets its pools", worker.pid));
///     }
/// }
/// # let _ = rwsgi_gunicorn::Gunicorn::new(rwsgi_core::Registry::new()).hooks(ResetPools);
/// ```
#[allow(unused_variables)]
pub trait Hooks: Send + Sync + 'static {
    /// Called just before the master process is initialized.
    fn on_starting(&self, server: &Arbiter) {}

    /// Called to recycle workers during a reload via `SIGHUP`.
    fn on_reload(&self, server: &Arbiter) {}

    /// Called just after the server is started (listening, before the
    /// first worker is forked).
    fn when_ready(&self, server: &Arbiter) {}

    /// Called just before a worker is forked.
    fn pre_fork(&self, server: &Arbiter, worker: &Worker) {}

    /// Called just after a worker has been forked, in the worker.
    fn post_fork(&self, server: &Arbiter, worker: &Worker) {}

    /// Called just after a worker has initialized the application.
    fn post_worker_init(&self, worker: &Worker) {}

    /// Called when a worker received `SIGINT` or `SIGQUIT` (it then exits at
    /// once).
    fn worker_int(&self, worker: &Worker) {}

    /// Called when a worker received `SIGABRT` (generally on timeout), after
    /// it logged the requests it is stuck on.
    fn worker_abort(&self, worker: &Worker) {}

    /// Called just before a new master process is started on `SIGUSR2`.
    fn pre_exec(&self, server: &Arbiter) {}

    /// Called just before a worker processes a request. gunicorn's default
    /// logs `METHOD PATH` at debug level; so does this one.
    fn pre_request(&self, worker: &Worker, req: &Environ) {
        worker.log.debug(format_args!("{} {}", req.method, req.path_info));
    }

    /// Called after a worker processed a request, once the response has
    /// ended: the environ after the application ran, the status, the
    /// response headers and the bytes sent.
    fn post_request(&self, worker: &Worker, req: &AccessRecord<'_>) {}

    /// Called just after a worker has exited, in the master.
    fn child_exit(&self, server: &Arbiter, worker: &Worker) {}

    /// Called just before a worker exits, in the worker.
    fn worker_exit(&self, server: &Arbiter, worker: &Worker) {}

    /// Called just after the number of workers has changed (`None` the
    /// first time it is set).
    fn nworkers_changed(&self, server: &Arbiter, new_value: usize, old_value: Option<usize>) {}

    /// Called just before the master exits.
    fn on_exit(&self, server: &Arbiter) {}
}

/// The hooks gunicorn has by default.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultHooks;

impl Hooks for DefaultHooks {}

/// What a hook sees of the master (gunicorn's `Arbiter`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Arbiter {
    /// The master's process id.
    pub pid: u32,
    /// The number of workers it keeps.
    pub num_workers: usize,
    /// The resolved settings.
    pub cfg: Arc<Settings>,
    /// The error log.
    pub log: Log,
}

/// What a hook sees of a worker (gunicorn's `Worker`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Worker {
    /// Its process id (0 in `pre_fork`, before it exists).
    pub pid: u32,
    /// Its master's process id.
    pub ppid: u32,
    /// Its age: 1 for the first worker forked, 2 for the next, …
    pub age: u64,
    /// The error log.
    pub log: Log,
}
