//! The thread pool synchronous applications run on under
//! [`Dispatch::ThreadPool`](crate::Dispatch::ThreadPool).
//!
//! Twisted's `ThreadPool(min, max)` semantics: `min` threads start at once
//! and stay; more are started on demand up to `max`; beyond that, work waits
//! in order. A thread above `min` that has been idle for 30 s exits. This is
//! written here rather than taken from a crate because the common pools
//! either fix the size (no `min`/`max`) or are process-global (`blocking`),
//! and each server needs its own bounded pool.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of threads; when the last clone is dropped, the threads
/// finish the queued work and exit.
#[derive(Clone)]
pub(crate) struct ThreadPool(Arc<Owner>);

/// Held by the pool's users only, never by its threads, so that its drop
/// marks the moment nobody can submit work any more.
struct Owner(Arc<Shared>);

struct Shared {
    min: usize,
    max: usize,
    state: Mutex<State>,
    work: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

const IDLE_EXIT: Duration = Duration::from_secs(30);

impl ThreadPool {
    pub(crate) fn new(min: usize, max: usize) -> Self {
        let pool = ThreadPool(Arc::new(Owner(Arc::new(Shared {
            min,
            max: max.max(1),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                closed: false,
            }),
            work: Condvar::new(),
        }))));
        let mut state = pool.0.0.lock();
        for _ in 0..min {
            pool.start_thread(&mut state);
        }
        drop(state);
        pool
    }

    /// Runs `job` on a pool thread, now or when one frees up.
    pub(crate) fn execute(&self, job: impl FnOnce() + Send + 'static) {
        let shared = &self.0.0;
        let mut state = shared.lock();
        state.queue.push_back(Box::new(job));
        // A notified thread counts as idle until it wakes; more queued jobs
        // than idle threads means someone must start.
        if state.queue.len() > state.idle && state.threads < shared.max {
            self.start_thread(&mut state);
        }
        shared.work.notify_one();
    }

    fn start_thread(&self, state: &mut State) {
        state.threads += 1;
        let shared = Arc::clone(&self.0.0);
        let spawned = std::thread::Builder::new()
            .name("rwsgi-app".into())
            .spawn(move || shared.work_loop());
        if spawned.is_err() {
            // Out of threads: the queued job waits for a running one.
            state.threads -= 1;
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work_loop(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            if state.closed {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() && state.threads > self.min {
                break;
            }
        }
        state.threads -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn runs_at_most_max_jobs_at_once() {
        let pool = ThreadPool::new(1, 3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new((Mutex::new(0), Condvar::new()));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        for _ in 0..6 {
            let (running, peak, done, gate) = (
                Arc::clone(&running),
                Arc::clone(&peak),
                Arc::clone(&done),
                Arc::clone(&gate),
            );
            pool.execute(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let (open, cv) = &*gate;
                let guard = open.lock().unwrap();
                drop(cv.wait_while(guard, |open| !*open).unwrap());
                running.fetch_sub(1, Ordering::SeqCst);
                *done.0.lock().unwrap() += 1;
                done.1.notify_all();
            });
        }
        // Wait until three jobs are running; the other three must be queued.
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "three jobs never started");
            std::thread::yield_now();
        }
        assert_eq!(pool.0.0.lock().queue.len(), 3);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let finished = done
            .1
            .wait_timeout_while(done.0.lock().unwrap(), Duration::from_secs(10), |n| *n < 6);
        assert_eq!(*finished.unwrap().0, 6);
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
