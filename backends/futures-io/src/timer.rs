//! async-io's timers behind core's `Timer`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// [`rwsgi_core::Timer`] on async-io's reactor (smol's and async-std's
/// `Timer`, used directly because it can be moved to a new deadline). The
/// reactor is process-wide and driven by whichever thread is blocked on
/// it, so a sleep works from any thread — an executor thread or a pool
/// thread reading a request body.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncIoTimer;

impl rwsgi_core::Timer for AsyncIoTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rwsgi_core::Sleep>> {
        Box::pin(AsyncIoSleep(async_io::Timer::at(deadline)))
    }
}

struct AsyncIoSleep(async_io::Timer);

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl rwsgi_core::Sleep for AsyncIoSleep {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.0.set_at(deadline);
    }
}
