//! What twistd does to the process: daemonising (without `-n`), the
//! pidfile, `--umask`, `--rundir`, dropping privileges (`--uid`, `--gid`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::signal::kill;
use nix::unistd::{ForkResult, Gid, Group, Pid, Uid, User};

/// The daemon's channel to the process that started it: the starter
/// waits, and exits 0 once the daemon reports it is serving (or 1 with the
/// daemon's error), as twistd's `daemonize` does.
pub struct Startup(Option<File>);

impl Startup {
    /// No starter waits (`-n`).
    pub fn foreground() -> Self {
        Startup(None)
    }

    /// The daemon serves: the starter exits 0.
    pub fn ready(&mut self) {
        if let Some(mut pipe) = self.0.take() {
            let _ = pipe.write_all(b"0");
        }
    }

    /// The daemon failed to start: the starter prints `message`, exits 1.
    pub fn failed(&mut self, message: &str) {
        if let Some(mut pipe) = self.0.take() {
            let _ = pipe.write_all(message.as_bytes());
        }
    }
}

/// The threads of this process (from `/proc`).
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Detaches from the terminal: fork (the original waits for the daemon's
/// report), `setsid`, fork again (so the daemon can never regain a
/// terminal), standard input, output and error onto `/dev/null`. Returns
/// in the daemon.
///
/// # Errors
///
/// When the process already runs more than one thread (forking then is
/// unsafe), or a system call fails.
pub fn daemonize() -> io::Result<Startup> {
    if let Some(threads) = thread_count().filter(|&n| n != 1) {
        return Err(io::Error::other(format!(
            "cannot daemonize a process that already runs {threads} threads"
        )));
    }
    let (read, write) = nix::unistd::pipe()?;
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: the process has a single thread (checked above), so the
    // child is a consistent copy: no lock can be held by a thread that does
    // not exist in it. The parent only reads a pipe and exits.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { .. } => {
            drop(write);
            std::process::exit(wait_for_report(read));
        }
        ForkResult::Child => {}
    }
    drop(read);
    nix::unistd::setsid()?;
    // SAFETY: still a single thread (this is the first child, which has
    // started none); the intermediate process exits at once.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    let null = File::options().read(true).write(true).open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(Startup(Some(File::from(write))))
}

/// In the original process: the daemon's verdict as an exit status.
fn wait_for_report(read: OwnedFd) -> i32 {
    let mut report = String::new();
    let _ = File::from(read).read_to_string(&mut report);
    match report.as_str() {
        "0" => 0,
        "" => {
            eprintln!("An unknown error occurred while starting up the daemon.");
            1
        }
        message => {
            eprintln!("An error has occurred: {message}");
            1
        }
    }
}

/// twistd's `checkPID`: refuses to start over a live process's pidfile,
/// removes a stale one.
///
/// # Errors
///
/// The message twistd prints when another server runs.
pub fn check_pidfile(path: &Path) -> Result<(), String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Err(format!("Pidfile {} contains non-numeric value", path.display()));
    };
    if pid > 0 && kill(Pid::from_raw(pid), None).is_ok() {
        return Err(format!(
            "Another twistd server is running, PID {pid}\n\n\
             This could either be a previously started instance of your application or a\n\
             different application entirely. To start a new one, either run it in some other\n\
             directory, or use the --pidfile and --logfile parameters to avoid clashes.\n"
        ));
    }
    eprintln!("Removing stale pidfile {}", path.display());
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Writes this process's pid.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// A user by name or number.
///
/// # Errors
///
/// An unknown name.
pub fn resolve_uid(spec: &str) -> Result<Uid, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(Uid::from_raw(n));
    }
    match User::from_name(spec) {
        Ok(Some(user)) => Ok(user.uid),
        _ => Err(format!("no such user: {spec}")),
    }
}

/// A group by name or number.
///
/// # Errors
///
/// An unknown name.
pub fn resolve_gid(spec: &str) -> Result<Gid, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(spec) {
        Ok(Some(group)) => Ok(group.gid),
        _ => Err(format!("no such group: {spec}")),
    }
}

/// Drops to `gid` then `uid` (after binding, as twistd's
/// `shedPrivileges`); nothing to do when they are already ours.
///
/// # Errors
///
/// When the system refuses.
pub fn shed_privileges(uid: Option<Uid>, gid: Option<Gid>) -> io::Result<()> {
    if let Some(gid) = gid.filter(|g| *g != nix::unistd::getegid()) {
        nix::unistd::setgroups(&[gid])?;
        nix::unistd::setgid(gid)?;
    }
    if let Some(uid) = uid.filter(|u| *u != nix::unistd::geteuid()) {
        nix::unistd::setuid(uid)?;
    }
    Ok(())
}
