//! The `Server` trait every backend implements, and what it is configured
//! with.

mod announce;
mod bind;
mod config;
mod handle;
mod launch;
mod prepared;
mod shaped;

use std::fmt;
use std::io;
use std::str::FromStr;

pub use announce::{Scheme, Url, announce};
pub use bind::{Addr, Bind, BindParseError, Listener, bind_all};
pub use config::{Config, Dispatch, UnderscoreHeaders};
pub use handle::{AcceptBackoff, ConnectionGuard, ServerHandle};
pub use launch::{Backends, Launch, Ready, choose};
pub use prepared::{ListenerSetup, Prepared};
pub use shaped::{Shape, Shaped};

use crate::Application;

/// An HTTP engine: the code that turns bytes into request heads and
/// responses into bytes. A backend (a runtime) drives one or more of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// hyper 1.
    Hyper,
    /// async-h1 (unmaintained upstream; kept for comparison).
    AsyncH1,
    /// rwsgi-h1, rwsgi's own lean HTTP/1 engine.
    H1,
    /// The uwsgi binary protocol (nginx's `uwsgi_pass`), rwsgi-uwsgi-proto.
    /// Not an HTTP engine, so no backend lists it in
    /// [`Server::ENGINES`]; every backend drives it when a configuration
    /// asks for it.
    Uwsgi,
}

impl Engine {
    /// Every HTTP engine, in the order `--engine` lists them.
    pub const ALL: [Engine; 3] = [Engine::Hyper, Engine::AsyncH1, Engine::H1];

    /// The name `--engine` takes.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Hyper => "hyper",
            Engine::AsyncH1 => "async-h1",
            Engine::H1 => "h1",
            Engine::Uwsgi => "uwsgi",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Engine::ALL.into_iter().find(|e| e.name() == name).ok_or_else(|| {
            let known: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
            format!("unknown engine {name:?}; engines: {}", known.join(", "))
        })
    }
}

/// A backend: one async runtime serving applications through one of its
/// HTTP engines.
///
/// Every backend behaves the same — the [gateway](crate::gateway) makes the
/// environ and the response head for all of them — so an application
/// changes backend by changing a cargo feature, nothing else.
///
/// ```no_run
/// use rwsgi_core::{Config, Server};
///
/// fn serve_on<S: Server>(app: impl rwsgi_core::Application) -> std::io::Result<()> {
///     let server = S::bind(Config::default())?;
///     for addr in server.local_addrs() {
///         println!("listening on {addr}");
///     }
///     let handle = server.handle(); // give this to whoever stops the server
///     # drop(handle);
///     server.run(app)
/// }
/// ```
pub trait Server: Sized + Send + 'static {
    /// The name `--backend` takes (`tokio`, `smol`, `async-std`).
    const NAME: &'static str;

    /// The engines this backend can drive; the first is its default.
    const ENGINES: &'static [Engine];

    /// Takes over already-bound listeners (a pre-fork master binds, its
    /// workers adopt); `config.binds` is then only informative.
    ///
    /// # Errors
    ///
    /// A configuration this backend cannot honour (an engine it does not
    /// drive, a limit its engine cannot enforce), with a message that says
    /// which and why; or a failure to set up the runtime.
    fn from_listeners(config: Config, listeners: Vec<Listener>) -> io::Result<Self>;

    /// Binds every address of `config.binds` and takes them over.
    ///
    /// # Errors
    ///
    /// As [`bind_all`] and [`from_listeners`](Server::from_listeners).
    fn bind(config: Config) -> io::Result<Self> {
        config
            .validate()
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
        let listeners = bind_all(&config)?;
        Self::from_listeners(config, listeners)
    }

    /// The addresses it listens on (with the real port for a `:0` bind).
    fn local_addrs(&self) -> Vec<Addr>;

    /// A handle for counters and shutdown, valid before and during `run`.
    fn handle(&self) -> ServerHandle;

    /// Serves `app` until shut down through the [`handle`](Server::handle).
    /// Blocks the calling thread; the backend owns its runtime.
    ///
    /// # Errors
    ///
    /// When the runtime cannot start.
    fn run<A: Application>(self, app: A) -> io::Result<()>;
}

/// The error a backend returns for an engine it does not drive.
pub fn unsupported_engine(backend: &str, engine: Engine, engines: &[Engine]) -> io::Error {
    let names: Vec<_> = engines.iter().map(|e| e.name()).collect();
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "the {backend} backend cannot drive the {engine} engine; it drives: {}",
            names.join(", ")
        ),
    )
}
