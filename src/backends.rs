//! The backends compiled into this build, by name: the facade's
//! implementation of [`Backends`], through which the `rwsgi` binary and the
//! personalities start servers without naming a runtime.

use std::io;

use rwsgi_core::{Backends, Engine, Launch};

/// Every backend rwsgi has, compiled in or not, in order of preference.
pub const ALL: [&str; 3] = ["tokio", "smol", "async-std"];

/// The backends of this build (see the crate's features).
#[derive(Clone, Copy, Debug, Default)]
pub struct Compiled;

impl Backends for Compiled {
    // Each push depends on a feature, which `vec![]` cannot express.
    #[allow(clippy::vec_init_then_push)]
    fn available(&self) -> Vec<(&'static str, &'static [Engine])> {
        let mut available: Vec<(&'static str, &'static [Engine])> = Vec::new();
        #[cfg(feature = "tokio-backend")]
        available.push(("tokio", <rwsgi_tokio::TokioServer as rwsgi_core::Server>::ENGINES));
        #[cfg(feature = "smol-backend")]
        available.push(("smol", <rwsgi_smol::SmolServer as rwsgi_core::Server>::ENGINES));
        #[cfg(feature = "async-std-backend")]
        available.push((
            "async-std",
            <rwsgi_async_std::AsyncStdServer as rwsgi_core::Server>::ENGINES,
        ));
        available
    }

    fn serve(&self, name: &str, launch: Launch) -> io::Result<()> {
        match name {
            #[cfg(feature = "tokio-backend")]
            "tokio" => launch.serve_on::<rwsgi_tokio::TokioServer>(),
            #[cfg(feature = "smol-backend")]
            "smol" => launch.serve_on::<rwsgi_smol::SmolServer>(),
            #[cfg(feature = "async-std-backend")]
            "async-std" => launch.serve_on::<rwsgi_async_std::AsyncStdServer>(),
            known if ALL.contains(&known) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the {known} backend is not compiled into this binary; rebuild with `--features {known}-backend`"
                ),
            )),
            unknown => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown backend {unknown:?}; backends: {}", ALL.join(", ")),
            )),
        }
    }

    fn choose(&self, backend: Option<&str>, engine: Option<Engine>) -> Result<&'static str, String> {
        if let Some(name) = backend.filter(|n| ALL.contains(n)) {
            if !self.available().iter().any(|(n, _)| *n == name) {
                return Err(format!(
                    "the {name} backend is not compiled into this binary; rebuild with `--features {name}-backend` (compiled in: {})",
                    compiled().join(", ")
                ));
            }
        }
        rwsgi_core::server_choose(&self.available(), backend, engine)
    }
}

/// The names of the backends compiled in, in `DefaultServer` order.
pub fn compiled() -> Vec<&'static str> {
    Compiled.available().into_iter().map(|(name, _)| name).collect()
}

/// Every backend × engine pair compiled in, as `--backend` and `--engine`
/// name them.
pub fn combinations() -> Vec<(&'static str, Engine)> {
    Compiled
        .available()
        .into_iter()
        .flat_map(|(name, engines)| engines.iter().map(move |e| (name, *e)))
        .collect()
}
