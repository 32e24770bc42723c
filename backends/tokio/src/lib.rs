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
//! that many workers. Engines: `hyper` (the default) and `h1` (rwsgi-h1);
//! also the uwsgi protocol (`Engine::Uwsgi`, rwsgi-uwsgi-proto).

mod io;
mod pipeline;
mod replay;
mod tcp;
mod timer;
#[cfg(feature = "tls")]
mod tls;
mod unix;

use std::io as stdio;
use std::sync::Arc;

use rwsgi_core::gateway::Gateway;
use rwsgi_core::{Addr, Application, Config, Engine, Listener, Prepared, Server, ServerHandle};

use pipeline::accept_loop;

pub use timer::TokioTimer;

/// A server on tokio.
#[derive(Debug)]
pub struct TokioServer(Prepared);

impl Server for TokioServer {
    const NAME: &'static str = "tokio";
    const ENGINES: &'static [Engine] = &[Engine::Hyper, Engine::H1];

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> stdio::Result<Self> {
        Prepared::new(Self::NAME, Self::ENGINES, config, listeners).map(TokioServer)
    }

    fn local_addrs(&self) -> Vec<Addr> {
        self.0.addrs.clone()
    }

    fn handle(&self) -> ServerHandle {
        self.0.handle.clone()
    }

    fn run<A: Application>(self, app: A) -> stdio::Result<()> {
        let setups = self.0.setups();
        let Prepared {
            config,
            listeners,
            tls,
            handle,
            ..
        } = self.0;
        let runtime = if config.io_threads == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(config.io_threads)
                .enable_all()
                .build()?
        };
        let timer: Arc<dyn rwsgi_core::Timer> = Arc::new(TokioTimer::new(runtime.handle().clone()));
        runtime.block_on(async {
            let gateway = Gateway::new(app, config, Arc::clone(&timer), handle.clone());
            for (listener, setup) in listeners.into_iter().zip(setups) {
                match listener {
                    Listener::Tcp(l) => tokio::spawn(accept_loop(
                        tokio::net::TcpListener::from_std(l)?,
                        gateway.clone(),
                        setup,
                    )),
                    Listener::Unix(l) => tokio::spawn(accept_loop(
                        tokio::net::UnixListener::from_std(l)?,
                        gateway.clone(),
                        setup,
                    )),
                };
            }
            if let Some(tls) = tls {
                let log = gateway.config().error_log.clone();
                tokio::spawn(rwsgi_core::tls::reload_on_request(tls, handle.clone(), log));
            }
            drop(gateway);
            handle.shutdown_requested().await;
            handle.drained(&*timer).await;
            stdio::Result::Ok(())
        })?;
        // Whatever is still open past the deadline is dropped with the
        // runtime.
        runtime.shutdown_background();
        Ok(())
    }
}
