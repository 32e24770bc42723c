//! twistd's log and twisted.web's combined access log.
//!
//! The twistd log (`--logfile`, `-` for standard output) has one line per
//! event, `TIMESTAMP [SYSTEM] TEXT`, the timestamp in local time as
//! `%Y-%m-%dT%H:%M:%S%z` — twisted's `formatEventAsClassicLogText`. Access
//! lines are twisted's `combinedLogFormatter`:
//!
//! ```text
//! "127.0.0.1" - - [20/Nov/2025:23:00:00 +0000] "GET /hello HTTP/1.1" 200 14 "-" "curl/8.0"
//! ```
//!
//! written to the web `--logfile` as they are, or without one into the
//! twistd log under the system `twisted.python.log#info`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rwsgi_core::{AccessLog, AccessRecord, Addr, ErrorLog, Level};

/// Where lines go.
enum Sink {
    Stdout,
    File(File),
}

/// The twistd log.
#[derive(Clone)]
pub struct TwistdLog(Arc<Mutex<Sink>>);

impl TwistdLog {
    /// The log on standard output.
    pub fn stdout() -> Self {
        TwistdLog(Arc::new(Mutex::new(Sink::Stdout)))
    }

    /// The log appended to `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened.
    pub fn file(path: &Path) -> io::Result<Self> {
        Ok(TwistdLog(Arc::new(Mutex::new(Sink::File(open_append(path)?)))))
    }

    /// Logs `text` under `system`, one line per line of text.
    pub fn event(&self, system: &str, text: &str) {
        let stamp = timestamp();
        let mut out = String::new();
        for line in text.trim_end_matches('\n').split('\n') {
            out.push_str(&format!("{stamp} [{system}] {line}\n"));
        }
        self.write_raw(&out);
    }

    /// Writes text as it is.
    pub fn write_raw(&self, text: &str) {
        let mut sink = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match &mut *sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            Sink::File(file) => file.write_all(text.as_bytes()),
        };
    }
}

impl ErrorLog for TwistdLog {
    /// `wsgi.errors`: twisted's `_ErrorStream` logs what the application
    /// writes under the system `wsgi`.
    fn write(&self, text: &str) {
        if !text.trim().is_empty() {
            self.event("wsgi", text);
        }
    }

    fn log(&self, _level: Level, message: fmt::Arguments<'_>) {
        self.event("-", &message.to_string());
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// twistd's event timestamp: local time, `2025-11-20T23:00:00+0000`.
pub fn timestamp() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// twisted.web's access log.
pub struct CombinedLog {
    target: Target,
}

enum Target {
    File(Mutex<File>),
    Twistd(TwistdLog),
}

impl CombinedLog {
    /// Lines into the twistd log (no web `--logfile`).
    pub fn into_twistd(log: TwistdLog) -> Self {
        CombinedLog {
            target: Target::Twistd(log),
        }
    }

    /// Lines into their own file (`twistd web --logfile PATH`).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened.
    pub fn file(path: &Path) -> io::Result<Self> {
        Ok(CombinedLog {
            target: Target::File(Mutex::new(open_append(path)?)),
        })
    }
}

impl AccessLog for CombinedLog {
    fn log(&self, record: &AccessRecord<'_>) {
        let line = combined_line(record, SystemTime::now());
        match &self.target {
            Target::File(file) => {
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                let _ = file.write_all(format!("{line}\n").as_bytes());
            }
            Target::Twistd(log) => log.event("twisted.python.log#info", &line),
        }
    }
}

/// One access line, as twisted's `combinedLogFormatter` writes it.
pub fn combined_line(record: &AccessRecord<'_>, now: SystemTime) -> String {
    let env = record.environ;
    let ip = match record.peer {
        Addr::Tcp(addr) => addr.ip().to_string(),
        Addr::Unix(_) => "-".to_owned(),
    };
    let header = |name: &str| {
        env.headers
            .get(name)
            .map_or_else(|| "-".to_owned(), |v| escape(v.as_bytes()))
    };
    // sentLength: body bytes; 0 shows as "-".
    let length = if record.body_bytes == 0 {
        "-".to_owned()
    } else {
        record.body_bytes.to_string()
    };
    format!(
        "\"{}\" - - {} \"{} {} {}\" {} {} \"{}\" \"{}\"",
        escape(ip.as_bytes()),
        log_date_time(now),
        escape(env.method.as_str().as_bytes()),
        escape(&rwsgi_core::latin1::encode(&env.raw_uri).unwrap_or_default()),
        escape(env.server_protocol.as_bytes()),
        record.status.as_u16(),
        length,
        header("referer"),
        header("user-agent"),
    )
}

/// `[20/Nov/2025:23:00:00 +0000]`: twisted's `_logDateTime`, in UTC.
pub fn log_date_time(now: SystemTime) -> String {
    let utc: chrono::DateTime<chrono::Utc> = now.into();
    utc.format("[%d/%b/%Y:%H:%M:%S +0000]").to_string()
}

/// twisted's `_escape`: Python's `repr` of the bytes without its quotes,
/// as if they were double quotes (`"` escaped, `'` not).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn escapes_like_python_repr() {
        assert_eq!(escape(b"curl/8.0"), "curl/8.0");
        assert_eq!(escape(b"a\"b'c\\"), "a\\\"b'c\\\\");
        assert_eq!(escape(b"\x00\x7f\xe9\t"), "\\x00\\x7f\\xe9\\t");
    }

    #[test]
    fn date_is_utc_in_brackets() {
        let at = UNIX_EPOCH + Duration::from_secs(1_391_035_850);
        assert_eq!(log_date_time(at), "[29/Jan/2014:22:50:50 +0000]");
    }

    #[test]
    fn line_matches_twisted() {
        let mut env = rwsgi_core::Environ::from_pairs([
            ("REQUEST_METHOD", "GET"),
            ("RAW_URI", "/a?b=\"c\""),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("HTTP_USER_AGENT", "Mozilla/5.0 ..."),
        ])
        .unwrap();
        env.headers.remove("referer");
        let peer = Addr::Tcp("127.0.0.1:5555".parse().unwrap());
        let headers = http::HeaderMap::new();
        let record = AccessRecord {
            environ: &env,
            peer: &peer,
            status: http::StatusCode::OK,
            response_headers: &headers,
            body_bytes: 2753,
            started: UNIX_EPOCH,
            duration: Duration::ZERO,
            completed: true,
        };
        let at = UNIX_EPOCH + Duration::from_secs(1_391_035_850);
        assert_eq!(
            combined_line(&record, at),
            "\"127.0.0.1\" - - [29/Jan/2014:22:50:50 +0000] \"GET /a?b=\\\"c\\\" HTTP/1.1\" 200 2753 \"-\" \"Mozilla/5.0 ...\""
        );
        let unix = Addr::Unix(None);
        let record = AccessRecord {
            peer: &unix,
            body_bytes: 0,
            ..record
        };
        assert!(combined_line(&record, at).starts_with("\"-\" - - "));
        assert!(combined_line(&record, at).contains(" 200 - "));
    }
}
