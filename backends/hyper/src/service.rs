//! hyper's request and response types ↔ the gateway's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Uri;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use rwsgi_core::conn::ConnWatch;
use rwsgi_core::gateway::{ConnInfo, Gateway, RequestHead, Response, ResponseBody};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::{BoxError, EngineBody};

pub(crate) struct WsgiService {
    gateway: Gateway,
    info: Arc<ConnInfo>,
    watch: Arc<ConnWatch>,
}

impl WsgiService {
    pub(crate) fn new(gateway: Gateway, info: ConnInfo, watch: Arc<ConnWatch>) -> Self {
        WsgiService {
            gateway,
            info: Arc::new(info),
            watch,
        }
    }
}

type Reply = Result<hyper::Response<HyperBody>, BoxError>;

impl hyper::service::Service<hyper::Request<Incoming>> for WsgiService {
    type Response = hyper::Response<HyperBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.watch.request_started();
        let (parts, body) = request.into_parts();
        let head = RequestHead {
            target: target_bytes(&parts.uri),
            method: parts.method,
            version: parts.version,
            headers: parts.headers,
        };
        let body: EngineBody = Box::pin(IncomingBody(body));
        let (gateway, info, watch) = (
            self.gateway.clone(),
            Arc::clone(&self.info),
            Arc::clone(&self.watch),
        );
        Box::pin(async move {
            match gateway.serve(&info, head, body).await {
                Some(response) => Ok(into_hyper(response, watch)),
                // The table says: close without answering. An error from the
                // service makes hyper drop the connection.
                None => Err("request rejected without a response".into()),
            }
        })
    }
}

/// The request target as sent. hyper keeps origin-form targets verbatim;
/// the other forms are rebuilt from their parts.
fn target_bytes(uri: &Uri) -> Bytes {
    match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() && uri.authority().is_none() => {
            Bytes::copy_from_slice(pq.as_str().as_bytes())
        }
        _ => Bytes::from(uri.to_string()),
    }
}

fn into_hyper(response: Response, watch: Arc<ConnWatch>) -> hyper::Response<HyperBody> {
    let Response { head, body } = response;
    let mut out = hyper::Response::new(HyperBody { body, watch });
    *out.status_mut() = head.status;
    *out.headers_mut() = head.headers;
    if let Some(reason) = head.reason {
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(Bytes::from(reason.into_owned())) {
            out.extensions_mut().insert(reason);
        }
    }
    out
}

/// The gateway's body, which also marks the connection idle once hyper is
/// done with it.
pub(crate) struct HyperBody {
    body: ResponseBody,
    watch: Arc<ConnWatch>,
}

impl http_body::Body for HyperBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for HyperBody {
    fn drop(&mut self) {
        self.watch.response_finished();
    }
}

/// A body error as the table knows it: the one rwsgi's IO policy put in
/// the stream, or hyper's own.
fn classify(err: hyper::Error) -> RequestError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(found) = RequestError::from_io(io) {
                return found.clone();
            }
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return RequestError::TruncatedBody;
            }
        }
        source = cause.source();
    }
    if err.is_incomplete_message() {
        RequestError::TruncatedBody
    } else {
        RequestError::BadChunkedBody("malformed chunked framing")
    }
}

/// hyper's request body, its errors sorted into the error table.
struct IncomingBody(Incoming);

impl http_body::Body for IncomingBody {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        Pin::new(&mut self.0).poll_frame(cx).map_err(classify)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
