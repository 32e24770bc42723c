//! `HeaderRewrite`: take an environ key from another request header.

use super::TrustedPeers;
use crate::{Application, Body, BoxError, Environ, StartResponse};

/// Copies environ keys from other keys before the application runs — the
/// seeds' `CustomProxyFix` generalised. A proxy that sends the public host
/// as `X-FHOST` (because it must keep `Host` for its upstream) is undone
/// with `copy("HTTP_X_FHOST", "HTTP_HOST")`.
///
/// A rule applies only when its source key is present and not empty; rules
/// apply in the order given. Like [`ProxyFix`](super::ProxyFix), it can be
/// limited to [`TrustedPeers`], so a client cannot send the header itself.
///
/// ```
/// use rwsgi_core::{Environ, middleware::HeaderRewrite, testing};
/// use rwsgi_core::{Body, StartResponse};
///
/// fn host(environ: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
///     sr.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from(environ.get("HTTP_HOST").unwrap_or_default().into_owned()))
/// }
/// let app = HeaderRewrite::new(host).copy("HTTP_X_FHOST", "HTTP_HOST");
/// let environ = Environ::from_pairs([
///     ("HTTP_HOST", "backend:8000"),
///     ("HTTP_X_FHOST", "www.example.com"),
/// ])?;
/// assert_eq!(testing::call(app, environ).body, "www.example.com");
/// # Ok::<(), rwsgi_core::EnvironError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeaderRewrite<A> {
    app: A,
    rules: Vec<(String, String)>,
    trusted: Option<TrustedPeers>,
}

impl<A> HeaderRewrite<A> {
    /// Wraps `app` with no rules yet.
    pub fn new(app: A) -> Self {
        HeaderRewrite {
            app,
            rules: Vec::new(),
            trusted: None,
        }
    }

    /// Sets `to` from `from` (both PEP 3333 keys: `HTTP_X_FHOST`,
    /// `HTTP_HOST`, `SERVER_NAME`, …).
    #[must_use]
    pub fn copy(mut self, from: &str, to: &str) -> Self {
        self.rules.push((from.to_owned(), to.to_owned()));
        self
    }

    /// Applies the rules only for requests from these peers.
    #[must_use]
    pub fn trusted_peers(mut self, peers: TrustedPeers) -> Self {
        self.trusted = Some(peers);
        self
    }
}

impl<A: Application> Application for HeaderRewrite<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let trusted = self
            .trusted
            .as_ref()
            .is_none_or(|peers| peers.trusts(environ.remote_addr.as_deref()));
        if trusted {
            for (from, to) in &self.rules {
                if let Some(value) = environ.get(from).filter(|v| !v.is_empty()) {
                    let value = value.into_owned();
                    environ.set(to, value)?;
                }
            }
        }
        self.app.call(environ, start_response)
    }
}
