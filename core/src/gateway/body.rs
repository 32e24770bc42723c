//! The response body an engine polls.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures_lite::Stream;
use http::{HeaderMap, StatusCode};
use http_body::{Frame, SizeHint};

use super::Gateway;
use super::exchange::{Event, Exchange, Producer};
use super::response::{Framing, ResponseHead};
use crate::access_log::AccessRecord;
use crate::server::Addr;
use crate::{BoxError, ContractError, Environ, Level};

/// Where a response's events come from.
pub(crate) enum Source {
    /// The body runs here, on the event loop.
    Producing(Producer),
    /// The body runs on a pool thread.
    Channel {
        rx: Pin<Box<async_channel::Receiver<Event>>>,
        exchange: std::sync::Arc<Exchange>,
    },
    /// The body ended; the request body is being discarded.
    Ended,
    /// Nothing more.
    Done,
}

impl Source {
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        loop {
            match self {
                Source::Producing(producer) => {
                    if let Some(event) = producer.exchange().pop() {
                        return Poll::Ready(event);
                    }
                    if !ready!(producer.poll_step(cx)) {
                        match producer.exchange().pop() {
                            Some(event) => return Poll::Ready(event),
                            None => *self = Source::Done,
                        }
                    }
                }
                Source::Channel { rx, exchange } => match ready!(rx.as_mut().poll_next(cx)) {
                    Some(Event::Stream(body)) => {
                        exchange.queue_from_now_on();
                        *self = Source::Producing(Producer::new(body, std::sync::Arc::clone(exchange)));
                    }
                    Some(event) => return Poll::Ready(event),
                    None => {
                        *self = Source::Done;
                        return Poll::Ready(Event::Failed(
                            "the application thread stopped before the response ended".into(),
                        ));
                    }
                },
                Source::Ended | Source::Done => return Poll::Ready(Event::End),
            }
        }
    }

    /// On a pool thread: runs the body to its end, sending each event; an
    /// async body is handed to the event loop instead.
    pub(crate) fn run_on_pool_thread(self, tx: &async_channel::Sender<Event>) {
        match self {
            Source::Producing(producer) if producer.is_stream() => {
                let _ = tx.send_blocking(Event::Stream(producer.into_body()));
            }
            Source::Producing(mut producer) => {
                while futures_lite::future::block_on(std::future::poll_fn(|cx| producer.poll_step(cx))) {}
            }
            Source::Channel { .. } | Source::Ended | Source::Done => {}
        }
    }
}

/// What the access log needs once the response ends.
pub(crate) struct LogEntry {
    pub environ: Option<Box<Environ>>,
    peer: Addr,
    /// When the request began, taken only when there is an access log.
    started: Option<(SystemTime, Instant)>,
    /// The status and headers sent, kept only when there is an access log.
    sent: Option<Box<(StatusCode, HeaderMap)>>,
}

impl LogEntry {
    pub(crate) fn new(
        environ: Option<Box<Environ>>,
        peer: Addr,
        started: Option<(SystemTime, Instant)>,
    ) -> Self {
        LogEntry {
            environ,
            peer,
            started,
            sent: None,
        }
    }
}

/// A response body as the application produces it, ready for an engine:
/// an [`http_body::Body`] of data frames.
///
/// It sends no more than the head's `Content-Length` (the excess is
/// dropped and logged) and fails — so that the engine closes the connection
/// — when the body ends short of it or the application fails mid-way.
/// Dropping it closes the application's body (running its close hooks), and
/// counts and logs the request.
pub struct ResponseBody {
    first: Option<Bytes>,
    /// The chunk that completes `Content-Length`, held until a pool thread
    /// reports the application's body ended (and closed), so that PEP
    /// 3333's `close()` comes before the client sees the response end.
    last: Option<Bytes>,
    source: Source,
    /// Bytes still owed under Content-Length.
    remaining: Option<u64>,
    declared: Option<u64>,
    sent: u64,
    ended: bool,
    completed: bool,
    /// What may still be discarded of a request body left unread.
    discard_budget: u64,
    log: Option<LogEntry>,
    gateway: Gateway,
}

impl ResponseBody {
    pub(crate) fn new(
        source: Source,
        head: &ResponseHead,
        discard: bool,
        mut log: LogEntry,
        gateway: Gateway,
    ) -> Self {
        let declared = match head.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        if gateway.config().access_log.is_some() {
            log.sent = Some(Box::new((head.status, head.headers.clone())));
        }
        ResponseBody {
            first: None,
            last: None,
            // A bodiless response closes the application's body right away.
            source: if discard { Source::Done } else { source },
            remaining: declared,
            declared,
            sent: 0,
            ended: discard,
            completed: discard,
            discard_budget: super::DISCARD_LIMIT,
            log: Some(log),
            gateway,
        }
    }

    /// A body the server made itself (an error page).
    pub(crate) fn server_made(bytes: Bytes, gateway: Gateway) -> Self {
        let len = bytes.len() as u64;
        ResponseBody {
            first: Some(bytes),
            last: None,
            source: Source::Done,
            remaining: Some(len),
            declared: Some(len),
            sent: 0,
            ended: false,
            completed: false,
            discard_budget: super::DISCARD_LIMIT,
            log: None,
            gateway,
        }
    }

    pub(crate) fn set_log(&mut self, mut log: LogEntry, head: &ResponseHead) {
        if self.gateway.config().access_log.is_some() {
            log.sent = Some(Box::new((head.status, head.headers.clone())));
        }
        self.log = Some(log);
    }

    fn chunk(&mut self, mut chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(remaining) = self.remaining {
            if chunk.len() as u64 > remaining {
                chunk.truncate(remaining as usize);
                self.log_breach(&ContractError::BodyLongerThanContentLength {
                    content_length: self.declared.unwrap_or_default(),
                });
                // Close the application's body now; what it owed is sent.
                self.source = Source::Done;
            }
            self.remaining = Some(remaining - chunk.len() as u64);
        }
        self.sent += chunk.len() as u64;
        if chunk.is_empty() {
            return self.end();
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        self.source = Source::Done;
        if let Some(content_length) = self.declared.filter(|_| self.remaining.is_some_and(|r| r > 0)) {
            let err = ContractError::BodyShorterThanContentLength {
                content_length,
                sent: self.sent,
            };
            self.log_breach(&err);
            return Poll::Ready(Some(Err(err.into())));
        }
        self.completed = true;
        Poll::Ready(None)
    }

    fn fail(&mut self, err: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        self.source = Source::Done;
        self.log_breach(&*err);
        Poll::Ready(Some(Err(err)))
    }

    /// With the last chunk held: waits for the application's body to end
    /// on its pool thread, then sends the chunk and ends.
    fn poll_last(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            match ready!(self.source.poll_event(cx)) {
                Event::Returned(environ) => {
                    if let Some(log) = self.log.as_mut() {
                        log.environ = Some(environ);
                    }
                }
                Event::Chunk(chunk) if chunk.is_empty() => {}
                Event::Head(..) | Event::Stream(_) => {}
                Event::End => {
                    // As at any end: read what the application left of the
                    // request body first (bounded).
                    if let Some(environ) = self.log.as_mut().and_then(|l| l.environ.as_mut()) {
                        if environ
                            .input
                            .poll_discard(cx, &mut self.discard_budget)
                            .is_pending()
                        {
                            self.source = Source::Ended;
                            return Poll::Pending;
                        }
                    }
                    return self.finish_last();
                }
                Event::Chunk(_) => {
                    self.log_breach(&ContractError::BodyLongerThanContentLength {
                        content_length: self.declared.unwrap_or_default(),
                    });
                    return self.finish_last();
                }
                Event::Failed(err) => {
                    self.log_breach(&*err);
                    return self.finish_last();
                }
            }
        }
    }

    /// Sends the held chunk: the response is complete.
    fn finish_last(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let last = self.last.take().unwrap_or_default();
        self.source = Source::Done;
        let frame = self.chunk(last);
        self.ended = true;
        self.completed = true;
        frame
    }

    fn log_breach(&self, err: &(dyn std::error::Error + Send + Sync)) {
        let target = self
            .log
            .as_ref()
            .and_then(|l| l.environ.as_ref())
            .map_or("", |e| e.raw_uri.as_str());
        self.gateway.config().error_log.log(
            Level::Error,
            format_args!("Error handling request {target}: {err}"),
        );
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return this.chunk(first);
        }
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if this.last.is_some() {
                return this.poll_last(cx);
            }
            match ready!(this.source.poll_event(cx)) {
                Event::Chunk(chunk) if chunk.is_empty() => {}
                Event::Chunk(chunk)
                    if this.remaining == Some(chunk.len() as u64)
                        && matches!(this.source, Source::Channel { .. }) =>
                {
                    this.last = Some(chunk);
                }
                Event::Chunk(chunk) => return this.chunk(chunk),
                Event::End => {
                    // Read what the application left of the request body
                    // before the response ends (bounded; past the bound the
                    // connection cannot be reused anyway).
                    if let Some(environ) = this.log.as_mut().and_then(|l| l.environ.as_mut()) {
                        let budget = &mut this.discard_budget;
                        if environ.input.poll_discard(cx, budget).is_pending() {
                            this.source = Source::Ended;
                            return Poll::Pending;
                        }
                    }
                    return this.end();
                }
                Event::Failed(err) => return this.fail(err),
                Event::Returned(environ) => {
                    if let Some(log) = this.log.as_mut() {
                        log.environ = Some(environ);
                    }
                }
                // A head replaced after the commit cannot be sent; it was
                // refused to the application already.
                Event::Head(..) | Event::Stream(_) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.first.is_none() && self.last.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (self.ended, self.remaining) {
            (true, _) => SizeHint::with_exact(0),
            (false, Some(n)) => SizeHint::with_exact(n),
            (false, None) => SizeHint::default(),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.source = Source::Done;
        self.gateway.handle().count_request();
        let (Some(access_log), Some(log)) = (self.gateway.config().access_log.as_ref(), self.log.take())
        else {
            return;
        };
        if let (Some(environ), Some(sent), Some(started)) = (&log.environ, &log.sent, log.started) {
            access_log.log(&AccessRecord {
                environ,
                peer: &log.peer,
                status: sent.0,
                response_headers: &sent.1,
                body_bytes: self.sent,
                started: started.0,
                duration: started.1.elapsed(),
                completed: self.completed,
            });
        }
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("remaining", &self.remaining)
            .field("sent", &self.sent)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
