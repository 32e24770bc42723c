//! `-D/--daemon`: gunicorn's `util.daemonize`.

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;

/// Detaches from the terminal: fork, `setsid`, fork again, umask 022, and
/// standard input, output and error on `/dev/null`.
///
/// # Errors
///
/// A failing `fork`, `setsid` or `open`.
pub fn daemonize() -> nix::Result<()> {
    // SAFETY: called from the master before it starts any thread (see
    // `Gunicorn::run`); the parent exits at once.
    if let ForkResult::Parent { .. } = unsafe { nix::unistd::fork() }? {
        std::process::exit(0);
    }
    nix::unistd::setsid()?;
    // SAFETY: as above; this process is still single-threaded.
    if let ForkResult::Parent { .. } = unsafe { nix::unistd::fork() }? {
        std::process::exit(0);
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty())?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(())
}
