//! tornado's access log: the line `WSGIContainer._log` writes to the
//! `tornado.access` logger — `"%d %s %.2fms" % (status, "METHOD URI
//! (REMOTE_IP)", milliseconds)` — at `info` below 400, `warning` below 500
//! and `error` above, formatted as tornado's `LogFormatter` does once
//! `tornado.options.parse_command_line()` (or `enable_pretty_logging`) has
//! set logging up.

use std::fmt;
use std::str::FromStr;

use rwsgi_core::{AccessLog, AccessRecord, Errors, Level};

/// How lines are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// tornado's `LogFormatter`: `[I 250101 12:00:00 wsgi] 200 GET / (127.0.0.1) 0.41ms`
    /// (level initial, `%y%m%d %H:%M:%S` local time, the module). tornado
    /// adds `:LINE`, the Python source line of the call; rwsgi has none to
    /// give.
    #[default]
    Pretty,
    /// The message alone, as Python's last-resort handler prints it when
    /// logging was never configured.
    Plain,
}

/// The least severe line written: tornado's `--logging` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything (tornado's `debug`).
    Debug,
    /// Every request (tornado's `info`, the default of `--logging`).
    Info,
    /// Requests answered 4xx and 5xx.
    Warning,
    /// Requests answered 5xx.
    Error,
    /// Nothing (`--logging=none`).
    None,
}

impl LogLevel {
    fn threshold(self) -> Option<Level> {
        match self {
            LogLevel::Debug => Some(Level::Debug),
            LogLevel::Info => Some(Level::Info),
            LogLevel::Warning => Some(Level::Warning),
            LogLevel::Error => Some(Level::Error),
            LogLevel::None => None,
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warning" => Ok(LogLevel::Warning),
            "error" => Ok(LogLevel::Error),
            "none" => Ok(LogLevel::None),
            _ => Err(format!("{s:?} is not one of debug, info, warning, error, none")),
        }
    }
}

/// tornado's access log, as an [`AccessLog`] the gateway calls once per
/// response.
///
/// ```
/// use rwsgi_core::ErrorBuffer;
/// use rwsgi_tornado::{AccessLogger, LogLevel};
///
/// let lines = ErrorBuffer::new();
/// let logger = AccessLogger::new(rwsgi_core::Errors::new(lines.clone())).level(LogLevel::Warning);
/// # drop(logger);
/// ```
#[derive(Clone)]
pub struct AccessLogger {
    sink: Errors,
    level: LogLevel,
    format: LogFormat,
}

impl AccessLogger {
    /// Lines at `info` and above, pretty, to `sink`.
    pub fn new(sink: Errors) -> Self {
        AccessLogger {
            sink,
            level: LogLevel::Info,
            format: LogFormat::Pretty,
        }
    }

    /// Lines at `info` and above, pretty, to standard error.
    pub fn stderr() -> Self {
        AccessLogger::new(Errors::stderr())
    }

    /// The least severe line written.
    #[must_use]
    pub fn level(mut self, level: LogLevel) -> Self {
        self.level = level;
        self
    }

    /// The layout.
    #[must_use]
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Whether any line can be written (`LogLevel::None` writes none).
    pub fn is_enabled(&self) -> bool {
        self.level != LogLevel::None
    }
}

impl fmt::Debug for AccessLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLogger")
            .field("level", &self.level)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// The level tornado's `WSGIContainer._log` picks for a status.
pub fn level_for(status: u16) -> Level {
    match status {
        0..400 => Level::Info,
        400..500 => Level::Warning,
        _ => Level::Error,
    }
}

/// `"%d %s %.2fms"`: the message of one line.
pub fn message(status: u16, method: &str, uri: &str, remote_ip: &str, millis: f64) -> String {
    format!("{status} {method} {uri} ({remote_ip}) {millis:.2}ms")
}

impl AccessLog for AccessLogger {
    fn log(&self, record: &AccessRecord<'_>) {
        let level = level_for(record.status.as_u16());
        match self.level.threshold() {
            Some(threshold) if level >= threshold => {}
            _ => return,
        }
        let environ = record.environ;
        // tornado's remote_ip: the peer (or what xheaders made it); a unix
        // socket peer is "0.0.0.0".
        let remote_ip = environ.remote_addr.as_deref().unwrap_or("0.0.0.0");
        let text = message(
            record.status.as_u16(),
            environ.method.as_str(),
            &environ.raw_uri,
            remote_ip,
            record.duration.as_secs_f64() * 1000.0,
        );
        let line = match self.format {
            LogFormat::Plain => format!("{text}\n"),
            LogFormat::Pretty => {
                let initial = match level {
                    Level::Debug => 'D',
                    Level::Info => 'I',
                    Level::Warning => 'W',
                    Level::Error => 'E',
                    Level::Critical => 'C',
                };
                let stamp = chrono::Local::now().format("%y%m%d %H:%M:%S");
                format!("[{initial} {stamp} wsgi] {text}\n")
            }
        };
        self.sink.write(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_levels_are_tornados() {
        assert_eq!(
            message(200, "GET", "/a?b=1", "127.0.0.1", 0.4567),
            "200 GET /a?b=1 (127.0.0.1) 0.46ms"
        );
        assert_eq!(level_for(399), Level::Info);
        assert_eq!(level_for(404), Level::Warning);
        assert_eq!(level_for(503), Level::Error);
        assert_eq!("WARNING".parse::<LogLevel>(), Ok(LogLevel::Warning));
        assert!("loud".parse::<LogLevel>().is_err());
    }
}
