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

mod tcp;
mod unix;

use std::io;

use rwsgi_core::{Addr, Application, Config, Engine, Listener, Prepared, Server, ServerHandle};
use rwsgi_futures_io::Runtime;
use smol::net::TcpListener;
use smol::net::unix::UnixListener;

/// The timer the server gives its applications: async-io's.
pub use rwsgi_futures_io::AsyncIoTimer as SmolTimer;

use tcp::Tcp;
use unix::Unix;

/// A server on smol.
#[derive(Debug)]
pub struct SmolServer(Prepared);

impl Server for SmolServer {
    const NAME: &'static str = "smol";
    const ENGINES: &'static [Engine] = &[Engine::Hyper, Engine::AsyncH1, Engine::H1];

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> io::Result<Self> {
        Prepared::new(Self::NAME, Self::ENGINES, config, listeners).map(SmolServer)
    }

    fn local_addrs(&self) -> Vec<Addr> {
        self.0.addrs.clone()
    }

    fn handle(&self) -> ServerHandle {
        self.0.handle.clone()
    }

    fn run<A: Application>(self, app: A) -> io::Result<()> {
        rwsgi_futures_io::run::<Smol>(self.0, app)
    }
}

/// smol, as rwsgi-futures-io's server runs on it: its reactor drives each
/// thread.
struct Smol;

impl Runtime for Smol {
    const THREAD_NAME: &'static str = "rwsgi-smol";
    type Tcp = Tcp;
    type Unix = Unix;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn tcp(listener: std::net::TcpListener) -> io::Result<Tcp> {
        TcpListener::try_from(listener).map(Tcp)
    }

    fn unix(listener: std::os::unix::net::UnixListener) -> io::Result<Unix> {
        UnixListener::try_from(listener).map(Unix)
    }
}
