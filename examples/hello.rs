//! The smallest rwsgi application.
//!
//! ```sh
//! cargo run --example hello            # http://127.0.0.1:8000
//! cargo run --example hello -- 127.0.0.1:9000
//! ```

use rwsgi::{Body, Config, Environ, StartResponse};

fn hello(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("Hello, World!\n"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    if let Some(bind) = std::env::args().nth(1) {
        config.binds = vec![bind.parse()?];
    }
    println!("serving on http://{}", config.binds[0]);
    rwsgi::serve_with(config, hello)?;
    Ok(())
}
