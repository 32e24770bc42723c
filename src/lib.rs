//! # rwsgi
//!
//! Write a web application once against PEP 3333's `environ` /
//! `start_response` contract; serve it on the async runtime you pick with a
//! cargo feature, and under the server personality you pick at run time.
//!
//! ```no_run
//! use rwsgi::{Body, Environ, StartResponse};
//!
//! fn hello(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
//!     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello, World!\n"))
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     rwsgi::serve(hello) // 127.0.0.1:8000, on the default backend
//! }
//! ```
//!
//! The contract (everything in [`rwsgi_core`]) is re-exported here, so an
//! application depends on `rwsgi` alone and never names a runtime.
//!
//! ## Backends
//!
//! | feature | backend | engines (the first is the default) |
//! |---|---|---|
//! | `tokio-backend` (default) | `TokioServer` | hyper |
//! | `smol-backend` | `SmolServer` | hyper, async-h1 |
//! | `async-std-backend` | `AsyncStdServer` | async-h1 (async-std and async-h1 are discontinued upstream; prefer smol) |
//!
//! Any subset of the features can be enabled together. [`DefaultServer`]
//! is the backend of the first enabled feature in that table's order —
//! tokio, then smol, then async-std — and the `rwsgi` binary takes
//! `--backend` and `--engine` among those compiled in. Swapping backends is
//! changing the feature: `--no-default-features --features smol-backend`.

pub use rwsgi_core::*;

#[cfg(feature = "async-std-backend")]
pub use rwsgi_async_std::AsyncStdServer;
#[cfg(feature = "smol-backend")]
pub use rwsgi_smol::SmolServer;
#[cfg(feature = "tokio-backend")]
pub use rwsgi_tokio::TokioServer;

pub mod backends;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod demo;

cfg_if::cfg_if! {
    if #[cfg(feature = "tokio-backend")] {
        /// The backend chosen by the enabled cargo features: tokio, else
        /// smol, else async-std.
        pub type DefaultServer = rwsgi_tokio::TokioServer;
    } else if #[cfg(feature = "smol-backend")] {
        /// The backend chosen by the enabled cargo features: tokio, else
        /// smol, else async-std.
        pub type DefaultServer = rwsgi_smol::SmolServer;
    } else if #[cfg(feature = "async-std-backend")] {
        /// The backend chosen by the enabled cargo features: tokio, else
        /// smol, else async-std.
        pub type DefaultServer = rwsgi_async_std::AsyncStdServer;
    } else {
        compile_error!(
            "rwsgi needs a backend: enable one of the cargo features \
             `tokio-backend`, `smol-backend` or `async-std-backend`"
        );
    }
}

/// Serves `app` on 127.0.0.1:8000 with [`DefaultServer`] until the process
/// is stopped.
///
/// # Errors
///
/// When the address cannot be bound or the runtime cannot start.
pub fn serve(app: impl Application) -> std::io::Result<()> {
    serve_with(Config::default(), app)
}

/// Serves `app` with [`DefaultServer`] and `config`.
///
/// # Errors
///
/// As [`serve`], and for a configuration the backend cannot honour.
pub fn serve_with(config: Config, app: impl Application) -> std::io::Result<()> {
    DefaultServer::bind(config)?.run(app)
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
