//! # rwsgi-hyper
//!
//! The hyper 1 engine: serves one connection with hyper's HTTP/1 parser and
//! writer, and rwsgi's [gateway](rwsgi_core::gateway) for everything WSGI.
//! It names no runtime: a backend hands it any IO that implements hyper's
//! `rt::Read`/`rt::Write` — tokio's through `hyper_util::rt::TokioIo`, a
//! `futures-io` stream through [`FuturesIo`].
//!
//! ```no_run
//! # async fn example(io: impl hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
//! #                  info: rwsgi_core::gateway::ConnInfo, gateway: rwsgi_core::gateway::Gateway) {
//! let watch = rwsgi_core::conn::ConnWatch::new(gateway.config());
//! rwsgi_hyper::serve_connection(io, info, gateway, watch).await;
//! # }
//! ```
//!
//! What hyper does not do, rwsgi adds around it: an idle keep-alive timeout
//! apart from the header timeout, a 408 for a slow head, a write timeout
//! (the backend's IO wrapper, [`rwsgi_core::conn`]); the request limits and
//! framing rules of the error table (the gateway). hyper's own buffer and
//! header-count limits are set above rwsgi's, so that the statuses are the
//! table's.

mod io;
mod service;

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;

use hyper::server::conn::http1;
use rwsgi_core::conn::ConnWatch;
use rwsgi_core::gateway::{ConnInfo, Gateway};

pub use io::FuturesIo;

/// Serves HTTP/1 on `io` until the client leaves, the connection times out,
/// or the server shuts down (then in-flight requests finish and idle
/// keep-alive connections close at once).
///
/// Not an `async fn`: one would keep its arguments, and the builder, in the
/// connection's future beside hyper's connection for as long as the
/// connection lives — room an idle connection pays for.
pub fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    gateway: Gateway,
    watch: Arc<ConnWatch>,
) -> impl Future<Output = ()> + Send + 'static
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let config = gateway.config();
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(!config.keep_alive.is_zero())
        // hyper's own limits sit above rwsgi's, so that the gateway's checks
        // (and statuses) decide.
        .max_buf_size(config.max_head_len().saturating_add(1024).max(8192))
        .header_read_timeout(None)
        // A client that shuts down its sending side still gets its answer.
        .half_close(true)
        // No `pipeline_flush`: with it, hyper leaves a response unflushed
        // while pipelined bytes wait in its read buffer, and when that
        // response closes the connection (a refusal by the gateway,
        // `keep_alive` 0, a shutdown) it shuts down without ever writing it.
        .auto_date_header(false);
    // The scanner below refuses heads over the field limit, so hyper's own
    // count never decides. Up to 100 fields hyper parses into an inline
    // array; naming any count makes it build one per request instead.
    if config.limit_request_fields == 0 || config.limit_request_fields > 100 {
        builder.max_headers(if config.limit_request_fields == 0 {
            4096
        } else {
            config.limit_request_fields
        });
    }
    let handle = gateway.handle().clone();
    let service = service::WsgiService::new(gateway, info, Arc::clone(&watch));
    // Unpin (the IO is), so it is polled where the future keeps it rather
    // than moved into a pinned copy.
    let mut conn = builder.serve_connection(io, service);
    async move {
        let mut shutdown = pin!(handle.shutdown_requested());
        let mut closing = false;
        let mut requested = false;
        let _ = poll_fn(|cx| {
            if !requested {
                requested = shutdown.as_mut().poll(cx).is_ready();
            }
            loop {
                // hyper closes a connection that has read nothing yet at once;
                // one just accepted may carry a request still on its way, so it
                // is told only once bytes have come (or its header timeout ends
                // it).
                if requested && !closing && !watch.is_fresh() {
                    closing = true;
                    Pin::new(&mut conn).graceful_shutdown();
                }
                let poll = Pin::new(&mut conn).poll(cx);
                if poll.is_ready() || closing || !requested || watch.is_fresh() {
                    return poll;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use rwsgi_core::{Addr, Body, Config, Environ, ServerHandle, StartResponse, ThreadTimer};

    use super::*;

    /// A connection that never sends anything.
    struct Quiet;

    impl hyper::rt::Read for Quiet {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: hyper::rt::ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl hyper::rt::Write for Quiet {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn hello(_: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("hello"))
    }

    /// What a connection keeps for as long as it lives, idle or not,
    /// beside hyper's own buffers: 712 bytes when this was written (728
    /// when the workspace's other crates turn on more of hyper's features),
    /// 952 while `serve_connection` was an `async fn` (BENCHMARKS.md).
    #[test]
    fn an_idle_connection_keeps_a_small_future() {
        let gateway = Gateway::new(
            hello,
            Config::default(),
            Arc::new(ThreadTimer),
            ServerHandle::new(),
        );
        let addr = Addr::Tcp(([127, 0, 0, 1], 8000).into());
        let watch = ConnWatch::new(gateway.config());
        let connection = serve_connection(Quiet, ConnInfo::new(addr.clone(), addr), gateway, watch);
        let size = std::mem::size_of_val(&connection);
        assert!(size <= 768, "a connection's future takes {size} bytes");
    }
}
