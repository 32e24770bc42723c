//! # rwsgi-core
//!
//! The contract an rwsgi application is written against — PEP 3333's
//! `environ` and `start_response`, in Rust types — plus the gateway every
//! backend shares, the middleware, and the [`Server`] trait.
//!
//! ```
//! use rwsgi_core::{Body, Environ, StartResponse};
//!
//! fn hello(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
//!     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello, World!\n"))
//! }
//!
//! // Without a server: call it the way a server would.
//! let response = rwsgi_core::testing::call(&hello, Environ::new());
//! assert_eq!(response.status, 200);
//! assert_eq!(response.body, "Hello, World!\n");
//! ```
//!
//! Serve it with any backend: `rwsgi::serve(hello)` in the facade crate, or
//! `S::bind(config)?.run(hello)` for a chosen `S:` [`Server`].
//!
//! ## WSGI name → rwsgi type
//!
//! | WSGI (PEP 3333) | rwsgi |
//! |---|---|
//! | `application(environ, start_response)` | [`Application`], any `Fn(&mut Environ, &StartResponse) -> Result<Body>` |
//! | `environ` (a dict) | [`Environ`]: typed fields plus [`get`](Environ::get)/[`set`](Environ::set)/[`remove`](Environ::remove) by PEP 3333 name |
//! | `environ['wsgi.input']` | [`Input`] ([`Environ::input`]) |
//! | `environ['wsgi.errors']` | [`Errors`] ([`Environ::errors`]) |
//! | `start_response(status, headers)` | [`StartResponse::start`] |
//! | `start_response(status, headers, exc_info)` | [`StartResponse::start_with_exc_info`] |
//! | `write = start_response(...)`; `write(data)` | [`StartResponse::write`] |
//! | the returned iterable | [`Body`]: empty, one buffer, [iterator](Body::iter), [async stream](Body::stream), [file](Body::file) |
//! | `iterable.close()` | [`Body::on_close`]; the body is dropped exactly once |
//! | `environ['wsgi.file_wrapper']` | [`FileWrapper`] |
//! | an exception in the app | an `Err` (or a panic): 500 if nothing was sent, and a line on `wsgi.errors` |
//! | `wsgiref.validate.validator(app)` | [`middleware::Lint`] |
//! | `werkzeug.middleware.proxy_fix.ProxyFix` | [`middleware::ProxyFix`] |
//! | `module:app` on a command line | [`Registry`] |
//! | (none: a server's runtime) | [`Timer`], through [`Environ::sleep`] |
//!
//! ## What lives here
//!
//! * the contract: [`Environ`], [`StartResponse`], [`Body`], [`Application`];
//! * [`gateway`]: request head → environ, start_response → response head;
//!   every engine calls it and none re-implements it;
//! * [`request_error`]: the one table of statuses for bad requests;
//! * [`middleware`]: `ProxyFix`, `HeaderRewrite`, `Lint`;
//! * [`Server`], [`Config`], [`Bind`], [`ServerHandle`]: what backends
//!   implement and are configured with.
//!
//! This crate knows no runtime and no HTTP engine.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access_log;
mod app;
mod body;
pub mod conn;
mod environ;
mod error;
mod errors_stream;
pub mod gateway;
mod input;
pub mod latin1;
pub mod middleware;
mod pool;
pub mod proxy_protocol;
mod registry;
pub mod request_error;
mod server;
mod start_response;
pub mod testing;
mod timer;
pub mod tls;
pub mod wire;

pub use access_log::{AccessLog, AccessRecord};
pub use app::{Application, IntoBody, SharedApp};
pub use body::{Body, FileWrapper};
pub use environ::{EnvValue, Environ, EnvironError};
pub use error::{BoxError, ContractError};
pub use errors_stream::{ErrorBuffer, ErrorLog, Errors, Level, Stderr};
pub use input::{EngineBody, Input};
pub use proxy_protocol::ProxyProtocol;
pub use registry::{Registry, RegistryError};
/// [`Backends::choose`] as a function over a list of backends.
pub use server::choose as server_choose;
pub use server::{
    AcceptBackoff, Addr, Backends, Bind, BindParseError, Config, ConnectionGuard, Dispatch, Engine, Launch,
    Listener, ListenerSetup, Prepared, Ready, Scheme, Server, ServerHandle, Shape, Shaped, UnderscoreHeaders,
    Url, announce, bind_all, unsupported_engine,
};
pub use start_response::{
    HOP_BY_HOP, HeaderPair, Respond, StartResponse, is_hop_by_hop, parse_header, parse_status,
};
pub use timer::{Sleep, ThreadTimer, Timer};

/// `Result<T, BoxError>`: what an application function returns.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
