//! Live counters and graceful shutdown, shared by every backend.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::future;

use crate::timer::Timer;

/// A cloneable handle to a running server: its live counters, and graceful
/// shutdown under a deadline.
///
/// [`shutdown`](ServerHandle::shutdown) makes the server stop accepting,
/// close idle keep-alive connections, let requests in flight finish, and
/// close what is still open when the grace period ends; `run` then returns.
///
/// ```
/// # use std::time::Duration;
/// let handle = rwsgi_core::ServerHandle::new();
/// assert_eq!(handle.connections(), 0);
/// handle.shutdown(Duration::from_secs(30));
/// assert!(handle.is_shutting_down());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerHandle(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    connections: AtomicUsize,
    requests: AtomicU64,
    received: AtomicU64,
    /// Set once shutdown begins: the per-request check reads only this.
    shutting_down: std::sync::atomic::AtomicBool,
    deadline: Mutex<Option<Instant>>,
    /// Fired by every `shutdown` call.
    on_shutdown: Event,
    /// Fired whenever a connection closes.
    on_close: Event,
    /// How many reloads were asked for, and fired by each.
    reloads: AtomicU64,
    on_reload: Event,
}

impl ServerHandle {
    /// A handle for a server that is not shutting down and has served
    /// nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Begins a graceful shutdown that must be over within `grace`. Calling
    /// it again can only bring the deadline closer: `Duration::ZERO` is a
    /// quick shutdown.
    pub fn shutdown(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut current = self.0.deadline.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_none_or(|d| deadline < d) {
            *current = Some(deadline);
        }
        self.0.shutting_down.store(true, Ordering::Release);
        drop(current);
        self.0.on_shutdown.notify(usize::MAX);
    }

    /// Asks the server to re-read what it can without a restart (its TLS
    /// certificates): a personality's reload signal, for a server that
    /// reloads in place. Connections open stay as they are.
    pub fn reload(&self) {
        self.0.reloads.fetch_add(1, Ordering::AcqRel);
        self.0.on_reload.notify(usize::MAX);
    }

    /// Completes at the first [`reload`](ServerHandle::reload) asked for
    /// after the `seen`-th, and updates `seen`. For backends: a task that
    /// reloads the TLS configuration waits on this.
    pub async fn reload_requested(&self, seen: &mut u64) {
        loop {
            let listener = self.0.on_reload.listen();
            let now = self.0.reloads.load(Ordering::Acquire);
            if now > *seen {
                *seen = now;
                return;
            }
            listener.await;
        }
    }

    /// Whether [`shutdown`](ServerHandle::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Acquire)
    }

    /// When the grace period ends, once shutdown has begun.
    pub fn deadline(&self) -> Option<Instant> {
        *self.0.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.0.connections.load(Ordering::Acquire)
    }

    /// Requests answered so far (including error responses).
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Requests whose head was read and handed to the gateway so far: once
    /// the server is stopped, every one of them has been answered unless
    /// its client left first.
    pub fn requests_received(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }

    /// Completes when shutdown begins. For backends: the accept loops stop
    /// and each connection starts closing gracefully.
    pub async fn shutdown_requested(&self) {
        loop {
            let listener = self.0.on_shutdown.listen();
            if self.is_shutting_down() {
                return;
            }
            listener.await;
        }
    }

    /// Waits until fewer than `max` connections are open. For backends:
    /// called before each accept, so that a full server leaves new
    /// connections in the kernel's backlog.
    pub async fn room_for_connection(&self, max: usize) {
        loop {
            let listener = self.0.on_close.listen();
            if self.connections() < max {
                return;
            }
            listener.await;
        }
    }

    /// Counts a connection just accepted, until the guard is dropped.
    pub fn connection(&self) -> ConnectionGuard {
        self.0.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self.clone())
    }

    /// After shutdown has begun, waits until every connection has closed
    /// (`true`) or the deadline has passed (`false`). For backends: `run`
    /// returns after this, dropping whatever is still open.
    pub async fn drained(&self, timer: &dyn Timer) -> bool {
        loop {
            let closed = self.0.on_close.listen();
            let reshut = self.0.on_shutdown.listen();
            if self.connections() == 0 {
                return true;
            }
            let Some(deadline) = self.deadline() else {
                // Not shutting down: wait for that first.
                reshut.await;
                continue;
            };
            if Instant::now() >= deadline {
                return false;
            }
            let sleep = timer.sleep_until(deadline);
            future::or(future::or(closed, reshut), sleep).await;
        }
    }

    pub(crate) fn count_request(&self) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_received(&self) {
        self.0.received.fetch_add(1, Ordering::Relaxed);
    }
}

/// One open connection, counted while it lives.
#[derive(Debug)]
pub struct ConnectionGuard(ServerHandle);

impl ConnectionGuard {
    /// The handle of the server this connection belongs to.
    pub fn handle(&self) -> &ServerHandle {
        &self.0
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.0.connections.fetch_sub(1, Ordering::AcqRel);
        self.0.0.on_close.notify(usize::MAX);
    }
}

/// Retry policy for failed `accept` calls.
///
/// Running out of descriptors (`EMFILE`, `ENFILE`) or memory must neither
/// spin the loop nor crash it: the backend waits the returned delay, which
/// doubles from 10 ms up to 1 s while the condition lasts, and the condition
/// is logged once per 10 s with a count, not once per attempt. Errors that
/// concern only the one connection (`ECONNABORTED`, `EINTR`, …) are retried
/// at once.
#[derive(Debug)]
pub struct AcceptBackoff {
    delay: Duration,
    last_report: Option<Instant>,
    unreported: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);
    /// How often a lasting condition is logged.
    pub const REPORT_EVERY: Duration = Duration::from_secs(10);

    /// A policy with no failures yet.
    pub fn new() -> Self {
        AcceptBackoff {
            delay: Duration::ZERO,
            last_report: None,
            unreported: 0,
        }
    }

    /// Records a failed accept; returns how long to wait before the next
    /// one, and writes a line to `log` at most once per
    /// [`REPORT_EVERY`](Self::REPORT_EVERY).
    pub fn on_error(&mut self, err: &std::io::Error, log: &crate::Errors) -> Duration {
        use std::io::ErrorKind::*;
        if matches!(
            err.kind(),
            ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
        ) || err.raw_os_error() == Some(libc_eproto())
        {
            return Duration::ZERO;
        }
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MAX);
        self.unreported += 1;
        let now = Instant::now();
        if self.last_report.is_none_or(|t| now - t >= Self::REPORT_EVERY) {
            log.log(
                crate::Level::Error,
                format_args!(
                    "accept failed {} time(s) since the last report: {err}; pausing accepts for {} ms",
                    self.unreported,
                    self.delay.as_millis()
                ),
            );
            self.last_report = Some(now);
            self.unreported = 0;
        }
        self.delay
    }

    /// Records a successful accept: the next failure starts the back-off
    /// afresh.
    pub fn on_success(&mut self) {
        self.delay = Duration::ZERO;
    }
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self::new()
    }
}

/// `EPROTO` on Linux: a connection that failed during the handshake.
const fn libc_eproto() -> i32 {
    71
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorBuffer;
    use crate::timer::ThreadTimer;

    #[test]
    fn room_waits_for_a_close() {
        let handle = ServerHandle::new();
        let a = handle.connection();
        let _b = handle.connection();
        assert_eq!(handle.connections(), 2);
        let mut room = Box::pin(handle.room_for_connection(2));
        assert!(future::block_on(future::poll_once(&mut room)).is_none());
        drop(a);
        future::block_on(room);
        assert_eq!(handle.connections(), 1);
    }

    #[test]
    fn drained_returns_at_the_deadline_or_when_empty() {
        let handle = ServerHandle::new();
        let guard = handle.connection();
        handle.shutdown(Duration::from_millis(30));
        let start = Instant::now();
        assert!(!future::block_on(handle.drained(&ThreadTimer)));
        assert!(start.elapsed() >= Duration::from_millis(20));
        drop(guard);
        assert!(future::block_on(handle.drained(&ThreadTimer)));
        // A later, longer grace cannot postpone the deadline.
        let before = handle.deadline().unwrap();
        handle.shutdown(Duration::from_secs(60));
        assert_eq!(handle.deadline().unwrap(), before);
    }

    #[test]
    fn backoff_grows_caps_and_reports_once_per_interval() {
        let log = ErrorBuffer::new();
        let errors = crate::Errors::new(log.clone());
        let mut backoff = AcceptBackoff::new();
        let emfile = std::io::Error::from_raw_os_error(24);
        let delays: Vec<_> = (0..10).map(|_| backoff.on_error(&emfile, &errors)).collect();
        assert_eq!(delays[0], Duration::from_millis(10));
        assert_eq!(delays[1], Duration::from_millis(20));
        assert_eq!(*delays.last().unwrap(), Duration::from_secs(1));
        assert_eq!(log.contents().lines().count(), 1, "{}", log.contents());
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.on_error(&aborted, &errors), Duration::ZERO);
        backoff.on_success();
        assert_eq!(backoff.on_error(&emfile, &errors), Duration::from_millis(10));
    }
}
