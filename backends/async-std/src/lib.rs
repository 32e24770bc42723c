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

mod tcp;
mod unix;

use std::io;

use async_std::net::TcpListener;
use async_std::os::unix::net::UnixListener;
use rwsgi_core::{Addr, Application, Config, Engine, Listener, Prepared, Server, ServerHandle};
use rwsgi_futures_io::Runtime;

/// The timer the server gives its applications: async-io's.
pub use rwsgi_futures_io::AsyncIoTimer as AsyncStdTimer;

use tcp::Tcp;
use unix::Unix;

/// A server on async-std.
#[derive(Debug)]
pub struct AsyncStdServer(Prepared);

impl Server for AsyncStdServer {
    const NAME: &'static str = "async-std";
    const ENGINES: &'static [Engine] = &[Engine::AsyncH1, Engine::H1];

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> io::Result<Self> {
        Prepared::new(Self::NAME, Self::ENGINES, config, listeners).map(AsyncStdServer)
    }

    fn local_addrs(&self) -> Vec<Addr> {
        self.0.addrs.clone()
    }

    fn handle(&self) -> ServerHandle {
        self.0.handle.clone()
    }

    fn run<A: Application>(self, app: A) -> io::Result<()> {
        rwsgi_futures_io::run::<AsyncStd>(self.0, app)
    }
}

/// async-std, as rwsgi-futures-io's server runs on it.
struct AsyncStd;

impl Runtime for AsyncStd {
    const THREAD_NAME: &'static str = "rwsgi-async-std";
    type Tcp = Tcp;
    type Unix = Unix;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn tcp(listener: std::net::TcpListener) -> io::Result<Tcp> {
        Ok(Tcp(TcpListener::from(listener)))
    }

    fn unix(listener: std::os::unix::net::UnixListener) -> io::Result<Unix> {
        Ok(Unix(UnixListener::from(listener)))
    }
}
