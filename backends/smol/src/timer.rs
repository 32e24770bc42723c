//! async-io's timers behind core's `Timer`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// [`rwsgi_core::Timer`] on async-io's reactor (smol's `Timer`). The
/// reactor is process-wide and driven by whichever thread is blocked on
/// it, so a sleep works from any thread — an executor thread or a pool
/// thread reading a request body.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolTimer;

impl rwsgi_core::Timer for SmolTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rwsgi_core::Sleep>> {
        Box::pin(SmolSleep(smol::Timer::at(deadline)))
    }
}

struct SmolSleep(smol::Timer);

impl Future for SmolSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl rwsgi_core::Sleep for SmolSleep {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.0.set_at(deadline);
    }
}
