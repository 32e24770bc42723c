//! # rwsgi-h1
//!
//! rwsgi's own HTTP/1.0/1.1 engine, built for standing connections.
//!
//! * **Idle means empty.** A connection that waits for its next request
//!   holds no read or write buffer: the first read of a request goes into a
//!   buffer on the stack and is copied out only when bytes arrive; buffers
//!   grown for a large head or body are released once used.
//! * **One flush per pipelined batch.** Answers to requests that arrived
//!   together are queued and written together, in order, when the connection
//!   would otherwise wait.
//! * **RFC 9112 strictly.** The request stream is read by rwsgi's
//!   [scanner](rwsgi_core::wire) — framing, limits and syntax, answered by
//!   the [error table](rwsgi_core::request_error) — and `httparse` extracts
//!   the fields of a head only once the scanner has accepted all of it.
//!
//! It runs over any `futures-io` reader and writer (tokio's through a
//! compat adapter), and hands every request to the
//! [gateway](rwsgi_core::gateway).
//!
//! ```no_run
//! # async fn example<R, W>(reader: R, writer: W, info: rwsgi_core::gateway::ConnInfo, gateway: rwsgi_core::gateway::Gateway)
//! # where R: futures_io::AsyncRead + Unpin + Send + 'static, W: futures_io::AsyncWrite + Unpin + Send + 'static {
//! let watch = rwsgi_core::conn::ConnWatch::new(gateway.config());
//! rwsgi_h1::serve_connection(reader, writer, info, gateway, watch).await;
//! # }
//! ```

mod head;
mod read;
mod write;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};
use http::Version;
use http::header::EXPECT;
use http_body::Body as _;
use rwsgi_core::Timer;
use rwsgi_core::conn::{Closer, ConnWatch, Expiry, RawIo, ReadAlarm};
use rwsgi_core::gateway::{ConnInfo, Framing, Gateway, RequestHead, Response, ResponseBody};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::wire::Limits;

use read::{Body, Input, Next, Shared, lock};
use write::{HIGH_WATER, Output};

/// Serves HTTP/1 on a connection until the client leaves, a timeout, a
/// refusal, or the server's shutdown (in-flight requests finish; idle
/// connections close at once).
///
/// Not an `async fn`: one would keep its parameters twice over in the
/// future, and what a connection keeps while idle is what this engine is
/// built to make small.
pub fn serve_connection<R, W>(
    reader: R,
    writer: W,
    info: ConnInfo,
    gateway: Gateway,
    watch: Arc<ConnWatch>,
) -> impl Future<Output = ()> + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let config = gateway.config();
    let input: Shared<R> = Arc::new(Mutex::new(Input::new(reader, Limits::from(config))));
    let output = Output::new(writer, Arc::clone(gateway.timer()), config.write_timeout);
    async move {
        let mut output = output;
        let timer = &**gateway.timer();
        let max_fields = gateway.config().limit_request_fields;
        let mut alarm = ReadAlarm::default();
        let mut shutdown = pin!(gateway.handle().shutdown_requested());
        let linger = loop {
            let buffered = lock(&input).buffered_head();
            let next = match buffered {
                Some(next) => next,
                None => {
                    // About to wait for the client: what is queued goes now.
                    if poll_fn(|cx| output.poll_flush(cx)).await.is_err() {
                        break false;
                    }
                    poll_fn(|cx| wait_for_head(cx, &input, &watch, timer, &mut alarm, shutdown.as_mut()))
                        .await
                }
            };
            // Serving a request takes futures far larger than an idle
            // connection's state, so they are boxed and live only while it is
            // served; the head is parsed in a block so that its room is not
            // kept either (a local in scope across an await keeps its room).
            let exchange = {
                let head = match next {
                    Next::Head(bytes) => head::parse(&bytes, max_fields),
                    Next::Eof => break lock(&input).mid_message(),
                    Next::Refused(err) => Err(err),
                };
                match head {
                    Ok(head) => Box::pin(exchange(&gateway, &info, head, &input, &mut output)),
                    Err(err) => {
                        // Answered by the table, after everything queued
                        // before it, by the flush below.
                        output.raw(&err.outcome().response_bytes());
                        break true;
                    }
                }
            };
            watch.request_started();
            let reusable = match exchange.await {
                Ok(reusable) => reusable,
                Err(linger) => break linger,
            };
            watch.response_finished();
            if !reusable || !lock(&input).at_message_start() {
                break lock(&input).mid_message();
            }
        };
        let _ = poll_fn(|cx| output.poll_flush(cx)).await;
        let mut closer = Closer::default();
        let mut io = Halves {
            input: &input,
            output: &mut output,
        };
        let _ = poll_fn(|cx| closer.poll_close(cx, &mut io, timer, linger)).await;
    }
}

/// Serves one request: `Ok` with whether its response leaves the
/// connection reusable, or `Err` with how the connection ends (whether to
/// linger) when it cannot go on.
///
/// Not an `async fn`, for the reason `serve_connection` is not: this
/// future is allocated for every request, and its size is a cost.
fn exchange<R, W>(
    gateway: &Gateway,
    info: &ConnInfo,
    head: RequestHead,
    input: &Shared<R>,
    output: &mut Output<W>,
) -> impl Future<Output = Result<bool, bool>>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let body = Body::new(Arc::clone(input));
    let continues = head.version == Version::HTTP_11
        && !body.is_end_stream()
        && head
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    async move {
        if continues {
            // Sent at once (RFC 9110 §10.1.1 allows it): the client then sends
            // the body the application may read.
            output.raw(b"HTTP/1.1 100 Continue\r\n\r\n");
            poll_fn(|cx| output.poll_flush(cx)).await.map_err(|_| false)?;
        }
        let Response { head, body } = gateway.serve(info, head, Box::pin(body)).await.ok_or(true)?;
        output.head(&head);
        let reusable = head.keep_alive && head.framing != Framing::Close;
        let framing = head.framing;
        // The head is written: what the body's future keeps is the body alone.
        drop(head);
        Ok(write_body(output, framing, body).await && reusable)
    }
}

/// Waits for a complete head, with the connection's read deadlines; an
/// idle connection also ends when the server shuts down.
fn wait_for_head<R: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    input: &Shared<R>,
    watch: &ConnWatch,
    timer: &dyn Timer,
    alarm: &mut ReadAlarm,
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
) -> Poll<Next> {
    loop {
        let mut input = lock(input);
        if let Some(next) = input.buffered_head() {
            return Poll::Ready(next);
        }
        // A connection that has received nothing yet is not idle: its first
        // request may still be on its way.
        if !input.has_buffered() && !watch.is_fresh() && shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Next::Eof);
        }
        match input.poll_fill(cx) {
            Poll::Ready(Ok(true)) => {
                watch.bytes_received();
                continue;
            }
            // The stream ended; a head cut short gets no answer (the table).
            Poll::Ready(Ok(false) | Err(_)) => return Poll::Ready(Next::Eof),
            Poll::Pending => {}
        }
        drop(input);
        return match ready!(alarm.poll_expired(watch, timer, cx)) {
            Expiry::Close => Poll::Ready(Next::Eof),
            Expiry::RequestTimeout => Poll::Ready(Next::Refused(RequestError::HeaderReadTimeout)),
        };
    }
}

/// Queues a response's body after its head (writing out as it fills);
/// whether it went out whole.
// Not an `async fn` (see `exchange`): one would keep the 304-byte body twice.
#[allow(clippy::manual_async_fn)]
fn write_body<W: AsyncWrite + Unpin>(
    output: &mut Output<W>,
    framing: Framing,
    mut body: ResponseBody,
) -> impl Future<Output = bool> {
    async move {
        loop {
            // A body with nothing to give yet while bytes are queued: they go
            // out first, so that a streaming body (server-sent events, a long
            // poll) reaches the client while it waits.
            let frame = poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
                Poll::Ready(frame) => Poll::Ready(Some(frame)),
                Poll::Pending if output.buffered() > 0 => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            })
            .await;
            let Some(frame) = frame else {
                if poll_fn(|cx| output.poll_flush(cx)).await.is_err() {
                    return false;
                }
                continue;
            };
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        output.data(framing, &data);
                        if output.buffered() > HIGH_WATER
                            && poll_fn(|cx| output.poll_flush(cx)).await.is_err()
                        {
                            return false;
                        }
                    }
                }
                // The body failed after its head went out: the connection is
                // cut, which is how the client learns (PEP 3333, F6).
                Some(Err(_)) => return false,
                None => break,
            }
        }
        output.end(framing);
        true
    }
}

/// The two halves as one stream, for the lingering close.
struct Halves<'a, R, W> {
    input: &'a Shared<R>,
    output: &'a mut Output<W>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> RawIo for Halves<'_, R, W> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.output.poll_write_now(cx, buf)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.output.poll_shutdown(cx)
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        lock(self.input).poll_discard(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_core::{Addr, Body as AppBody, Config, Environ, ServerHandle, StartResponse, ThreadTimer};

    /// A socket that never has anything to read and takes whatever is
    /// written: enough to build a connection's future.
    struct Quiet;

    impl AsyncRead for Quiet {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Quiet {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn hello(_: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<AppBody> {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(AppBody::from("hello"))
    }

    /// An idle connection's whole state is this future plus its input and
    /// the socket: what it keeps must stay within the ≤ 2 KiB per idle
    /// connection the comparison runner measures (BENCHMARKS.md). Requests
    /// are served in a boxed future of their own, so they do not count
    /// (640 bytes when this was written, 2.2 KiB before that boxing).
    #[test]
    fn an_idle_connection_keeps_a_small_future() {
        let gateway = Gateway::new(
            hello,
            Config::default(),
            Arc::new(ThreadTimer),
            ServerHandle::new(),
        );
        let addr = Addr::Tcp(([127, 0, 0, 1], 8000).into());
        let info = ConnInfo::new(addr.clone(), addr);
        let watch = ConnWatch::new(gateway.config());
        let connection = serve_connection(Quiet, Quiet, info, gateway, watch);
        let size = std::mem::size_of_val(&connection);
        assert!(size <= 704, "a connection's future takes {size} bytes");
    }

    /// Each request is served in a future allocated for it: kept within
    /// 1 032 bytes, where glibc's per-thread cache (tcache) stops, the
    /// allocator serves it without locking or consolidating (1 024 bytes
    /// now; 1 664 before the gateway's and this engine's futures stopped
    /// keeping their arguments twice).
    #[test]
    fn a_request_future_fits_the_allocators_thread_cache() {
        let gateway = Gateway::new(
            hello,
            Config::default(),
            Arc::new(ThreadTimer),
            ServerHandle::new(),
        );
        let addr = Addr::Tcp(([127, 0, 0, 1], 8000).into());
        let info = ConnInfo::new(addr.clone(), addr);
        let input: Shared<Quiet> = Arc::new(Mutex::new(Input::new(Quiet, Limits::from(gateway.config()))));
        let mut output = Output::new(Quiet, Arc::clone(gateway.timer()), None);
        let head = RequestHead {
            method: http::Method::GET,
            target: bytes::Bytes::from_static(b"/"),
            version: Version::HTTP_11,
            headers: http::HeaderMap::new(),
        };
        let serving = exchange(&gateway, &info, head, &input, &mut output);
        let size = std::mem::size_of_val(&serving);
        // The box adds nothing: the bound is the future's own size.
        assert!(size <= 1032, "a request's future takes {size} bytes");
    }
}
