//! # rwsgi-async-h1
//!
//! The async-h1 engine: serves one connection with async-h1 2 (and its
//! `http-types`), and rwsgi's [gateway](rwsgi_core::gateway) for everything
//! WSGI. It names no runtime: a backend hands it any `futures-io` stream —
//! wrapped, as every backend's streams are, in
//! [`CheckedIo`](rwsgi_core::conn::CheckedIo).
//!
//! ```no_run
//! use std::sync::Arc;
//! use rwsgi_core::conn::{CheckedIo, ConnIo, ConnWatch};
//! # async fn example(stream: impl futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
//! #                  info: rwsgi_core::gateway::ConnInfo, gateway: rwsgi_core::gateway::Gateway) {
//! let watch = ConnWatch::new(gateway.config());
//! let policy = ConnIo::new(Arc::clone(&watch), Arc::clone(gateway.timer()), gateway.config());
//! rwsgi_async_h1::serve_connection(CheckedIo::new(stream, policy), info, gateway, watch).await;
//! # }
//! ```
//!
//! **async-h1 is discontinued upstream**, with async-std (2.3.4 is its last
//! release); rwsgi keeps it so that a benchmark can set one engine against
//! another on the same runtime. For new deployments use hyper.
//!
//! ## What async-h1 does here, and what the adapter does
//!
//! async-h1 decodes each request body (its `Content-Length` reader and its
//! chunked decoder, through `async_h1::server::decode`) and encodes the
//! responses `http-types` can carry exactly (`async_h1::server::Encoder`).
//! Its request type cannot carry the head rwsgi's gateway needs, so the
//! adapter reads the head from the bytes itself and gives async-h1 a head
//! with the body's framing only. What `http_types::Request` loses, and
//! why the adapter keeps it:
//!
//! | async-h1 / http-types | the adapter |
//! |---|---|
//! | the target becomes a `Url`: `/a/../b` is `/b`, percent-escapes and fragments change, `*` and odd forms are refused | the target exactly as sent |
//! | methods outside `http-types`' list (`PROPFIND` is there; `-BLARGH`, `M-SEARCH` are not) are refused | any token |
//! | HTTP/1.0 is refused | HTTP/1.0 and 1.1 |
//! | a request without `Host` is refused | served (`SERVER_NAME` from the socket) |
//! | field values must be ASCII; field order is lost across names | the bytes as sent, in order |
//! | heads over 8 KiB or 128 fields are refused | the `limit_request_*` limits of [`Config`](rwsgi_core::Config), enforced by the scanner below every engine |
//! | only `Transfer-Encoding: chunked` exactly is chunked (`gzip, chunked` would desynchronise the stream) | framed as the scanner framed it |
//! | chunk extensions are refused; a trailer section in pieces stalls | extensions and trailer fields are dropped before async-h1 decodes (rwsgi drops trailers anyway) |
//! | bytes read ahead of a request are lost (pipelining stalls) | async-h1 is never handed a byte past the current message |
//! | `100 Continue` is written from a task on async-global-executor | written before the first body read, as hyper does |
//! | no keep-alive timeout, no 408, no write timeout | [`rwsgi_core::conn`], as for every engine |
//!
//! So no [`Config`](rwsgi_core::Config) has to be refused for async-h1's
//! fixed limits: they never see a client's head. On the response side the
//! adapter writes, byte for byte as the gateway decided, what the
//! `Encoder` cannot: a custom reason phrase, a status `http-types` lacks,
//! obs-text in a field value, bodiless responses (HEAD, 204, 304) and an
//! HTTP/1.0 body delimited by the close.
//!
//! One difference stays (the README's backend table lists it): the status
//! line is always `HTTP/1.1`, also to an HTTP/1.0 request, where hyper
//! answers `HTTP/1.0` (RFC 9110 §6.2 allows either).

mod body;
mod head;
mod stream;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};
use rwsgi_core::conn::ConnWatch;
use rwsgi_core::gateway::{ConnInfo, Gateway};

use body::{Encoded, RequestBody};
use stream::H1Io;

/// Serves HTTP/1 on `io` until the client leaves, the connection times out,
/// or the server shuts down (then the request in flight finishes and an
/// idle keep-alive connection closes at once).
pub async fn serve_connection<I>(io: I, info: ConnInfo, gateway: Gateway, watch: Arc<ConnWatch>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = H1Io::new(io);
    let mut writer = io.clone();
    let handle = gateway.handle().clone();
    let mut buf = vec![0; 16 * 1024];
    while io.next_message() {
        let decoded = futures_lite::future::or(
            async { Some(async_h1::server::decode(io.clone()).await) },
            async {
                // Shutting down: a connection idle between requests closes;
                // one just accepted or partway through a head goes on (its
                // request may be on its way; its own timeouts bound it).
                handle.shutdown_requested().await;
                if watch.is_idle() {
                    None
                } else {
                    std::future::pending().await
                }
            },
        )
        .await;
        let (mut request, body_reader) = match decoded {
            Some(Ok(Some(decoded))) => decoded,
            // Shut down, or the client left, or the keep-alive time ran out.
            None | Some(Ok(None)) => break,
            Some(Err(_)) => {
                // The policy below has answered a bad request already; a
                // head that could not be split is answered here.
                if let Some(response) = io.take_refusal().and_then(|err| gateway.reject(&err)) {
                    io.response_started();
                    let _ = send(Encoded::new(response), &mut writer, &mut buf).await;
                }
                break;
            }
        };
        let Some(parsed) = io.take_head() else { break };
        watch.request_started();
        let body = RequestBody::new(request.take_body(), parsed.framing);
        drop(request);
        let response = gateway.serve(&info, parsed.head, Box::pin(body)).await;
        let Some(response) = response else { break };
        let keep_alive = response.head.keep_alive;
        io.response_started();
        let sent = send(Encoded::new(response), &mut writer, &mut buf).await;
        drop(body_reader);
        watch.response_finished();
        if sent.is_err() {
            // The client is gone or stopped reading: nothing more to say.
            return;
        }
        if !keep_alive || !io.message_complete() {
            break;
        }
    }
    let _ = poll_fn(|cx| Pin::new(&mut writer).poll_close(cx)).await;
}

/// The smallest room a read of a response is given (async-h1's chunked
/// encoder needs a few bytes for its framing).
const MIN_READ: usize = 1024;

/// Writes `response` to `writer`, gathering what is ready into one write
/// (the head with the first part of the body), and flushes whenever the
/// body has to wait, and at its end.
async fn send<W: AsyncWrite + Unpin>(
    mut response: Encoded,
    writer: &mut W,
    buf: &mut [u8],
) -> io::Result<()> {
    let (mut filled, mut written, mut ended, mut unflushed) = (0, 0, false, false);
    poll_fn(|cx| {
        loop {
            while written < filled {
                let n = ready!(Pin::new(&mut *writer).poll_write(cx, &buf[written..filled]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                written += n;
                unflushed = true;
            }
            (filled, written) = (0, 0);
            if ended {
                ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                return Poll::Ready(Ok(()));
            }
            while buf.len() - filled >= MIN_READ {
                match Pin::new(&mut response).poll_read(cx, &mut buf[filled..]) {
                    Poll::Ready(Ok(0)) => {
                        ended = true;
                        break;
                    }
                    Poll::Ready(Ok(n)) => filled += n,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Pending if filled > 0 => break,
                    Poll::Pending => {
                        if unflushed {
                            ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                            unflushed = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
        }
    })
    .await
}
