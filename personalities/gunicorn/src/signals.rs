//! The master's signals, as gunicorn's arbiter takes them: a handler only
//! counts the signal and writes a byte to a pipe; the main loop sleeps on
//! that pipe and handles what was counted.
//!
//! The master must stay single-threaded (it forks), so this is a plain
//! `sigaction` handler and a self-pipe, not a signal thread.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The signals the master handles (gunicorn's `SIGNALS`, plus `SIGCHLD`,
/// which only wakes the loop).
pub const HANDLED: [Signal; 10] = [
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

/// How many of each signal arrived and were not handled yet, by number.
static PENDING: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];
/// The write end of the wake-up pipe, or -1.
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// The handler. Async-signal-safe: it touches only atomics, `errno` (saved
/// and restored) and `write(2)`.
extern "C" fn on_signal(signal: libc::c_int) {
    let saved = nix::errno::Errno::last_raw();
    if let Some(count) = usize::try_from(signal).ok().and_then(|i| PENDING.get(i)) {
        count.fetch_add(1, Ordering::SeqCst);
    }
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a static
        // byte; `fd` is the non-blocking write end of our pipe (a full pipe
        // fails with EAGAIN, which is fine: the loop is awake already).
        unsafe { libc::write(fd, b".".as_ptr().cast(), 1) };
    }
    nix::errno::Errno::set_raw(saved);
}

/// The installed handlers and the pipe they wake the main loop through.
#[derive(Debug)]
pub struct Signals {
    read: OwnedFd,
    /// Kept open for the handler, which writes to it by number.
    _write: OwnedFd,
}

impl Signals {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// When the pipe or a handler cannot be set up.
    pub fn install() -> io::Result<Signals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        WAKE.store(write.as_raw_fd(), Ordering::SeqCst);
        for signal in HANDLED {
            let flags = if signal == Signal::SIGCHLD {
                SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP
            } else {
                SaFlags::SA_RESTART
            };
            let action = SigAction::new(SigHandler::Handler(on_signal), flags, SigSet::empty());
            // SAFETY: `on_signal` is async-signal-safe (see above), and
            // replacing the previous disposition is what we want.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(Signals { read, _write: write })
    }

    /// Takes the count of `signal` received since the last call.
    pub fn take(&self, signal: Signal) -> u32 {
        PENDING[signal as usize].swap(0, Ordering::SeqCst)
    }

    /// Sleeps until a signal arrives or `timeout` passes, then empties the
    /// pipe.
    pub fn wait(&self, timeout: Duration) {
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.read.as_fd(), PollFlags::POLLIN)];
        // EINTR just means a signal came: fall through to draining.
        let _ = poll(&mut fds, PollTimeout::from(millis));
        let mut buf = [0u8; 64];
        while let Ok(n) = nix::unistd::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// In a freshly forked worker: the default dispositions back, the pipe
    /// closed, nothing pending.
    pub fn reset_in_child(self) {
        WAKE.store(-1, Ordering::SeqCst);
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        for signal in HANDLED {
            // SAFETY: restoring the default disposition installs no handler.
            let _ = unsafe { sigaction(signal, &default) };
            PENDING[signal as usize].store(0, Ordering::SeqCst);
        }
        drop(self);
    }
}

/// gunicorn's lower-case signal name (`Handling signal: hup`).
pub fn name(signal: Signal) -> String {
    signal.as_str().trim_start_matches("SIG").to_ascii_lowercase()
}
