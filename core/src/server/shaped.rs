//! One adapter for every personality that puts its shape on any backend.

use std::io;
use std::marker::PhantomData;

use super::{Addr, Config, Engine, Listener, Server, ServerHandle};
use crate::{Application, SharedApp};

/// What a personality insists on when it runs on a backend: the
/// [`Config`] it serves with (tornado's single loop, twisted's thread pool)
/// and how it calls the application (tornado's `WSGIContainer`, pywsgi's
/// environ extras).
pub trait Shape: 'static {
    /// `config` as the personality runs it.
    fn config(config: Config) -> Config;

    /// The application as the personality calls it; unchanged by default.
    fn app(app: SharedApp) -> impl Application {
        app
    }
}

/// Backend `S` in the shape of personality `P`: a [`Server`] itself, so
/// code that starts servers — and the integration suite — runs any
/// personality on any backend.
///
/// ```
/// use rwsgi_core::{Config, Shape, Shaped};
///
/// /// One event loop, whatever the config says.
/// struct SingleLoop;
///
/// impl Shape for SingleLoop {
///     fn config(mut config: Config) -> Config {
///         config.io_threads = 1;
///         config
///     }
/// }
///
/// // A server type for any backend `S`: `SingleLoopServer<rwsgi_tokio::TokioServer>`.
/// type SingleLoopServer<S> = Shaped<S, SingleLoop>;
/// ```
pub struct Shaped<S, P> {
    inner: S,
    shape: PhantomData<fn() -> P>,
}

impl<S: Server, P: Shape> Server for Shaped<S, P> {
    const NAME: &'static str = S::NAME;
    const ENGINES: &'static [Engine] = S::ENGINES;

    fn from_listeners(config: Config, listeners: Vec<Listener>) -> io::Result<Self> {
        let inner = S::from_listeners(P::config(config), listeners)?;
        Ok(Shaped {
            inner,
            shape: PhantomData,
        })
    }

    fn local_addrs(&self) -> Vec<Addr> {
        self.inner.local_addrs()
    }

    fn handle(&self) -> ServerHandle {
        self.inner.handle()
    }

    fn run<A: Application>(self, app: A) -> io::Result<()> {
        self.inner.run(P::app(SharedApp::new(app)))
    }
}
