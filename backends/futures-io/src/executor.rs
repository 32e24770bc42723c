//! Running a server on an executor of its own, on `io_threads` threads.

use std::future::Future;
use std::io;
use std::sync::Arc;

use async_executor::Executor;
use rwsgi_core::gateway::Gateway;
use rwsgi_core::tls::LoadedTls;
use rwsgi_core::{Application, Listener, ListenerSetup, Prepared, ServerHandle, Timer};

use crate::{Accept, AsyncIoTimer, Task, accept_loop};

/// What a futures-io runtime lends the server [`run`] builds: a way to
/// drive a future on this thread (its reactor included), and its own
/// listeners for the sockets the server was given.
pub trait Runtime {
    /// The prefix of the server's extra threads' names (`NAME-I`).
    const THREAD_NAME: &'static str;
    /// A TCP listener of the runtime.
    type Tcp: Accept;
    /// A unix-socket listener of the runtime.
    type Unix: Accept;

    /// Runs `future` to completion on this thread.
    fn block_on<F: Future>(future: F) -> F::Output;

    /// Hands `listener` to the runtime.
    ///
    /// # Errors
    ///
    /// When the runtime cannot register it.
    fn tcp(listener: std::net::TcpListener) -> io::Result<Self::Tcp>;

    /// Hands `listener` to the runtime.
    ///
    /// # Errors
    ///
    /// When the runtime cannot register it.
    fn unix(listener: std::os::unix::net::UnixListener) -> io::Result<Self::Unix>;
}

/// Serves `app` on what `prepared` holds, on runtime `R`, until shut down:
/// [`Server::run`](rwsgi_core::Server::run) for every futures-io backend.
///
/// # Errors
///
/// When a listener cannot be registered or a thread started.
pub fn run<R: Runtime>(prepared: Prepared, app: impl Application) -> io::Result<()> {
    let setups = prepared.setups();
    let Prepared {
        config,
        listeners,
        tls,
        handle,
        ..
    } = prepared;
    let executor = Arc::new(Executor::new());
    let timer: Arc<dyn Timer> = Arc::new(AsyncIoTimer);
    let threads = config.io_threads;
    let gateway = Gateway::new(app, config, Arc::clone(&timer), handle.clone());
    for (listener, setup) in listeners.into_iter().zip(setups) {
        match listener {
            Listener::Tcp(l) => spawn_accept(&executor, R::tcp(l)?, &gateway, setup),
            Listener::Unix(l) => spawn_accept(&executor, R::unix(l)?, &gateway, setup),
        }
    }
    spawn_tls_reload(&executor, tls, &gateway);
    drop(gateway);
    run_executor::<R>(executor, threads, R::THREAD_NAME, &handle, &*timer)
}

/// Runs `listener`'s accept loop on `executor`, and there each
/// connection's task (the executor held weakly: tasks must not keep it
/// alive).
fn spawn_accept<L: Accept>(
    executor: &Arc<Executor<'static>>,
    listener: L,
    gateway: &Gateway,
    setup: ListenerSetup,
) {
    let weak = Arc::downgrade(executor);
    let spawn = move |task: Task| {
        weak.upgrade()
            .map(|executor| executor.spawn(task).detach())
            .is_some()
    };
    executor
        .spawn(accept_loop(listener, gateway.clone(), setup, spawn))
        .detach();
}

/// Reloads `tls` on the server's reload requests, until shutdown.
fn spawn_tls_reload(executor: &Executor<'static>, tls: Option<Arc<LoadedTls>>, gateway: &Gateway) {
    if let Some(tls) = tls {
        let log = gateway.config().error_log.clone();
        executor
            .spawn(rwsgi_core::tls::reload_on_request(
                tls,
                gateway.handle().clone(),
                log,
            ))
            .detach();
    }
}

/// Runs `executor` on `threads` threads — this one and `threads - 1` named
/// `NAME-I` — until the server has shut down and its connections drained
/// (or the grace period ended); then drops it, which cancels what is left.
fn run_executor<B: Runtime>(
    executor: Arc<Executor<'static>>,
    threads: usize,
    name: &str,
    handle: &ServerHandle,
    timer: &dyn Timer,
) -> io::Result<()> {
    // The other threads run until `stop` is dropped.
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let others = (1..threads)
        .map(|i| {
            let executor = Arc::clone(&executor);
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || B::block_on(executor.run(stopped.recv())))
        })
        .collect::<io::Result<Vec<_>>>()?;
    B::block_on(executor.run(async {
        handle.shutdown_requested().await;
        handle.drained(timer).await;
    }));
    drop(stop);
    for thread in others {
        let _ = thread.join();
    }
    drop(executor);
    Ok(())
}
