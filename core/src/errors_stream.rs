//! `wsgi.errors`: the error stream, and the server's own error log.

use std::fmt;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// Severity of a line the server itself logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// Normal operation (a worker booted, a signal received).
    Info,
    /// Something odd that the server handled.
    Warning,
    /// A request or an application failed.
    Error,
    /// The server cannot go on.
    Critical,
}

impl Level {
    /// The upper-case name gunicorn prints (`INFO`, `ERROR`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where `wsgi.errors` text and the server's log lines go. Personalities
/// provide their own (gunicorn's `--error-logfile` format, twisted's log).
pub trait ErrorLog: Send + Sync + 'static {
    /// Raw text an application wrote to `wsgi.errors`.
    fn write(&self, text: &str);

    /// A complete line logged by the server. The default writes
    /// `[LEVEL] message` through [`write`](ErrorLog::write).
    fn log(&self, level: Level, message: fmt::Arguments<'_>) {
        self.write(&format!("[{level}] {message}\n"));
    }

    /// Whether lines of this level are wanted; the default keeps `Info`
    /// and above.
    fn enabled(&self, level: Level) -> bool {
        level >= Level::Info
    }

    /// Flushes buffered text; the default does nothing.
    fn flush(&self) {}
}

/// Writes to the process's standard error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stderr;

impl ErrorLog for Stderr {
    fn write(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Keeps everything written in memory; for tests and tools.
#[derive(Clone, Debug, Default)]
pub struct ErrorBuffer(Arc<Mutex<String>>);

impl ErrorBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ErrorLog for ErrorBuffer {
    fn write(&self, text: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push_str(text);
    }
}

/// The `wsgi.errors` stream handed to the application in every
/// [`Environ`](crate::Environ): `write`, `writelines` and `flush`, as PEP
/// 3333 asks. Cloning it is cheap; all clones write to the same log.
///
/// ```
/// use rwsgi_core::{ErrorBuffer, Errors};
/// let buffer = ErrorBuffer::new();
/// let errors = Errors::new(buffer.clone());
/// errors.write("database slow\n");
/// errors.writelines(["a\n", "b\n"]);
/// assert_eq!(buffer.contents(), "database slow\na\nb\n");
/// ```
#[derive(Clone)]
pub struct Errors(Arc<dyn ErrorLog>);

impl Errors {
    /// A stream writing to `log`.
    pub fn new(log: impl ErrorLog) -> Self {
        Errors(Arc::new(log))
    }

    /// A stream writing to an already shared log.
    pub fn from_arc(log: Arc<dyn ErrorLog>) -> Self {
        Errors(log)
    }

    /// A stream writing to standard error.
    pub fn stderr() -> Self {
        Errors::new(Stderr)
    }

    /// `wsgi.errors.write(text)`.
    pub fn write(&self, text: &str) {
        self.0.write(text);
    }

    /// `wsgi.errors.writelines(lines)`.
    pub fn writelines<I, S>(&self, lines: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for line in lines {
            self.0.write(line.as_ref());
        }
    }

    /// `wsgi.errors.flush()`.
    pub fn flush(&self) {
        self.0.flush();
    }

    /// Logs a line on behalf of the server, if its level is enabled.
    pub fn log(&self, level: Level, message: fmt::Arguments<'_>) {
        if self.0.enabled(level) {
            self.0.log(level, message);
        }
    }
}

impl Default for Errors {
    fn default() -> Self {
        Errors::stderr()
    }
}

impl fmt::Debug for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Errors(..)")
    }
}

impl fmt::Write for Errors {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write(s);
        Ok(())
    }
}
