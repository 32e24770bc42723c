//! # rwsgi-tokio
//!
//! The tokio backend: hyper 1 on a tokio runtime that the server owns.
//!
//! ```no_run
//! use rwsgi_core::{Body, Config, Environ, Server, StartResponse};
//! use rwsgi_tokio::TokioServer;
//!
//! fn hello(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
//!     sr.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello, World!\n"))
//! }
//!
//! let mut config = Config::default();
//! config.binds = vec!["127.0.0.1:8000".parse()?];
//! TokioServer::bind(config)?.run(hello)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `io_threads = 1` runs a current-thread runtime (one event loop, as
//! tornado and gevent have); more runs tokio's multi-threaded scheduler with
//! that many workers. Engines: `hyper` (the default) and `h1` (rwsgi-h1).

mod io;
mod listener;
mod timer;

use std::io as stdio;
use std::sync::Arc;

use rwsgi_core::gateway::Gateway;
use rwsgi_core::{Addr, Application, Config, Engine, Listener, Server, ServerHandle};

pub use timer::TokioTimer;

use listener::TokioListener;

/// A server on tokio.
#[derive(Debug)]
pub struct TokioServer {
    config: Config,
    engine: Engine,
    listeners: Vec<Listener>,
    addrs: Vec<Addr>,
    handle: ServerHandle,
}

impl Server for TokioServer {
    const NAME: &'static str = "tokio";
    const ENGINES: &'static [Engine] = &[Engine::Hyper, Engine::H1];

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> stdio::Result<Self> {
        config
            .validate()
            .map_err(|msg| stdio::Error::new(stdio::ErrorKind::InvalidInput, msg))?;
        let engine = config.engine.unwrap_or(Self::ENGINES[0]);
        if !Self::ENGINES.contains(&engine) {
            return Err(rwsgi_core::unsupported_engine(Self::NAME, engine, Self::ENGINES));
        }
        let addrs = listeners
            .iter()
            .map(Listener::local_addr)
            .collect::<stdio::Result<_>>()?;
        Ok(TokioServer {
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

    fn run<A: Application>(self, app: A) -> stdio::Result<()> {
        let runtime = if self.config.io_threads == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.config.io_threads)
                .enable_all()
                .build()?
        };
        let timer: Arc<dyn rwsgi_core::Timer> = Arc::new(TokioTimer::new(runtime.handle().clone()));
        runtime.block_on(async {
            let listeners = self
                .listeners
                .into_iter()
                .map(TokioListener::adopt)
                .collect::<stdio::Result<Vec<_>>>()?;
            let gateway = Gateway::new(app, self.config, Arc::clone(&timer), self.handle.clone());
            for listener in listeners {
                tokio::spawn(listener.accept_loop(gateway.clone(), self.engine));
            }
            self.handle.shutdown_requested().await;
            self.handle.drained(&*timer).await;
            stdio::Result::Ok(())
        })?;
        // Whatever is still open past the deadline is dropped with the
        // runtime.
        runtime.shutdown_background();
        Ok(())
    }
}
