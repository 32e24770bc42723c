//! Adopting inherited listening sockets.
//!
//! A process that is handed an already-bound socket — by a pre-fork master
//! (`fd://N`), by systemd socket activation (`LISTEN_FDS`) or by an old master
//! during a binary upgrade — knows it only as a number. Turning that number
//! into an owned socket is the one `unsafe` operation rwsgi's listener code
//! needs, so it lives here, alone, where it can be read in one sitting.
//!
//! ```no_run
//! // fd 3 was inherited from the parent process.
//! let socket = rwsgi_fd::adopt(3)?;
//! let listener: std::net::TcpListener = socket.into();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashSet;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::Mutex;

use socket2::Socket;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const SD_LISTEN_FDS_START: RawFd = 3;

/// Descriptors already turned into owned sockets: adopting one twice would
/// give two owners, and the second close would hit whatever reused the number.
static ADOPTED: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// Takes ownership of the inherited descriptor `fd`, which must be an open
/// socket. The descriptor is marked close-on-exec.
///
/// # Errors
///
/// `EBADF` if `fd` is not open, `ENOTSOCK` if it is not a socket, and
/// `InvalidInput` if it is negative or was adopted before in this process.
pub fn adopt(fd: RawFd) -> io::Result<Socket> {
    if fd < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd://{fd}: a file descriptor is a non-negative number"),
        ));
    }
    let mut adopted = ADOPTED.lock().unwrap_or_else(|e| e.into_inner());
    if adopted.get_or_insert_with(HashSet::new).contains(&fd) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd://{fd} is already in use by this process"),
        ));
    }
    // SAFETY: F_GETFD only reads the descriptor table entry; any integer is a
    // valid argument and an unused one yields EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("fd://{fd}: {err}")));
    }
    // SAFETY: the descriptor is open (checked just above) and was inherited
    // for this process to serve on; the ADOPTED set guarantees this is the
    // only owner created for it here.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    adopted.get_or_insert_with(HashSet::new).insert(fd);
    drop(adopted);
    if let Err(err) = socket.r#type() {
        // Not a socket: give the number back untouched rather than closing a
        // descriptor (a log file, say) that someone else still uses.
        std::mem::forget(socket);
        forget_adopted(fd);
        return Err(io::Error::new(err.kind(), format!("fd://{fd}: {err}")));
    }
    socket.set_cloexec(true)?;
    Ok(socket)
}

fn forget_adopted(fd: RawFd) {
    if let Some(set) = ADOPTED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        set.remove(&fd);
    }
}

/// The descriptors systemd passed to this process, per `sd_listen_fds(3)`:
/// `LISTEN_FDS` of them starting at 3, if `LISTEN_PID` names this process.
/// Returns an empty list when socket activation is not in use.
///
/// # Errors
///
/// A malformed `LISTEN_FDS`/`LISTEN_PID`, or a descriptor [`adopt`] refuses.
pub fn systemd_listeners() -> io::Result<Vec<Socket>> {
    let (Ok(pid), Ok(count)) = (std::env::var("LISTEN_PID"), std::env::var("LISTEN_FDS")) else {
        return Ok(Vec::new());
    };
    let bad = |what: &str, value: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}={value:?} is not a number"),
        )
    };
    let pid: u32 = pid.trim().parse().map_err(|_| bad("LISTEN_PID", &pid))?;
    if pid != std::process::id() {
        return Ok(Vec::new());
    }
    let count: RawFd = count.trim().parse().map_err(|_| bad("LISTEN_FDS", &count))?;
    (SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count)
        .map(adopt)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn adopts_a_listening_socket_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fd = listener.into_raw_fd();
        let socket = adopt(fd).unwrap();
        assert_eq!(socket.local_addr().unwrap().as_socket(), Some(addr));
        let again = adopt(fd).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn refuses_closed_and_negative_descriptors() {
        assert_eq!(adopt(-1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // A high number nothing in the test process has opened.
        let err = adopt(19_999).unwrap_err();
        assert_eq!(err.raw_os_error(), None);
        assert!(err.to_string().contains("fd://19999"), "{err}");
    }

    #[test]
    fn refuses_a_file_without_closing_it() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let err = adopt(fd).unwrap_err();
        assert!(err.to_string().contains("fd://"), "{err}");
        // Still open and still ours: reading works.
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &file, &mut text).unwrap();
        assert!(text.contains("Pid:"));
    }
}
