//! `-p/--pid`: the master's pid file, managed as gunicorn's `Pidfile`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

/// A pid file this process wrote.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: u32,
}

impl Pidfile {
    /// Writes `pid` to `path` (atomically, mode 0644). A file naming a live
    /// process other than this one is refused, as gunicorn refuses it.
    ///
    /// # Errors
    ///
    /// gunicorn's messages: already running, or a missing directory.
    pub fn create(path: &Path, pid: u32) -> Result<Pidfile, String> {
        if let Some(old) = validate(path) {
            if old != pid && old != std::process::id() {
                return Err(format!(
                    "Already running on PID {old} (or pid file '{}' is stale)",
                    path.display()
                ));
            }
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(format!("{} doesn't exist. Can't create pidfile.", dir.display()));
        }
        let tmp = dir.join(format!(".{}.{pid}.tmp", file_name(path)));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(format!("{pid}\n").as_bytes())?;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|err| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write pid file {}: {err}", path.display())
        })?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            pid,
        })
    }

    /// Removes the file, if it still names this process.
    pub fn unlink(&self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Moves the pid file to `path` (a promoted master takes the name).
    ///
    /// # Errors
    ///
    /// As [`create`](Pidfile::create).
    pub fn rename(&mut self, path: &Path) -> Result<(), String> {
        self.unlink();
        *self = Pidfile::create(path, self.pid)?;
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "pid".to_owned(), |n| n.to_string_lossy().into_owned())
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid in `path` if that process is alive (gunicorn's `validate`).
fn validate(path: &Path) -> Option<u32> {
    let pid = read_pid(path)?;
    let raw = i32::try_from(pid).ok()?;
    match nix::sys::signal::kill(Pid::from_raw(raw), None) {
        Ok(()) | Err(Errno::EPERM) => Some(pid),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuse_stale_rename_unlink() {
        let dir = std::env::temp_dir().join(format!("rwsgi-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.pid");
        let me = std::process::id();
        let mut file = Pidfile::create(&path, me).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        // A live process (pid 1) in the file: refused.
        std::fs::write(&path, "1\n").unwrap();
        let err = Pidfile::create(&path, me).unwrap_err();
        assert!(err.starts_with("Already running on PID 1"), "{err}");
        // A stale one: replaced.
        std::fs::write(&path, "2147483646\n").unwrap();
        file = Pidfile::create(&path, me).unwrap_or(file);
        let moved = dir.join("g.pid.2");
        file.rename(&moved).unwrap();
        assert!(!path.exists() && moved.exists());
        file.unlink();
        assert!(!moved.exists());
        let err = Pidfile::create(&dir.join("nope/g.pid"), me).unwrap_err();
        assert!(err.ends_with("doesn't exist. Can't create pidfile."), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
