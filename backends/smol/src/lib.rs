//! # rwsgi-smol
//!
//! The smol backend: hyper 1 or async-h1 on smol's executor
//! (`async-executor`) and reactor (`async-io`), which the server owns.
//!
//! ```no_run
//! use rwsgi_core::{Body, Config, Engine, Environ, Server, StartResponse};
//! use rwsgi_smol::SmolServer;
//!
//! fn hello(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
//!     sr.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello, World!\n"))
//! }
//!
//! let mut config = Config::default();
//! config.binds = vec!["127.0.0.1:8000".parse()?];
//! config.engine = Some(Engine::Hyper); // or Engine::AsyncH1
//! SmolServer::bind(config)?.run(hello)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `io_threads = 1` runs one executor on the thread that called `run` (one
//! event loop, as tornado and gevent have); more runs that many threads on
//! one shared executor, `run`'s thread among them. async-io keeps a helper
//! thread of its own that polls the OS only while every executor thread is
//! busy; no task ever runs on it.
//!
//! Engines: `hyper` (the default), driven through
//! [`rwsgi_hyper::FuturesIo`] — hyper needs nothing else from a runtime
//! here, since rwsgi's IO policy keeps the timers — and `async-h1`
//! ([`rwsgi_async_h1`]; discontinued upstream, kept for comparison).

mod listener;
mod timer;

use std::io;
use std::sync::Arc;

use rwsgi_core::gateway::Gateway;
use rwsgi_core::{Addr, Application, Config, Engine, Listener, Server, ServerHandle};
use smol::Executor;

pub use timer::SmolTimer;

use listener::SmolListener;

/// A server on smol.
#[derive(Debug)]
pub struct SmolServer {
    config: Config,
    engine: Engine,
    listeners: Vec<Listener>,
    addrs: Vec<Addr>,
    handle: ServerHandle,
}

impl Server for SmolServer {
    const NAME: &'static str = "smol";
    const ENGINES: &'static [Engine] = &[Engine::Hyper, Engine::AsyncH1, Engine::H1];

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
        Ok(SmolServer {
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
        let timer: Arc<dyn rwsgi_core::Timer> = Arc::new(SmolTimer);
        let listeners = self
            .listeners
            .into_iter()
            .map(SmolListener::adopt)
            .collect::<io::Result<Vec<_>>>()?;
        let threads = self.config.io_threads;
        let gateway = Gateway::new(app, self.config, Arc::clone(&timer), self.handle.clone());
        for listener in listeners {
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
                    .name(format!("rwsgi-smol-{i}"))
                    .spawn(move || smol::block_on(executor.run(stopped.recv())))
            })
            .collect::<io::Result<Vec<_>>>()?;
        smol::block_on(executor.run(async {
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
