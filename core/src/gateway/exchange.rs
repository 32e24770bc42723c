//! The server's side of one request: what start_response and write() record,
//! and the producer that turns the application's body into events.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use smallvec::SmallVec;

use super::response::AppHead;
use crate::error::panic_message;
use crate::start_response::{HeaderPair, Respond, parse_header, parse_status};
use crate::{Body, BoxError, ContractError, Environ};

/// What the producing side hands the serving side, in order.
pub(crate) enum Event {
    /// The application returned; the environ comes back (thread pool only).
    Returned(Box<Environ>),
    /// The head is committed; the body's exact length if known.
    Head(AppHead, Option<u64>),
    /// A body chunk.
    Chunk(Bytes),
    /// An async body, to be polled on the event loop (thread pool only).
    Stream(Body),
    /// The body ended.
    End,
    /// The application or its body failed.
    Failed(BoxError),
}

/// Where events go: a queue the event loop drains, or a channel from a
/// pool thread. A response is typically head, one chunk, end: the queue
/// holds that much without allocating.
#[allow(clippy::large_enum_variant)] // inline on purpose: the common case, per request
enum Sink {
    /// Events in order; those before the cursor have been taken.
    Queue(SmallVec<[Option<Event>; 3]>, usize),
    Channel(async_channel::Sender<Event>),
}

struct State {
    head: Option<AppHead>,
    /// start_response was called (even if that call was refused).
    called: bool,
    /// The head has left (or is leaving) for the wire.
    committed: bool,
    /// write() was used: the body's own length no longer tells the whole.
    wrote: bool,
    sink: Sink,
}

/// One request's start_response state, shared by the application's
/// [`StartResponse`](crate::StartResponse) and the server.
pub(crate) struct Exchange(Mutex<State>);

impl Exchange {
    pub(crate) fn queued() -> Arc<Self> {
        Exchange::with_sink(Sink::Queue(SmallVec::new(), 0))
    }

    pub(crate) fn channel(tx: async_channel::Sender<Event>) -> Arc<Self> {
        Exchange::with_sink(Sink::Channel(tx))
    }

    fn with_sink(sink: Sink) -> Arc<Self> {
        Arc::new(Exchange(Mutex::new(State {
            head: None,
            called: false,
            committed: false,
            wrote: false,
            sink,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, events are queued for the event loop (a stream body
    /// handed over by a pool thread).
    pub(crate) fn queue_from_now_on(&self) {
        self.lock().sink = Sink::Queue(SmallVec::new(), 0);
    }

    pub(crate) fn pop(&self) -> Option<Event> {
        match &mut self.lock().sink {
            Sink::Queue(queue, next) => {
                let event = queue.get_mut(*next)?.take();
                *next += 1;
                if *next == queue.len() {
                    queue.clear();
                    *next = 0;
                }
                event
            }
            Sink::Channel(_) => None,
        }
    }

    /// Sends an event; `false` once nobody listens (the client is gone).
    fn emit(&self, event: Event) -> bool {
        let mut state = self.lock();
        match &mut state.sink {
            Sink::Queue(queue, _) => {
                queue.push(Some(event));
                true
            }
            Sink::Channel(tx) => {
                let tx = tx.clone();
                drop(state);
                tx.send_blocking(event).is_ok()
            }
        }
    }

    pub(crate) fn emit_returned(&self, environ: Box<Environ>) -> bool {
        self.emit(Event::Returned(environ))
    }

    /// Commits the head if it has not gone yet: the first non-empty chunk,
    /// or the end of the body, is about to be sent.
    fn commit(&self, body_len: Option<u64>) -> Result<(), ContractError> {
        let mut state = self.lock();
        if state.committed {
            return Ok(());
        }
        let head = state.head.take().ok_or(ContractError::NoStartResponse)?;
        state.committed = true;
        let body_len = if state.wrote { None } else { body_len };
        drop(state);
        self.emit(Event::Head(head, body_len));
        Ok(())
    }
}

impl Respond for Exchange {
    fn start_response(
        &self,
        status: Cow<'static, str>,
        headers: Vec<HeaderPair>,
        exc_info: Option<BoxError>,
    ) -> Result<(), ContractError> {
        let mut state = self.lock();
        match exc_info {
            None if state.called => return Err(ContractError::AlreadyStarted),
            Some(exc) if state.committed => return Err(ContractError::HeadersAlreadySent(exc)),
            _ => {}
        }
        state.called = true;
        drop(state);
        let head = app_head(status, headers)?;
        self.lock().head = Some(head);
        Ok(())
    }

    fn write(&self, data: Bytes) -> Result<(), ContractError> {
        let mut state = self.lock();
        if !state.called || (state.head.is_none() && !state.committed) {
            return Err(ContractError::WriteBeforeStart);
        }
        state.wrote = true;
        drop(state);
        self.commit(None)?;
        if !data.is_empty() {
            self.emit(Event::Chunk(data));
        }
        Ok(())
    }
}

fn app_head(status: Cow<'static, str>, headers: Vec<HeaderPair>) -> Result<AppHead, ContractError> {
    let code = parse_status(&status)?.0;
    let reason = match status {
        Cow::Borrowed(s) => Cow::Borrowed(&s[4..]),
        Cow::Owned(mut s) => Cow::Owned(s.split_off(4)),
    };
    // Room for what the server adds: Date, Server, Content-Length, Connection.
    let mut map = HeaderMap::with_capacity(headers.len() + 4);
    for (name, value) in headers {
        let (name, value) = parse_header(&name, value)?;
        map.append(name, value);
    }
    Ok(AppHead {
        status: code,
        reason,
        headers: map,
    })
}

/// Turns an application's body into events, one step at a time.
pub(crate) struct Producer {
    body: Option<Body>,
    exchange: Arc<Exchange>,
    exact_len: Option<u64>,
    /// Whether any chunk has been produced.
    produced: bool,
}

impl Producer {
    pub(crate) fn new(body: Body, exchange: Arc<Exchange>) -> Self {
        Producer {
            exact_len: body.exact_len(),
            body: Some(body),
            exchange,
            produced: false,
        }
    }

    pub(crate) fn exchange(&self) -> &Arc<Exchange> {
        &self.exchange
    }

    pub(crate) fn is_stream(&self) -> bool {
        self.body.as_ref().is_some_and(Body::is_stream)
    }

    pub(crate) fn into_body(mut self) -> Body {
        self.body.take().unwrap_or_default()
    }

    /// Advances the body by one chunk, emitting the events that follow.
    /// `Ready(false)` once the body has ended or failed.
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(false);
        };
        let polled = catch_unwind(AssertUnwindSafe(|| body.poll_chunk(cx)));
        let event = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Some(Ok(chunk)))) if chunk.is_empty() => return Poll::Ready(true),
            Ok(Poll::Ready(Some(Ok(chunk)))) => {
                self.produced = true;
                match self.exchange.commit(self.exact_len) {
                    Ok(()) => Event::Chunk(chunk),
                    Err(err) => Event::Failed(err.into()),
                }
            }
            // A body that ended without a byte is known to be empty.
            Ok(Poll::Ready(None)) => {
                match self
                    .exchange
                    .commit(if self.produced { self.exact_len } else { Some(0) })
                {
                    Ok(()) => Event::End,
                    Err(err) => Event::Failed(err.into()),
                }
            }
            Ok(Poll::Ready(Some(Err(err)))) => Event::Failed(err),
            Err(panic) => Event::Failed(
                ContractError::Panicked {
                    message: panic_message(&*panic),
                }
                .into(),
            ),
        };
        let more = matches!(event, Event::Chunk(_));
        if !more {
            // Closing now, not when the response is dropped: PEP 3333 wants
            // close() as soon as the iterable is done.
            self.body = None;
        }
        let delivered = self.exchange.emit(event);
        if !delivered {
            self.body = None;
        }
        Poll::Ready(more && delivered)
    }
}
