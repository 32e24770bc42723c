//! The gateway: the one place that turns an HTTP request head into an
//! [`Environ`] and start_response's output into a response head — so that
//! every backend and engine behaves the same.
//!
//! An engine parses bytes into a [`RequestHead`] and hands it, with the body
//! stream, to [`Gateway::serve`]; it gets back a [`Response`] — a
//! [`ResponseHead`] to write as is, and a [`ResponseBody`] to poll — or
//! `None`, meaning "close without answering". The gateway validates the head
//! (limits, framing, methods, targets: see the
//! [error table](crate::request_error)), builds the environ, runs the
//! application where [`Dispatch`] says, catches its panics, enforces
//! `Content-Length`, decides framing, adds `Date` and `Server`, and counts
//! and logs the request. Engines do none of that themselves.

mod body;
mod exchange;
mod request;
mod response;

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{StatusCode, Version};

pub use body::ResponseBody;
pub use request::RequestHead;
pub use response::{Framing, ResponseHead, http_date};

use body::{LogEntry, Source};
use exchange::{Event, Exchange, Producer};
pub(crate) use response::RequestFacts;

use crate::error::panic_message;
use crate::input::EngineBody;
use crate::pool::ThreadPool;
use crate::request_error::RequestError;
use crate::server::{Addr, Config, Dispatch, ServerHandle};
use crate::timer::Timer;
use crate::{Application, ContractError, Environ, Input, Level, SharedApp, StartResponse};

/// How much of a request body the application left unread is read and
/// thrown away before the response ends (so that a keep-alive connection's
/// next request is found where it starts); past it, the connection closes.
pub(crate) const DISCARD_LIMIT: u64 = 1024 * 1024;

/// The facts about a connection the environ needs.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The client (`REMOTE_ADDR`, `REMOTE_PORT`).
    pub peer: Addr,
    /// The listening address (`SERVER_NAME`/`SERVER_PORT` without `Host`).
    pub local: Addr,
    /// Whether the connection is TLS (`wsgi.url_scheme = https`, `HTTPS=on`).
    pub secure: bool,
    /// The socket's own peer when a PROXY protocol header named the client
    /// in `peer` (the environ's `rwsgi.proxy_peer`, for checks that must
    /// trust the proxy, not the client).
    pub proxy: Option<Addr>,
}

impl ConnInfo {
    /// A plain connection from `peer` to `local`.
    pub fn new(peer: Addr, local: Addr) -> Self {
        ConnInfo {
            peer,
            local,
            secure: false,
            proxy: None,
        }
    }
}

/// The environ key of [`ConnInfo::proxy`], as a `String` value: the
/// address (IP, without port) of the proxy that sent a PROXY protocol
/// header.
pub const PROXY_PEER: &str = "rwsgi.proxy_peer";

/// A response for the engine to write: the head, then the body.
#[derive(Debug)]
pub struct Response {
    /// Status and headers, complete.
    pub head: ResponseHead,
    /// The body; also an [`http_body::Body`].
    pub body: ResponseBody,
}

/// Serves requests for one server: the application, its configuration, and
/// the runtime services the backend provides. Cheap to clone.
#[derive(Clone)]
pub struct Gateway(Arc<Shared>);

struct Shared {
    app: SharedApp,
    config: Config,
    pool: Option<ThreadPool>,
    timer: Arc<dyn Timer>,
    handle: ServerHandle,
}

impl Gateway {
    /// A gateway serving `app`, with `timer` from the backend's runtime.
    pub fn new(app: impl Application, config: Config, timer: Arc<dyn Timer>, handle: ServerHandle) -> Self {
        let pool = match config.dispatch {
            Dispatch::Inline => None,
            Dispatch::ThreadPool { min, max } => Some(ThreadPool::new(min, max)),
        };
        Gateway(Arc::new(Shared {
            app: SharedApp::new(app),
            config,
            pool,
            timer,
            handle,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The backend's timer.
    pub fn timer(&self) -> &Arc<dyn Timer> {
        &self.0.timer
    }

    /// The server's handle.
    pub fn handle(&self) -> &ServerHandle {
        &self.0.handle
    }

    /// Serves one request. `None` means the connection must be closed
    /// without a response (the error table says so).
    ///
    /// The checks, the environ and the application's call happen when
    /// the future is made; awaiting it waits for the request body (when
    /// it is buffered) and the response head.
    pub fn serve<'a>(
        &'a self,
        conn: &'a ConnInfo,
        head: RequestHead,
        body: EngineBody,
    ) -> impl Future<Output = Option<Response>> + Send + 'a {
        self.serve_with(conn, head, body, |_| {})
    }

    /// Serves one request whose CGI variables a front end decided (the
    /// uwsgi protocol, where nginx sends `PATH_INFO`, `SERVER_NAME`,
    /// `REMOTE_ADDR`…): as [`serve`](Self::serve), and `adjust` sets them
    /// on the environ built from `head`, before the application runs.
    //
    // Neither this nor `respond` is an `async fn`: an engine allocates the
    // future for every request, and an `async fn` keeps its arguments twice
    // in it (the head alone is 160 bytes). What needs no waiting is done
    // here; the future holds only what crosses an await.
    pub fn serve_with<'a>(
        &'a self,
        conn: &'a ConnInfo,
        mut head: RequestHead,
        body: EngineBody,
        adjust: impl FnOnce(&mut Environ),
    ) -> impl Future<Output = Option<Response>> + Send + 'a {
        self.0.handle.count_received();
        let config = &self.0.config;
        let started = config
            .access_log
            .as_ref()
            .map(|_| (SystemTime::now(), Instant::now()));
        let prepared = request::validate(&mut head, config).and_then(|()| {
            let facts = RequestFacts {
                method: head.method.clone(),
                version: head.version,
                keep_alive: head.wants_keep_alive() && !self.0.handle.is_shutting_down(),
            };
            Ok((request::build_environ(head, conn, config)?, facts))
        });
        let prepared = match prepared {
            Ok((mut environ, facts)) => {
                adjust(&mut environ);
                environ.input = Input::from_engine(body, config.limit_request_body, self.input_timeout());
                Ok((environ, facts))
            }
            Err(err) => Err((err, body)),
        };
        // Inline, the application must never wait for the network.
        let buffer = self.0.pool.is_none() || config.buffer_request_body;
        async move {
            let (mut environ, facts) = match prepared {
                Ok(prepared) => prepared,
                // Rare: boxed, so as not to add its room to every request's.
                Err((err, body)) => return Box::pin(self.reject_unread(err, body)).await,
            };
            if buffer {
                if let Err(err) = environ.input.buffer().await {
                    return self.reject(&err);
                }
            }
            Some(self.respond(environ, facts, conn.peer.clone(), started).await)
        }
    }

    /// Runs the application on a ready environ and waits for its head.
    pub(crate) fn respond(
        &self,
        mut environ: Box<Environ>,
        facts: RequestFacts,
        peer: Addr,
        started: Option<(SystemTime, Instant)>,
    ) -> impl Future<Output = Response> + Send + '_ {
        environ.set_timer(Arc::clone(&self.0.timer));
        let (mut source, environ) = match &self.0.pool {
            None => self.call_inline(environ),
            Some(pool) => (self.call_on_pool(pool, environ), None),
        };
        let mut entry = LogEntry::new(environ, peer, started);
        async move {
            let config = &self.0.config;
            let head = loop {
                match poll_fn(|cx| source.poll_event(cx)).await {
                    Event::Returned(environ) => entry.environ = Some(environ),
                    Event::Head(app_head, len) => {
                        // A shutdown that began while the app ran closes this
                        // connection after the response.
                        let facts = RequestFacts {
                            keep_alive: facts.keep_alive && !self.0.handle.is_shutting_down(),
                            ..facts.clone()
                        };
                        break response::finish_head(app_head, len, &facts, config).map_err(Into::into);
                    }
                    Event::Failed(err) => break Err(err),
                    Event::Chunk(_) | Event::End | Event::Stream(_) => {
                        unreachable!("the head always comes first")
                    }
                }
            };
            match head {
                Ok(head) => {
                    let discard = head.framing == response::Framing::None;
                    Response {
                        body: ResponseBody::new(source, &head, discard, entry, self.clone()),
                        head,
                    }
                }
                Err(err) => {
                    drop(source);
                    self.log_app_error(&entry, &*err);
                    let mut response =
                        self.plain(StatusCode::INTERNAL_SERVER_ERROR, facts.keep_alive, facts.version);
                    response.body.set_log(entry, &response.head);
                    response
                }
            }
        }
    }

    /// [`reject`](Self::reject), after reading what can be read of a body
    /// that is well framed (the error is about something else), so that
    /// the answer is not lost to unread input.
    async fn reject_unread(&self, err: RequestError, body: EngineBody) -> Option<Response> {
        let mut input = Input::from_engine(body, None, self.input_timeout());
        let mut budget = DISCARD_LIMIT;
        poll_fn(|cx| input.poll_discard(cx, &mut budget)).await;
        self.reject(&err)
    }

    fn input_timeout(&self) -> Option<(Arc<dyn Timer>, std::time::Duration)> {
        self.0
            .config
            .body_read_timeout
            .map(|t| (Arc::clone(&self.0.timer), t))
    }

    /// The answer to a request the engine (or the gateway) found bad: the
    /// error table's status with a short text body, or `None` to close
    /// without answering. Logged at debug level and counted.
    pub fn reject(&self, err: &RequestError) -> Option<Response> {
        self.0
            .config
            .error_log
            .log(Level::Debug, format_args!("invalid request: {err}"));
        let (head, reason) = response::rejection(err, &self.0.config)?;
        Some(Response {
            body: ResponseBody::server_made(Bytes::from(format!("{reason}\n")), self.clone()),
            head,
        })
    }

    fn plain(&self, status: StatusCode, keep_alive: bool, version: Version) -> Response {
        let text = format!("{}\n", status.canonical_reason().unwrap_or("Error"));
        let head = response::server_head(status, text.len(), keep_alive, version, &self.0.config);
        Response {
            body: ResponseBody::server_made(Bytes::from(text), self.clone()),
            head,
        }
    }

    fn call_inline(&self, mut environ: Box<Environ>) -> (Source, Option<Box<Environ>>) {
        let exchange = Exchange::queued();
        let start_response = StartResponse::from_arc(exchange.clone());
        let app = &self.0.app;
        let called = catch_unwind(AssertUnwindSafe(|| app.call(&mut environ, &start_response)));
        (Source::from_call(called, exchange), Some(environ))
    }

    fn call_on_pool(&self, pool: &ThreadPool, mut environ: Box<Environ>) -> Source {
        let (tx, rx) = async_channel::bounded(2);
        let exchange = Exchange::channel(tx.clone());
        let app = self.0.app.clone();
        let for_pool = Arc::clone(&exchange);
        pool.execute(move || {
            if tx.is_closed() {
                // The client left while the request waited for a thread.
                return;
            }
            let start_response = StartResponse::from_arc(for_pool.clone());
            let called = catch_unwind(AssertUnwindSafe(|| app.call(&mut environ, &start_response)));
            drop(start_response);
            if !for_pool.emit_returned(environ) {
                return;
            }
            let source = Source::from_call(called, Arc::clone(&for_pool));
            source.run_on_pool_thread(&tx);
        });
        Source::Channel {
            rx: Box::pin(rx),
            exchange,
        }
    }

    fn log_app_error(&self, entry: &LogEntry, err: &(dyn std::error::Error + Send + Sync)) {
        let target = entry.environ.as_ref().map_or("", |e| e.raw_uri.as_str());
        self.0.config.error_log.log(
            Level::Error,
            format_args!("Error handling request {target}: {err}"),
        );
    }
}

impl Source {
    /// The source for an application's result. A failure still goes
    /// through the producer, after whatever `write()` already queued: the
    /// data written must go out, and then the response is cut.
    fn from_call(
        called: std::thread::Result<Result<crate::Body, crate::BoxError>>,
        exchange: Arc<Exchange>,
    ) -> Source {
        let body = match called {
            Ok(Ok(body)) => body,
            Ok(Err(err)) => crate::Body::try_iter([Err::<bytes::Bytes, _>(err)]),
            Err(panic) => crate::Body::try_iter([Err::<bytes::Bytes, _>(ContractError::Panicked {
                message: panic_message(&*panic),
            })]),
        };
        Source::Producing(Producer::new(body, exchange))
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}
