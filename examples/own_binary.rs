//! A project's own binary: its applications in its own registry, with the
//! whole `rwsgi` command line (binds, backend, threads, ProxyFix flags, …).
//!
//! ```sh
//! cargo run --example own_binary -- myproject:app
//! cargo run --example own_binary -- --bind 127.0.0.1:9000 --threads 8 'myproject:create_app()'
//! cargo run --example own_binary -- nope:app     # lists the known specs, exits 2
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rwsgi::{Application, Body, BoxError, Environ, Registry, StartResponse};

fn app(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("my project\n"))
}

/// An application with state, built by a factory as Flask's
/// `create_app()` is: called in each worker process after fork.
struct Counter(Arc<AtomicU64>);

impl Application for Counter {
    fn call(&self, _environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(format!("request {n}\n")))
    }
}

fn create_app() -> Result<Counter, String> {
    Ok(Counter(Arc::new(AtomicU64::new(0))))
}

fn main() -> ExitCode {
    let registry = Registry::new()
        .app("myproject:app", app)
        .factory("myproject:create_app()", create_app);
    rwsgi::cli::main(registry)
}
