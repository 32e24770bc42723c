//! Deployed behind nginx, the way the seeds deploy Flask: nginx terminates
//! the client connection and passes the request on with these headers:
//!
//! ```nginx
//! location / {
//!     proxy_pass         http://127.0.0.1:8000;
//!     proxy_set_header   Host              $host;
//!     proxy_set_header   X-Real-IP         $remote_addr;
//!     proxy_set_header   X-Forwarded-For   $proxy_add_x_forwarded_for;
//!     proxy_set_header   X-Forwarded-Proto $scheme;
//!     proxy_set_header   X-Forwarded-Host  $host;
//! }
//! ```
//!
//! With exactly one proxy in front, `ProxyFix` trusts one value of each
//! header (the one nginx added, the right-most), so the application sees
//! the client's address, scheme and host, and a client cannot forge them:
//! anything it sent itself stays further left and is ignored.
//!
//! ```sh
//! cargo run --example proxy_fix
//! curl -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Forwarded-Proto: https' http://127.0.0.1:8000/
//! ```

use rwsgi::middleware::{ProxyFix, TrustedPeers};
use rwsgi::{Body, Config, Environ, StartResponse};

fn whoami(environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    let text = format!(
        "client {}\nscheme {}\nhost {}\nurl {}\n",
        environ.remote_addr.as_deref().unwrap_or("?"),
        environ.url_scheme,
        environ.get("HTTP_HOST").unwrap_or_default(),
        environ.request_url(),
    );
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(text))
}

fn main() -> std::io::Result<()> {
    // werkzeug: ProxyFix(app, x_for=1, x_proto=1, x_host=1); and, beyond
    // werkzeug, believe the headers only when nginx (loopback) sent them.
    let app = ProxyFix::new(whoami)
        .x_for(1)
        .x_proto(1)
        .x_host(1)
        .trusted_peers(TrustedPeers::loopback());
    println!("serving on http://127.0.0.1:8000 (behind nginx)");
    rwsgi::serve_with(Config::default(), app)
}
