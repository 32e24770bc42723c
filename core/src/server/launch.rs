//! Starting a server on a backend chosen at run time, by name.
//!
//! Personalities and command lines pick a backend from a flag
//! (`--backend smol`); they start it through [`Backends`], which the facade
//! crate implements for the backends compiled in, so that they never name a
//! runtime themselves.

use std::io;

use super::{Addr, Config, Engine, Listener, Server, ServerHandle};
use crate::SharedApp;

/// Called once a server is bound, before it serves: its handle (for
/// signals and shutdown) and the addresses it listens on.
pub type Ready = Box<dyn FnOnce(&ServerHandle, &[Addr]) + Send>;

/// A server to start.
pub struct Launch {
    /// Its configuration.
    pub config: Config,
    /// Already-bound listeners to adopt (a worker's inherited sockets);
    /// `None` binds `config.binds`.
    pub listeners: Option<Vec<Listener>>,
    /// The application.
    pub app: SharedApp,
    /// Told when the server is ready.
    pub ready: Option<Ready>,
}

impl Launch {
    /// A launch that binds `config.binds` and serves `app`.
    pub fn new(config: Config, app: SharedApp) -> Self {
        Launch {
            config,
            listeners: None,
            app,
            ready: None,
        }
    }

    /// Serves it on `S`, blocking until shut down: what a [`Backends`]
    /// implementation does for each name.
    ///
    /// # Errors
    ///
    /// As [`Server::bind`], [`Server::from_listeners`] and [`Server::run`].
    pub fn serve_on<S: Server>(self) -> io::Result<()> {
        let server = match self.listeners {
            Some(listeners) => S::from_listeners(self.config, listeners)?,
            None => S::bind(self.config)?,
        };
        if let Some(ready) = self.ready {
            ready(&server.handle(), &server.local_addrs());
        }
        server.run(self.app)
    }
}

/// The backends a program can start servers on, by name.
pub trait Backends: Send + Sync {
    /// Each backend compiled in, with the engines it drives (its default
    /// first), in order of preference.
    fn available(&self) -> Vec<(&'static str, &'static [Engine])>;

    /// Serves `launch` on the backend `name`, blocking until shut down.
    ///
    /// # Errors
    ///
    /// An unknown name, or what starting the server returns.
    fn serve(&self, name: &str, launch: Launch) -> io::Result<()>;

    /// The preferred backend.
    fn preferred(&self) -> &'static str {
        self.available().first().map_or("none", |(name, _)| *name)
    }

    /// Chooses a backend for `backend` and `engine` as an operator gave
    /// them: the preferred backend if none was named (or the first that
    /// drives the engine asked for).
    ///
    /// # Errors
    ///
    /// A message naming what exists, for a backend not compiled in or an
    /// engine the backend does not drive.
    fn choose(&self, backend: Option<&str>, engine: Option<Engine>) -> Result<&'static str, String> {
        choose(&self.available(), backend, engine)
    }

    /// [`choose`](Self::choose), with the engine that backend will run:
    /// `engine` if named, else the backend's default.
    ///
    /// # Errors
    ///
    /// As [`choose`](Self::choose).
    fn choose_with_engine(
        &self,
        backend: Option<&str>,
        engine: Option<Engine>,
    ) -> Result<(&'static str, Engine), String> {
        let name = self.choose(backend, engine)?;
        let default = self
            .available()
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, engines)| engines.first().copied());
        Ok((name, engine.or(default).unwrap_or(Engine::Hyper)))
    }
}

/// [`Backends::choose`] over a list of available backends: `backend` if
/// named, else the first that drives `engine`, else the first.
///
/// # Errors
///
/// A message naming what exists.
pub fn choose(
    available: &[(&'static str, &'static [Engine])],
    backend: Option<&str>,
    engine: Option<Engine>,
) -> Result<&'static str, String> {
    let names: Vec<&str> = available.iter().map(|(n, _)| *n).collect();
    let chosen = match (backend, engine) {
        (Some(name), _) => available
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("unknown backend {name:?}; compiled in: {}", names.join(", ")))?,
        (None, Some(engine)) => available
            .iter()
            .find(|(_, engines)| engines.contains(&engine))
            .ok_or_else(|| format!("no backend compiled in drives the {engine} engine"))?,
        (None, None) => available.first().ok_or("no backend is compiled in")?,
    };
    if let Some(engine) = engine {
        if !chosen.1.contains(&engine) {
            return Err(super::unsupported_engine(chosen.0, engine, chosen.1).to_string());
        }
    }
    Ok(chosen.0)
}
