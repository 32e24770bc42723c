//! tokio's timers behind core's `Timer`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

/// [`rwsgi_core::Timer`] on a tokio runtime's timer wheel. It can be used
/// from any thread — a pool thread reading a request body with a timeout,
/// say — since it enters its runtime to create a sleep.
#[derive(Clone, Debug)]
pub struct TokioTimer(tokio::runtime::Handle);

impl TokioTimer {
    /// A timer on the runtime `handle` belongs to.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        TokioTimer(handle)
    }
}

impl rwsgi_core::Timer for TokioTimer {
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rwsgi_core::Sleep>> {
        let _runtime = self.0.enter();
        Box::pin(TokioSleep {
            inner: tokio::time::sleep_until(deadline.into()),
        })
    }
}

pin_project! {
    struct TokioSleep {
        #[pin]
        inner: tokio::time::Sleep,
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl rwsgi_core::Sleep for TokioSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.project().inner.reset(deadline.into());
    }
}
