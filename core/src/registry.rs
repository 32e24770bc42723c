//! App specs (`myproject:app`, `myproject:create_app()`) resolved at run
//! time.
//!
//! Python servers import `module:app` when they start. Rust cannot import
//! code by name at run time, so a program registers its applications under
//! the names operators will type, and every entry point (the `rwsgi`
//! binary, the personalities, a user's own `main`) resolves specs here.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{Application, SharedApp};

type Factory = Arc<dyn Fn() -> Result<SharedApp, String> + Send + Sync>;

/// Applications by the spec an operator types.
///
/// ```
/// use rwsgi_core::{Body, Environ, Registry, StartResponse};
///
/// fn app(_: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
///     sr.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi\n"))
/// }
///
/// let registry = Registry::new()
///     .app("myproject:app", app)
///     .factory("myproject:create_app()", || Ok::<_, String>(app));
/// assert!(registry.resolve("myproject:app").is_ok());
/// assert!(registry.resolve("myproject.app").is_ok()); // twisted's dotted form
/// assert!(registry.resolve("myproject:create_app()").is_ok());
/// let err = registry.resolve("nope:app").unwrap_err();
/// assert!(err.to_string().contains("myproject:app"));
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Factory>,
}

/// A spec the registry does not know, or a factory that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    /// No application under that spec; lists the known ones.
    Unknown {
        /// The spec asked for.
        spec: String,
        /// Every registered spec.
        known: Vec<String>,
    },
    /// The factory ran and failed (gunicorn's "App failed to load").
    Failed {
        /// The spec asked for.
        spec: String,
        /// The factory's message.
        message: String,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Unknown { spec, known } => write!(
                f,
                "no application {spec:?} is registered; known: {}",
                if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                }
            ),
            RegistryError::Failed { spec, message } => {
                write!(f, "application {spec:?} failed to load: {message}")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an application under `spec` (`module:name`).
    #[must_use]
    pub fn app(mut self, spec: &str, app: impl Application + Clone) -> Self {
        self.entries
            .insert(spec.to_owned(), Arc::new(move || Ok(SharedApp::new(app.clone()))));
        self
    }

    /// Registers a factory under `spec` (`module:create_app()`), called
    /// each time the spec is resolved — after fork, in each worker, unless
    /// the personality preloads.
    #[must_use]
    pub fn factory<A, E, F>(mut self, spec: &str, factory: F) -> Self
    where
        A: Application,
        E: fmt::Display,
        F: Fn() -> Result<A, E> + Send + Sync + 'static,
    {
        self.entries.insert(
            spec.to_owned(),
            Arc::new(move || factory().map(SharedApp::new).map_err(|e| e.to_string())),
        );
        self
    }

    /// The registered specs, sorted.
    pub fn specs(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Resolves `spec`: `module:name`, `module:factory()`, or twisted's
    /// `module.name` (the last `.` read as `:`).
    ///
    /// # Errors
    ///
    /// [`RegistryError::Unknown`] listing the known specs, or
    /// [`RegistryError::Failed`] when the factory fails.
    pub fn resolve(&self, spec: &str) -> Result<SharedApp, RegistryError> {
        let dotted = (!spec.contains(':'))
            .then(|| spec.rsplit_once('.').map(|(m, n)| format!("{m}:{n}")))
            .flatten();
        let found = self
            .entries
            .get(spec)
            .or_else(|| dotted.as_ref().and_then(|d| self.entries.get(d)));
        let factory = found.ok_or_else(|| RegistryError::Unknown {
            spec: spec.to_owned(),
            known: self.specs(),
        })?;
        factory().map_err(|message| RegistryError::Failed {
            spec: spec.to_owned(),
            message,
        })
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}
