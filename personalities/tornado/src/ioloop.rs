//! `tornado.ioloop.IOLoop`: the event loop of the current thread.
//!
//! A tornado program registers servers on the loop (`listen`,
//! `add_sockets`, `start(n)`) and then runs it: `IOLoop.current().start()`.
//! Here the loop is a backend (a runtime) chosen at run time through
//! [`Backends`], which this crate cannot name: either pass them to
//! [`IoLoop::start_on`], or install them once with [`IoLoop::configure`] —
//! tornado's own `IOLoop.configure(impl)`, which picks the loop
//! implementation — and call [`IoLoop::start`].
//!
//! ```no_run
//! use rwsgi_tornado::{HttpServer, IoLoop, WsgiContainer};
//! # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
//! # #[derive(Clone, Copy)] struct Compiled;
//! # impl rwsgi_core::Backends for Compiled {
//! #     fn available(&self) -> Vec<(&'static str, &'static [rwsgi_core::Engine])> { todo!() }
//! #     fn serve(&self, _: &str, _: rwsgi_core::Launch) -> std::io::Result<()> { todo!() }
//! # }
//! # fn main() -> std::io::Result<()> {
//! IoLoop::configure(Compiled); // rwsgi::backends::Compiled in a program using the facade
//! HttpServer::new(WsgiContainer::new(app)).listen(8888)?;
//! IoLoop::current().start()
//! # }
//! ```

use std::cell::OnceCell;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use rwsgi_core::{Backends, Engine, Listener, ServerHandle};

use crate::HttpServer;

/// The loop implementation [`IoLoop::start`] uses: the backends, and the
/// backend and engine among them.
struct LoopImpl {
    backends: Arc<dyn Backends>,
    backend: Option<String>,
    engine: Option<Engine>,
}

static CONFIGURED: RwLock<Option<LoopImpl>> = RwLock::new(None);

thread_local! {
    static CURRENT: OnceCell<IoLoop> = const { OnceCell::new() };
}

/// `tornado.ioloop.IOLoop`: one per thread, created on first use.
///
/// Every server registered on it runs when it [`start`](Self::start)s: the
/// first on the calling thread, any others on threads of their own (one
/// loop each: a backend server is one runtime). `start` returns when every
/// server has stopped — after [`stop`](Self::stop), or each server's
/// [`HttpServer::stop`]. Cloning gives another handle to the same loop, to
/// stop it from another thread.
#[derive(Clone)]
pub struct IoLoop(Arc<Inner>);

#[derive(Default)]
struct Inner {
    state: Mutex<LoopState>,
}

#[derive(Default)]
struct LoopState {
    /// Servers registered and not yet running, with their sockets.
    pending: Vec<(HttpServer, Vec<Listener>)>,
    /// Handles of the servers running now.
    running: Vec<ServerHandle>,
    /// `stop()` was called while starting.
    stopping: bool,
}

impl IoLoop {
    /// `IOLoop.current()`: this thread's loop.
    pub fn current() -> IoLoop {
        CURRENT.with(|current| current.get_or_init(|| IoLoop(Arc::default())).clone())
    }

    /// `IOLoop.configure(impl)`: the backends [`start`](Self::start) runs
    /// servers on, from now on, in every thread (the preferred backend and
    /// its default engine).
    pub fn configure(backends: impl Backends + 'static) {
        *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(LoopImpl {
            backends: Arc::new(backends),
            backend: None,
            engine: None,
        });
    }

    /// As [`configure`](Self::configure), choosing the backend and engine
    /// (`--backend` and `--engine`).
    ///
    /// # Errors
    ///
    /// A backend or engine the backends do not have.
    pub fn configure_backend(
        backends: impl Backends + 'static,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> Result<(), String> {
        backends.choose(backend, engine)?;
        *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(LoopImpl {
            backends: Arc::new(backends),
            backend: backend.map(str::to_owned),
            engine,
        });
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, LoopState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `IOLoop.start()`: serves every registered server until they have
    /// all stopped, on the backends given to [`configure`](Self::configure).
    ///
    /// # Errors
    ///
    /// When nothing is registered, no backends were configured, or a
    /// server cannot start (`InvalidInput` for wrong `ssl_options`, naming
    /// the file).
    pub fn start(&self) -> io::Result<()> {
        let (backends, backend, engine) = {
            let configured = CONFIGURED.read().unwrap_or_else(|e| e.into_inner());
            let Some(chosen) = configured.as_ref() else {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "IoLoop::start: no backends configured; call \
                     IoLoop::configure(rwsgi::backends::Compiled) first, or use IoLoop::start_on",
                ));
            };
            (
                Arc::clone(&chosen.backends),
                chosen.backend.clone(),
                chosen.engine,
            )
        };
        self.start_with(&*backends, backend.as_deref(), engine)
    }

    /// [`start`](Self::start) on `backends`' preferred backend.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_on(&self, backends: &dyn Backends) -> io::Result<()> {
        self.start_with(backends, None, None)
    }

    /// [`start`](Self::start) on the backend and engine named (`None`: the
    /// preferred backend, its default engine).
    ///
    /// # Errors
    ///
    /// An unknown backend or engine, and as [`start`](Self::start).
    pub fn start_with(
        &self,
        backends: &dyn Backends,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> io::Result<()> {
        let name = backends
            .choose(backend, engine)
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
        let servers = {
            let mut state = self.state();
            if state.pending.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "IoLoop::start: nothing to serve; call HttpServer::listen (or bind and start) first",
                ));
            }
            std::mem::take(&mut state.pending)
        };
        let launches = servers
            .into_iter()
            .map(|(server, listeners)| {
                let this = self.clone();
                let launch = server.launch(listeners, engine, move |handle| this.running(handle))?;
                Ok((server, launch))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let result = std::thread::scope(|scope| {
            let mut launches = launches.into_iter();
            let (first_server, first) = launches.next().expect("at least one server");
            let others: Vec<_> = launches
                .map(|(server, launch)| {
                    std::thread::Builder::new()
                        .name("rwsgi-ioloop".into())
                        .spawn_scoped(scope, move || {
                            let result = backends.serve(name, launch);
                            server.finished();
                            result
                        })
                })
                .collect();
            let mut result = backends.serve(name, first);
            first_server.finished();
            for thread in others {
                let joined = match thread {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("a loop thread panicked"))),
                    Err(err) => Err(err),
                };
                if result.is_ok() {
                    result = joined;
                }
            }
            result
        });
        let mut state = self.state();
        state.running.clear();
        state.stopping = false;
        result
    }

    fn running(&self, handle: &ServerHandle) {
        let mut state = self.state();
        if state.stopping {
            handle.shutdown(Duration::ZERO);
        }
        state.running.push(handle.clone());
    }

    /// `IOLoop.stop()`: stops every server on the loop at once (open
    /// connections are closed); [`start`](Self::start) then returns.
    pub fn stop(&self) {
        let mut state = self.state();
        state.stopping = true;
        for handle in &state.running {
            handle.shutdown(Duration::ZERO);
        }
    }

    /// Registers `server`'s sockets, merging with its earlier ones.
    pub(crate) fn add_sockets(&self, server: &HttpServer, listeners: Vec<Listener>) {
        let mut state = self.state();
        if let Some((_, existing)) = state.pending.iter_mut().find(|(s, _)| s.same(server)) {
            existing.extend(listeners);
        } else {
            state.pending.push((server.clone(), listeners));
        }
    }
}

impl std::fmt::Debug for IoLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("IoLoop")
            .field("pending", &state.pending.len())
            .field("running", &state.running.len())
            .finish()
    }
}
