//! The scoreboard: memory the master maps before forking and every worker
//! shares, where workers record what they are doing (requests served, the
//! request each core is running and since when) and the master reads it
//! (for `--harakiri` and `--stats`) — uWSGI's shared `uwsgi.workers` table.
//!
//! Everything in it is an atomic, so that processes can read and write it
//! without locks. A request line is written byte by byte while its core is
//! marked busy; a reader may see a torn line, never undefined behaviour
//! (uWSGI accepts the same race for its log dump).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};

/// Bytes kept of a request line (`ADDR - METHOD URI`).
pub const LINE: usize = 240;

/// One worker's counters.
#[repr(C)]
pub struct WorkerSlot {
    /// Its pid (0: none running).
    pub pid: AtomicI32,
    /// 1 once it accepts requests.
    pub accepting: AtomicU32,
    /// Requests it finished since it was spawned.
    pub requests: AtomicU64,
    /// Requests whose application call failed (an error or a panic).
    pub exceptions: AtomicU64,
    /// Times the master killed it for `--harakiri` (kept across respawns).
    pub harakiri_count: AtomicU64,
    /// Times it was respawned.
    pub respawn_count: AtomicU64,
    /// When it was last spawned (seconds since the epoch).
    pub last_spawn: AtomicU64,
    /// Microseconds spent in requests, summed.
    pub running_time: AtomicU64,
    /// Response bytes sent.
    pub tx: AtomicU64,
}

/// One core: a thread of a worker (or one concurrent request of it).
#[repr(C)]
pub struct CoreSlot {
    /// 1 while a request runs on it.
    pub in_request: AtomicU32,
    /// When that request started (microseconds since the epoch).
    pub started: AtomicU64,
    /// Its `--harakiri` deadline (seconds since the epoch; 0: none).
    pub deadline: AtomicU64,
    /// Requests it finished.
    pub requests: AtomicU64,
    /// The request line's length, then its bytes.
    pub line_len: AtomicU32,
    /// The request line.
    pub line: [AtomicU8; LINE],
}

/// The shared table: `workers` worker slots, each with `cores` core slots.
#[derive(Clone, Copy)]
pub struct Scoreboard {
    base: NonNull<u8>,
    workers: usize,
    cores: usize,
}

// SAFETY: the table holds only atomics, which any thread (and process) may
// use concurrently; the mapping lives until the process exits.
unsafe impl Send for Scoreboard {}
// SAFETY: as above.
unsafe impl Sync for Scoreboard {}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

const WORKER_SIZE: usize = round_up(size_of::<WorkerSlot>(), 64);
const CORE_SIZE: usize = round_up(size_of::<CoreSlot>(), 64);

impl Scoreboard {
    /// Maps a zeroed table shared with the children forked after this.
    ///
    /// # Errors
    ///
    /// When the system refuses the mapping.
    pub fn new(workers: usize, cores: usize) -> std::io::Result<Scoreboard> {
        let workers = workers.max(1);
        let cores = cores.max(1);
        let len = workers * (WORKER_SIZE + cores * CORE_SIZE);
        let len = std::num::NonZeroUsize::new(len).expect("at least one worker and one core");
        // SAFETY: an anonymous shared mapping aliases no existing memory;
        // the kernel zero-fills it, and all-zero bytes are valid values of
        // every atomic in the table. It is never unmapped, so references
        // into it are valid for the rest of the process (and of every child
        // forked from it, which inherits the same shared pages).
        let base = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(Scoreboard {
            base: base.cast(),
            workers,
            cores,
        })
    }

    /// Worker slots.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Core slots per worker.
    pub fn cores(&self) -> usize {
        self.cores
    }

    fn worker_offset(&self, worker: usize) -> usize {
        worker * (WORKER_SIZE + self.cores * CORE_SIZE)
    }

    /// Worker `index` (0-based; uWSGI numbers them from 1).
    ///
    /// # Panics
    ///
    /// Out of range.
    pub fn worker(&self, index: usize) -> &WorkerSlot {
        assert!(index < self.workers, "worker {index} of {}", self.workers);
        // SAFETY: in bounds (checked), aligned (slots start at multiples of
        // 64 bytes from a page-aligned base), zero-initialised atomics, and
        // the mapping outlives `self` (never unmapped).
        unsafe {
            &*self
                .base
                .as_ptr()
                .add(self.worker_offset(index))
                .cast::<WorkerSlot>()
        }
    }

    /// Core `core` of worker `worker`.
    ///
    /// # Panics
    ///
    /// Out of range.
    pub fn core(&self, worker: usize, core: usize) -> &CoreSlot {
        assert!(worker < self.workers && core < self.cores, "core {worker}/{core}");
        let at = self.worker_offset(worker) + WORKER_SIZE + core * CORE_SIZE;
        // SAFETY: as in `worker`: in bounds, 64-byte aligned, valid atomics,
        // never unmapped.
        unsafe { &*self.base.as_ptr().add(at).cast::<CoreSlot>() }
    }

    /// Takes a free core of `worker` for a request; `None` when all are
    /// busy (the request is then not tracked).
    pub fn claim(&self, worker: usize) -> Option<usize> {
        (0..self.cores).find(|&c| {
            self.core(worker, c)
                .in_request
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Total requests of every worker (uWSGI's `workers[0].requests`).
    pub fn total_requests(&self) -> u64 {
        (0..self.workers)
            .map(|w| self.worker(w).requests.load(Ordering::Relaxed))
            .sum()
    }
}

impl CoreSlot {
    /// Records the start of a request.
    pub fn begin(&self, line: &str, harakiri: u64) {
        let bytes = line.as_bytes();
        let len = bytes.len().min(LINE);
        for (slot, byte) in self.line.iter().zip(&bytes[..len]) {
            slot.store(*byte, Ordering::Relaxed);
        }
        self.line_len.store(len as u32, Ordering::Relaxed);
        self.started.store(now_micros(), Ordering::Release);
        let deadline = if harakiri == 0 {
            0
        } else {
            now_micros() / 1_000_000 + harakiri
        };
        self.deadline.store(deadline, Ordering::Release);
    }

    /// Records the end of a request and frees the core.
    pub fn end(&self) {
        self.deadline.store(0, Ordering::Release);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_request.store(0, Ordering::Release);
    }

    /// The request line (possibly torn if it changes meanwhile).
    pub fn line(&self) -> String {
        let len = (self.line_len.load(Ordering::Acquire) as usize).min(LINE);
        let bytes: Vec<u8> = self.line[..len]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Microseconds since the epoch.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    now_micros() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_independent() {
        let board = Scoreboard::new(3, 4).unwrap();
        board.worker(2).requests.store(7, Ordering::Relaxed);
        assert_eq!(board.worker(1).requests.load(Ordering::Relaxed), 0);
        assert_eq!(board.total_requests(), 7);
        let first = board.claim(1).unwrap();
        let second = board.claim(1).unwrap();
        assert_ne!(first, second);
        board.core(1, first).begin("127.0.0.1 - GET /slow", 5);
        assert_eq!(board.core(1, first).line(), "127.0.0.1 - GET /slow");
        assert!(board.core(1, first).deadline.load(Ordering::Relaxed) > now_secs());
        board.core(1, first).end();
        assert_eq!(board.claim(1), Some(first));
        let long = "x".repeat(LINE + 50);
        board.core(0, 0).begin(&long, 0);
        assert_eq!(board.core(0, 0).line().len(), LINE);
        assert_eq!(board.core(0, 0).deadline.load(Ordering::Relaxed), 0);
    }
}
