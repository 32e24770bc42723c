//! The application: what every server calls.

use std::fmt;
use std::sync::Arc;

use crate::{Body, BoxError, Environ, StartResponse};

/// A WSGI application: called once per request with the request's
/// [`Environ`] and a [`StartResponse`], it returns the response [`Body`].
///
/// As in Python, the environ is lent, not given: the application (and any
/// middleware) may change it, and the server still has it afterwards — for
/// the access log, say. A body that needs part of it later takes that part
/// out (`std::mem::take(&mut environ.input)`) or clones it.
///
/// Functions and closures of the shape `Fn(&mut Environ, &StartResponse) ->
/// R` implement it, where `R` is a [`Body`] or a `Result<Body, E>`:
///
/// ```
/// use rwsgi_core::{Body, Environ, StartResponse};
///
/// fn hello(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("Hello, World!\n"))
/// }
/// # fn takes_app(_: impl rwsgi_core::Application) {}
/// # takes_app(hello);
/// ```
///
/// An error returned here, or a panic, becomes a `500 Internal Server
/// Error` (when nothing was sent yet) and a line on `wsgi.errors`; a panic
/// never takes down the worker.
pub trait Application: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError>;
}

/// What an application function may return: a [`Body`], or a `Result` of
/// one.
pub trait IntoBody {
    /// Converts into the body, or the application's error.
    fn into_body(self) -> Result<Body, BoxError>;
}

impl IntoBody for Body {
    fn into_body(self) -> Result<Body, BoxError> {
        Ok(self)
    }
}

impl<E: Into<BoxError>> IntoBody for Result<Body, E> {
    fn into_body(self) -> Result<Body, BoxError> {
        self.map_err(Into::into)
    }
}

impl<F, R> Application for F
where
    F: Fn(&mut Environ, &StartResponse) -> R + Send + Sync + 'static,
    R: IntoBody,
{
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        self(environ, start_response).into_body()
    }
}

/// An application behind a shared pointer: cheap to clone, and the type a
/// [`Registry`](crate::Registry) hands out.
#[derive(Clone)]
pub struct SharedApp(Arc<dyn Application>);

impl SharedApp {
    /// Shares `app`.
    pub fn new(app: impl Application) -> Self {
        SharedApp(Arc::new(app))
    }
}

impl Application for SharedApp {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        self.0.call(environ, start_response)
    }
}

impl fmt::Debug for SharedApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedApp(..)")
    }
}
