//! The worker heartbeat: gunicorn's `WorkerTmp`, an unlinked temporary file
//! the master creates before forking and both keep open. The worker stores
//! the monotonic clock in the file's mtime; the master reads it with
//! `fstat`.
//!
//! The file also carries two facts in its metadata, so that the master
//! learns them with the same `fstat`: an mtime of 0 means the worker has
//! not finished booting yet (it sets the first real time once its server
//! is listening), and mode `0400` means the worker reached `--max-requests`
//! and asks to be replaced.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::stat::{Mode, fchmod, fstat, futimens};
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};

const RETIRE_MODE: u32 = 0o400;

/// The monotonic clock: the same in every process on this machine.
pub fn monotonic() -> Duration {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(Duration::ZERO, Duration::from)
}

/// A worker's heartbeat file.
#[derive(Debug)]
pub struct WorkerTmp {
    file: File,
}

/// What the master reads from a heartbeat file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    /// The monotonic time of the last heartbeat; `None` while booting.
    pub last: Option<Duration>,
    /// The worker asks to be replaced (`--max-requests`).
    pub retire: bool,
}

impl WorkerTmp {
    /// Creates the file in `dir` (the system's temporary directory if
    /// `None`), unlinks it, and gives it to `owner` (the workers' uid and
    /// gid) if set.
    ///
    /// # Errors
    ///
    /// When the file cannot be created.
    pub fn new(dir: Option<&Path>, owner: (Option<u32>, Option<u32>)) -> io::Result<WorkerTmp> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let path = dir.join(format!(
            "wgunicorn-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            monotonic().as_nanos()
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))?;
        std::fs::remove_file(&path)?;
        if owner.0.is_some() || owner.1.is_some() {
            nix::unistd::fchown(
                &file,
                owner.0.map(nix::unistd::Uid::from_raw),
                owner.1.map(nix::unistd::Gid::from_raw),
            )?;
        }
        let zero = TimeSpec::new(0, 0);
        futimens(&file, &zero, &zero)?;
        Ok(WorkerTmp { file })
    }

    /// The worker is alive (and, the first time, booted).
    pub fn notify(&self) {
        let now = TimeSpec::from(monotonic().max(Duration::from_nanos(1)));
        let _ = futimens(&self.file, &TimeSpec::UTIME_OMIT, &now);
    }

    /// The worker asks to be replaced.
    pub fn request_retire(&self) {
        let _ = fchmod(&self.file, Mode::from_bits_truncate(RETIRE_MODE));
    }

    /// The master's reading.
    ///
    /// # Errors
    ///
    /// When `fstat` fails.
    pub fn beat(&self) -> io::Result<Beat> {
        let stat = fstat(&self.file)?;
        let secs = u64::try_from(stat.st_mtime).unwrap_or(0);
        let nanos = u32::try_from(stat.st_mtime_nsec).unwrap_or(0);
        let last = Duration::new(secs, nanos);
        Ok(Beat {
            last: (!last.is_zero()).then_some(last),
            retire: stat.st_mode & 0o777 == RETIRE_MODE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boots_beats_and_retires() {
        let tmp = WorkerTmp::new(None, (None, None)).unwrap();
        assert_eq!(
            tmp.beat().unwrap(),
            Beat {
                last: None,
                retire: false
            }
        );
        let before = monotonic();
        tmp.notify();
        let beat = tmp.beat().unwrap();
        let last = beat.last.unwrap();
        assert!(last >= before && last <= monotonic(), "{last:?} {before:?}");
        assert!(!beat.retire);
        tmp.request_retire();
        assert!(tmp.beat().unwrap().retire);
    }
}
