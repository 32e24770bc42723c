//! Calling an application without a server, for tests: the environ goes in,
//! the response comes out, through the same gateway code a server runs.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};
use http_body::Body as _;

use crate::gateway::{Gateway, RequestFacts};
use crate::server::{Addr, Config};
use crate::timer::ThreadTimer;
use crate::{Application, Environ, ErrorBuffer, Errors, ServerHandle};

/// A response as a test sees it.
#[derive(Debug)]
pub struct TestResponse {
    /// The status sent.
    pub status: StatusCode,
    /// The headers sent, `Date` and `Server` included.
    pub headers: HeaderMap,
    /// The body bytes sent.
    pub body: Bytes,
    /// Why the body stopped early (the connection would have been closed),
    /// if it did.
    pub aborted: Option<String>,
    /// What was written to `wsgi.errors` and the server's error log.
    pub errors: String,
}

/// Calls `app` with `environ` as a server would (inline, HTTP/1.1) and
/// collects the response. `environ.errors` is replaced by a buffer whose
/// contents end up in [`TestResponse::errors`].
///
/// ```
/// use rwsgi_core::{Body, Environ, StartResponse, testing};
///
/// fn app(environ: &mut Environ, sr: &StartResponse) -> rwsgi_core::Result<Body> {
///     sr.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from(format!("you asked for {}\n", environ.path_info)))
/// }
/// let environ = Environ::from_pairs([("PATH_INFO", "/x")]).unwrap();
/// let response = testing::call(app, environ);
/// assert_eq!(response.body, "you asked for /x\n");
/// assert_eq!(response.headers["content-length"], "17");
/// ```
pub fn call(app: impl Application, environ: Environ) -> TestResponse {
    call_with(app, environ, Config::default())
}

/// [`call`] with a chosen configuration (dispatch, server header, …).
pub fn call_with(app: impl Application, mut environ: Environ, mut config: Config) -> TestResponse {
    let buffer = ErrorBuffer::new();
    config.error_log = Errors::new(buffer.clone());
    environ.errors = config.error_log.clone();
    let version = if environ.server_protocol == "HTTP/1.0" {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let facts = RequestFacts {
        method: environ.method.clone(),
        version,
        keep_alive: true,
    };
    let gateway = Gateway::new(app, config, Arc::new(ThreadTimer), ServerHandle::new());
    futures_lite::future::block_on(async {
        let peer = Addr::Tcp(([127, 0, 0, 1], 0).into());
        let response = gateway
            .respond(
                Box::new(environ),
                facts,
                peer,
                Some((SystemTime::now(), Instant::now())),
            )
            .await;
        let mut body = response.body;
        let mut bytes = BytesMut::new();
        let mut aborted = None;
        while let Some(frame) = poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        bytes.extend_from_slice(&data);
                    }
                }
                Err(err) => {
                    aborted = Some(err.to_string());
                    break;
                }
            }
        }
        drop(body);
        TestResponse {
            status: response.head.status,
            headers: response.head.headers,
            body: bytes.freeze(),
            aborted,
            errors: buffer.contents(),
        }
    })
}
