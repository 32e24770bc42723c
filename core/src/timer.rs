//! A timer any runtime can provide.
//!
//! An async body that waits (a long poll, a server-sent-events tick) must not
//! name a runtime and must not start a thread of its own: on tornado's and
//! gevent's single loop that would break the one-thread promise. So core
//! defines the interface, each backend implements it with its runtime's
//! timers, and the application reaches it through [`Environ::sleep`].
//!
//! [`Environ::sleep`]: crate::Environ::sleep

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Creates sleeps on the backend's runtime.
pub trait Timer: Send + Sync + 'static {
    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>>;

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }
}

/// One pending sleep. It can be moved to a new deadline without being
/// re-allocated, which connection timeouts do on every request.
pub trait Sleep: Future<Output = ()> + Send + Sync {
    /// Moves the deadline; a completed sleep becomes pending again.
    fn reset(self: Pin<&mut Self>, deadline: Instant);
}

/// A timer for code that runs outside any server — tests, tools, an
/// [`Environ`](crate::Environ) built by hand. Each sleep parks one helper
/// thread, so servers never use it: every backend brings its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadTimer;

impl Timer for ThreadTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                deadline,
                waker: None,
                dropped: false,
            }),
            changed: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        std::thread::spawn(move || for_thread.run());
        Box::pin(ThreadSleep(shared))
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    deadline: Instant,
    waker: Option<Waker>,
    dropped: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The helper thread: waits for the deadline (which may move), wakes
    /// the task, and exits when the sleep is dropped.
    fn run(&self) {
        let mut state = self.lock();
        while !state.dropped {
            let now = Instant::now();
            if now >= state.deadline {
                if let Some(waker) = state.waker.take() {
                    waker.wake();
                }
                state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            } else {
                let wait = state.deadline - now;
                state = self
                    .changed
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
}

struct ThreadSleep(Arc<Shared>);

impl Future for ThreadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock();
        if Instant::now() >= state.deadline {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Sleep for ThreadSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.0.lock().deadline = deadline;
        self.0.changed.notify_one();
    }
}

impl Drop for ThreadSleep {
    fn drop(&mut self) {
        self.0.lock().dropped = true;
        self.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_timer_sleeps_and_resets() {
        let start = Instant::now();
        futures_lite::future::block_on(ThreadTimer.sleep(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));

        let mut sleep = ThreadTimer.sleep(Duration::from_secs(3600));
        sleep.as_mut().reset(Instant::now() + Duration::from_millis(10));
        let start = Instant::now();
        futures_lite::future::block_on(sleep);
        assert!(start.elapsed() < Duration::from_secs(60));
    }
}
