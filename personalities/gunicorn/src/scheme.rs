//! `--forwarded-allow-ips` and `secure_scheme_headers`: a trusted front end
//! may say the request came over https, as gunicorn lets it.

use http::HeaderName;
use rwsgi_core::middleware::TrustedPeers;
use rwsgi_core::{Application, Body, BoxError, Environ, StartResponse};

/// gunicorn's secure-scheme check: when the peer is trusted and one of the
/// headers is present, `wsgi.url_scheme` is `https` if its value matches
/// and `http` if not; headers that disagree are a 400, as gunicorn's
/// `InvalidSchemeHeaders`.
pub struct SecureScheme<A> {
    app: A,
    trusted: TrustedPeers,
    headers: Vec<(HeaderName, String)>,
}

impl<A> SecureScheme<A> {
    /// Wraps `app`; header names are matched case-insensitively, values
    /// exactly.
    ///
    /// # Errors
    ///
    /// A header name that is not a valid name.
    pub fn new(app: A, trusted: TrustedPeers, headers: &[(String, String)]) -> Result<Self, String> {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map(|n| (n, value.clone()))
                    .map_err(|_| format!("secure_scheme_headers: {name:?} is not a header name"))
            })
            .collect::<Result<_, _>>()?;
        Ok(SecureScheme {
            app,
            trusted,
            headers,
        })
    }
}

impl<A: Application> Application for SecureScheme<A> {
    fn call(&self, environ: &mut Environ, start_response: &StartResponse) -> Result<Body, BoxError> {
        let mut verdict: Option<bool> = None;
        let mut conflict = false;
        for (name, expected) in &self.headers {
            if let Some(value) = environ.headers.get(name) {
                let is = value.as_bytes() == expected.as_bytes();
                conflict |= verdict.is_some_and(|v| v != is);
                verdict = Some(is);
            }
        }
        if let Some(secure) = verdict {
            // Behind a PROXY protocol header, the proxy is the peer to trust
            // (gunicorn checks the socket's peer), not the client it names.
            let peer = match environ.value::<String>(rwsgi_core::gateway::PROXY_PEER) {
                Some(proxy) => Some(proxy.clone()),
                None => environ.remote_addr.clone(),
            };
            if self.trusted.trusts(peer.as_deref()) {
                if conflict {
                    start_response.start("400 Bad Request", [("Content-Type", "text/plain")])?;
                    return Ok(Body::from("Contradictory scheme headers\n"));
                }
                environ.url_scheme = if secure { "https" } else { "http" }.into();
            }
        }
        self.app.call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use rwsgi_core::testing;

    use super::*;

    fn scheme(environ: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(environ.url_scheme.to_string()))
    }

    fn defaults() -> Vec<(String, String)> {
        vec![
            ("X-FORWARDED-PROTOCOL".into(), "ssl".into()),
            ("X-FORWARDED-PROTO".into(), "https".into()),
            ("X-FORWARDED-SSL".into(), "on".into()),
        ]
    }

    #[test]
    fn gunicorns_table() {
        let app = rwsgi_core::SharedApp::new(
            SecureScheme::new(scheme, TrustedPeers::loopback(), &defaults()).unwrap(),
        );
        let call = |pairs: &[(&str, &str)]| {
            let environ = Environ::from_pairs(pairs.iter().copied()).unwrap();
            let r = testing::call(app.clone(), environ);
            (r.status.as_u16(), String::from_utf8(r.body.to_vec()).unwrap())
        };
        // Not allowed: ignored.
        assert_eq!(
            call(&[
                ("REMOTE_ADDR", "134.213.44.18"),
                ("HTTP_X_FORWARDED_PROTO", "https")
            ]),
            (200, "http".into())
        );
        assert_eq!(call(&[("REMOTE_ADDR", "127.0.0.1")]), (200, "http".into()));
        assert_eq!(
            call(&[("REMOTE_ADDR", "127.0.0.1"), ("HTTP_X_FORWARDED_PROTO", "https")]),
            (200, "https".into())
        );
        assert_eq!(
            call(&[
                ("REMOTE_ADDR", "127.0.0.1"),
                ("HTTP_X_FORWARDED_SSL", "on"),
                ("HTTP_X_FORWARDED_PROTO", "http"),
            ])
            .0,
            400
        );
    }
}
