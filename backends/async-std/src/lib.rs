//! # rwsgi-async-std
//!
//! The async-std backend: async-h1 on async-std's sockets and reactor.
//!
//! **async-std is discontinued upstream** (its maintainers point to smol,
//! which it has been built on since 1.6), and so is async-h1. This backend
//! stays because users asked for it; for anything new, use
//! [`rwsgi-smol`](https://docs.rs/rwsgi-smol), which runs the same engine
//! (and hyper) on the same reactor.
//!
//! ```no_run
//! use rwsgi_core::{Body, Config, Environ, Server, StartResponse};
//! use rwsgi_async_std::AsyncStdServer;
//!
//! fn hello(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
//!     sr.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello, World!\n"))
//! }
//!
//! let mut config = Config::default();
//! config.binds = vec!["127.0.0.1:8000".parse()?];
//! AsyncStdServer::bind(config)?.run(hello)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Engines: `async-h1` (the only one; [`rwsgi_async_h1`]).
//!
//! ## Threads
//!
//! async-std's global executor is process-wide and sized once, from
//! `ASYNC_STD_THREAD_COUNT`, when it is first used; it cannot honour a
//! per-server `io_threads` (two servers in one process may want different
//! counts), and setting the variable from a running, threaded process is
//! not sound. So the server runs its tasks on an executor of its own
//! (`async-executor`, the one under async-std's global executor), on
//! exactly `io_threads` threads — `run`'s thread and `io_threads - 1` more
//! — each driven by `async_std::task::block_on`, with async-std's
//! `TcpListener`/`UnixListener` and their streams for IO. `io_threads = 1`
//! is one event loop. async-std's own runtime threads start too, as they do
//! on any first use of async-std, but rwsgi puts no work on them; an
//! application's own `async_std::task::spawn` does run there.

mod listener;
mod timer;

use std::io;
use std::sync::Arc;

use async_executor::Executor;
use rwsgi_core::gateway::Gateway;
use rwsgi_core::{Addr, Application, Config, Engine, Listener, Server, ServerHandle};

pub use timer::AsyncStdTimer;

use listener::AsyncStdListener;

/// A server on async-std.
#[derive(Debug)]
pub struct AsyncStdServer {
    config: Config,
    engine: Engine,
    listeners: Vec<Listener>,
    addrs: Vec<Addr>,
    handle: ServerHandle,
}

impl Server for AsyncStdServer {
    const NAME: &'static str = "async-std";
    const ENGINES: &'static [Engine] = &[Engine::AsyncH1, Engine::H1];

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> io::Result<Self> {
        config
            .validate()
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
        let engine = config.engine.unwrap_or(Self::ENGINES[0]);
        if !Self::ENGINES.contains(&engine) {
            return Err(rwsgi_core::unsupported_engine(Self::NAME, engine, Self::ENGINES));
        }
        let addrs = listeners
            .iter()
            .map(Listener::local_addr)
            .collect::<io::Result<_>>()?;
        Ok(AsyncStdServer {
            config,
            engine,
            listeners,
            addrs,
            handle: ServerHandle::new(),
        })
    }

    fn local_addrs(&self) -> Vec<Addr> {
        self.addrs.clone()
    }

    fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    fn run<A: Application>(self, app: A) -> io::Result<()> {
        let executor = Arc::new(Executor::new());
        let timer: Arc<dyn rwsgi_core::Timer> = Arc::new(AsyncStdTimer);
        let threads = self.config.io_threads;
        let gateway = Gateway::new(app, self.config, Arc::clone(&timer), self.handle.clone());
        for listener in self.listeners {
            let listener = AsyncStdListener::adopt(listener);
            let accept = listener.accept_loop(gateway.clone(), self.engine, Arc::downgrade(&executor));
            executor.spawn(accept).detach();
        }
        drop(gateway);
        // The other executor threads run until `stop` is dropped.
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let others = (1..threads)
            .map(|i| {
                let executor = Arc::clone(&executor);
                let stopped = stopped.clone();
                std::thread::Builder::new()
                    .name(format!("rwsgi-async-std-{i}"))
                    .spawn(move || async_std::task::block_on(executor.run(stopped.recv())))
            })
            .collect::<io::Result<Vec<_>>>()?;
        async_std::task::block_on(executor.run(async {
            self.handle.shutdown_requested().await;
            self.handle.drained(&*timer).await;
        }));
        drop(stop);
        for thread in others {
            let _ = thread.join();
        }
        // Whatever is still open past the deadline is dropped with the
        // executor, which cancels its tasks.
        drop(executor);
        Ok(())
    }
}
