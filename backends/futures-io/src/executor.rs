//! Running a server's tasks on an executor of its own, on `io_threads`
//! threads.

use std::future::Future;
use std::io;
use std::sync::Arc;

use async_executor::Executor;
use rwsgi_core::gateway::Gateway;
use rwsgi_core::tls::LoadedTls;
use rwsgi_core::{ServerHandle, Timer};

use rwsgi_core::ListenerSetup;

use crate::{Accept, Task, accept_loop};

/// How a runtime drives a future on the current thread (its reactor
/// included).
pub trait BlockOn {
    /// Runs `future` to completion on this thread.
    fn block_on<F: Future>(future: F) -> F::Output;
}

/// Runs `listener`'s accept loop on `executor`, and there each
/// connection's task (the executor held weakly: tasks must not keep it
/// alive).
pub fn spawn_accept<L: Accept>(
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
pub fn spawn_tls_reload(executor: &Executor<'static>, tls: Option<Arc<LoadedTls>>, gateway: &Gateway) {
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
///
/// # Errors
///
/// When a thread cannot be started.
pub fn run_executor<B: BlockOn>(
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
