//! `tornado.process`: forking worker processes that share the listening
//! sockets (`fork_processes`, used by `HTTPServer.start(n)`), and which
//! of them this is (`task_id`).
//!
//! As in tornado, the parent never returns from [`fork_processes`]: it
//! waits for its children, starts a new one for each that was killed by a
//! signal or exited with a non-zero status (at most `max_restarts` times,
//! 100 by default), and exits with status 0 once they have all exited
//! cleanly. Beyond tornado, it forwards SIGTERM, SIGINT and SIGQUIT to the
//! children (and restarts none after that), and on Linux each child gets
//! SIGTERM if the parent dies, so no worker outlives its parent.
//!
//! Forking is only sound while the process has one thread; tornado asks
//! the same ("no IOLoops can be created or referenced until after the call
//! to `TCPServer.start(n)`"), and [`fork_processes`] checks it.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

/// No task id: this process was not forked by [`fork_processes`].
const NO_TASK: usize = usize::MAX;

static TASK_ID: AtomicUsize = AtomicUsize::new(NO_TASK);

/// tornado's default for `max_restarts`.
pub const DEFAULT_MAX_RESTARTS: usize = 100;

/// `tornado.process.task_id()`: which child this is (0 to n-1), or `None`
/// in a process that did not come from [`fork_processes`].
pub fn task_id() -> Option<usize> {
    match TASK_ID.load(Ordering::Relaxed) {
        NO_TASK => None,
        id => Some(id),
    }
}

/// `tornado.process.cpu_count()`.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `tornado.process.fork_processes(num_processes, max_restarts)`: forks
/// `num_processes` children (0: one per CPU) and returns, in each child,
/// its task id. The parent does not return (see the module docs).
///
/// # Errors
///
/// When the process has more than one thread (forking it would copy only
/// the calling thread and whatever locks the others held), or `fork`
/// fails.
pub fn fork_processes(num_processes: usize, max_restarts: Option<usize>) -> io::Result<usize> {
    let num_processes = if num_processes == 0 {
        cpu_count()
    } else {
        num_processes
    };
    let max_restarts = max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS);
    ensure_single_threaded()?;
    // The signals the parent handles are blocked before the first fork and
    // waited for synchronously, so that no handler is ever installed: a
    // child starts with the default dispositions and unblocks them.
    let signals = parent_signals();
    signals.thread_block().map_err(io::Error::from)?;
    eprintln!("rwsgi: tornado: starting {num_processes} processes");
    let mut children: HashMap<Pid, usize> = HashMap::new();
    for id in 0..num_processes {
        match fork()? {
            None => return Ok(become_child(id, &signals)),
            Some(pid) => {
                children.insert(pid, id);
            }
        }
    }
    let mut restarts = 0;
    let mut stopping = false;
    while !children.is_empty() {
        let signal = wait_for(&signals)?;
        if signal != Signal::SIGCHLD {
            stopping = true;
            for pid in children.keys() {
                let _ = kill(*pid, signal);
            }
            continue;
        }
        for status in reap() {
            let Some(pid) = status.pid() else { continue };
            let Some(id) = children.remove(&pid) else {
                continue;
            };
            match status {
                WaitStatus::Signaled(_, signal, _) => {
                    // tornado's words, the signal as a number.
                    let number = signal as i32;
                    eprintln!("rwsgi: tornado: child {id} (pid {pid}) killed by signal {number}, restarting");
                }
                WaitStatus::Exited(_, code) if code != 0 => {
                    eprintln!("rwsgi: tornado: child {id} (pid {pid}) exited with status {code}, restarting");
                }
                _ => {
                    eprintln!("rwsgi: tornado: child {id} (pid {pid}) exited normally");
                    continue;
                }
            }
            if stopping {
                continue;
            }
            restarts += 1;
            if restarts > max_restarts {
                eprintln!("rwsgi: tornado: too many child restarts, giving up");
                for pid in children.keys() {
                    let _ = kill(*pid, Signal::SIGTERM);
                }
                std::process::exit(1);
            }
            match fork()? {
                None => return Ok(become_child(id, &signals)),
                Some(pid) => {
                    children.insert(pid, id);
                }
            }
        }
    }
    // All children exited: exit rather than return to code that would start
    // an IOLoop in the parent too (tornado does the same).
    std::process::exit(0)
}

fn become_child(id: usize, signals: &SigSet) -> usize {
    TASK_ID.store(id, Ordering::Relaxed);
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let _ = signals.thread_unblock();
    id
}

/// The threads of this process, from `/proc/self/task` (Linux); elsewhere
/// the check is skipped.
fn ensure_single_threaded() -> io::Result<()> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Ok(());
    };
    let threads = tasks.count();
    if threads > 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "start(n) forks, which needs a process with one thread, and this one has {threads}: \
                 call it before anything starts a thread (tornado asks the same of IOLoops)"
            ),
        ));
    }
    Ok(())
}

fn fork() -> io::Result<Option<Pid>> {
    // SAFETY: the process has a single thread (checked before the first
    // fork; the parent starts none afterwards), so the child is a complete
    // copy: no lock can be held by a thread that does not exist there.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => Ok(None),
        ForkResult::Parent { child } => Ok(Some(child)),
    }
}

/// Every child that has exited, with its wait status.
fn reap() -> Vec<WaitStatus> {
    std::iter::from_fn(|| match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => None,
        Ok(status) => Some(status),
    })
    .collect()
}

/// The signals the parent waits for: children exiting, and the ones it
/// forwards.
fn parent_signals() -> SigSet {
    [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT]
        .into_iter()
        .collect()
}

/// Waits for one of the (blocked) signals.
fn wait_for(signals: &SigSet) -> io::Result<Signal> {
    loop {
        match signals.wait() {
            Err(Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_fork_a_threaded_process() {
        // The test harness runs tests on threads of their own.
        let err = fork_processes(2, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("one thread"), "{err}");
        assert_eq!(task_id(), None);
    }
}
