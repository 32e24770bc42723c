//! gunicorn's logs: the error log (`[2026-11-20 10:00:00 +0000] [PID]
//! [INFO] message`) and the access log (`--access-logformat`, gunicorn's
//! atoms).
//!
//! One [`Log`] is made by the master and inherited by every worker through
//! `fork`; each process reopens its files on `SIGUSR1`. Every line is one
//! `write(2)` on a descriptor opened with `O_APPEND`, so lines from the
//! master and its workers never interleave.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rwsgi_core::{AccessLog, AccessRecord, ErrorLog, Errors, Level};

use crate::hooks::{Hooks, Worker};

/// Where a log goes.
#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    File { path: PathBuf, file: File },
}

impl Sink {
    fn open(spec: &str, stdio_is_stdout: bool) -> io::Result<Sink> {
        if spec == "-" {
            return Ok(if stdio_is_stdout {
                Sink::Stdout
            } else {
                Sink::Stderr
            });
        }
        let path = PathBuf::from(spec);
        let file = open_append(&path)?;
        Ok(Sink::File { path, file })
    }

    fn write(&mut self, bytes: &[u8]) {
        // A log that cannot be written is not worth dying for.
        let _ = match self {
            Sink::Stdout => io::stdout().lock().write_all(bytes),
            Sink::Stderr => io::stderr().lock().write_all(bytes),
            Sink::File { file, .. } => file.write_all(bytes),
        };
    }

    fn reopen(&mut self) -> io::Result<()> {
        if let Sink::File { path, file } = self {
            *file = open_append(path)?;
        }
        Ok(())
    }
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))
}

/// The error and access logs of a master and its workers. Cheap to clone.
#[derive(Clone)]
pub struct Log(Arc<Inner>);

struct Inner {
    level: Level,
    error: Mutex<Sink>,
    access: Option<Mutex<Sink>>,
    format: AccessFormat,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("level", &self.0.level)
            .finish_non_exhaustive()
    }
}

/// gunicorn's `--log-level` names; an unknown name is `info`, as in
/// gunicorn.
pub fn parse_level(name: &str) -> Level {
    match name.trim().to_ascii_lowercase().as_str() {
        "debug" => Level::Debug,
        "warning" | "warn" => Level::Warning,
        "error" => Level::Error,
        "critical" => Level::Critical,
        _ => Level::Info,
    }
}

impl Log {
    /// Opens the logs: `errorlog` (`-` is standard error), `accesslog`
    /// (`-` is standard output; `None`: no access log).
    ///
    /// # Errors
    ///
    /// A log file that cannot be opened for appending.
    pub fn open(level: Level, errorlog: &str, accesslog: Option<&str>, format: &str) -> io::Result<Log> {
        let error = Sink::open(errorlog, false)?;
        let access = accesslog.map(|spec| Sink::open(spec, true)).transpose()?;
        Ok(Log(Arc::new(Inner {
            level,
            error: Mutex::new(error),
            access: access.map(Mutex::new),
            format: AccessFormat::parse(format),
        })))
    }

    /// A log to standard error at `info`, for messages before the settings
    /// are known.
    pub fn stderr() -> Log {
        Log(Arc::new(Inner {
            level: Level::Info,
            error: Mutex::new(Sink::Stderr),
            access: None,
            format: AccessFormat::parse(crate::settings::DEFAULT_ACCESS_LOG_FORMAT),
        }))
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.0.level
    }

    /// Writes one line in gunicorn's format, if `level` is enabled.
    pub fn log(&self, level: Level, message: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let line = format!(
            "{} [{}] [{}] {message}\n",
            chrono::Local::now().format("[%Y-%m-%d %H:%M:%S %z]"),
            std::process::id(),
            level.as_str()
        );
        self.write_error(line.as_bytes());
    }

    /// `log.debug(...)`.
    pub fn debug(&self, message: fmt::Arguments<'_>) {
        self.log(Level::Debug, message);
    }

    /// `log.info(...)`.
    pub fn info(&self, message: fmt::Arguments<'_>) {
        self.log(Level::Info, message);
    }

    /// `log.warning(...)`.
    pub fn warning(&self, message: fmt::Arguments<'_>) {
        self.log(Level::Warning, message);
    }

    /// `log.error(...)`.
    pub fn error(&self, message: fmt::Arguments<'_>) {
        self.log(Level::Error, message);
    }

    /// `log.critical(...)`.
    pub fn critical(&self, message: fmt::Arguments<'_>) {
        self.log(Level::Critical, message);
    }

    fn write_error(&self, bytes: &[u8]) {
        self.0
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(bytes);
    }

    /// Reopens the log files (`SIGUSR1`), so that a rotated file is
    /// replaced by a new one at the configured path.
    pub fn reopen(&self) {
        let failed = [Some(&self.0.error), self.0.access.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|sink| sink.lock().unwrap_or_else(|e| e.into_inner()).reopen().err())
            .collect::<Vec<_>>();
        for err in failed {
            self.error(format_args!("Cannot reopen a log file: {err}"));
        }
    }

    /// Whether an access log is configured.
    pub fn has_access_log(&self) -> bool {
        self.0.access.is_some()
    }

    /// The `wsgi.errors` stream and server log of a worker: raw text from
    /// the application goes to the error log as written, the server's own
    /// lines in gunicorn's format.
    pub fn errors(&self) -> Errors {
        Errors::new(self.clone())
    }

    /// Formats and writes one access log line.
    pub fn access(&self, record: &AccessRecord<'_>) {
        if let Some(sink) = &self.0.access {
            let mut line = self.0.format.render(record);
            line.push('\n');
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .write(line.as_bytes());
        }
    }
}

impl ErrorLog for Log {
    fn write(&self, text: &str) {
        self.write_error(text.as_bytes());
    }

    fn log(&self, level: Level, message: fmt::Arguments<'_>) {
        Log::log(self, level, message);
    }

    fn enabled(&self, level: Level) -> bool {
        Log::enabled(self, level)
    }
}

/// The access log of a worker: gunicorn's line per response, and the
/// `post_request` hook.
pub struct WorkerAccess {
    pub log: Log,
    pub hooks: Option<(Arc<dyn Hooks>, Worker)>,
}

impl AccessLog for WorkerAccess {
    fn log(&self, record: &AccessRecord<'_>) {
        self.log.access(record);
        if let Some((hooks, worker)) = &self.hooks {
            hooks.post_request(worker, record);
        }
    }
}

/// A parsed `--access-logformat`: Python `%`-formatting over gunicorn's
/// atoms (`%(h)s`, `%({x-forwarded-for}i)s`, `%%`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFormat(Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Atom(String),
}

impl AccessFormat {
    /// Parses a format. Anything that is not `%(name)X` or `%%` is kept as
    /// text, as a lenient Python would print it.
    pub fn parse(format: &str) -> AccessFormat {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(at) = rest.find('%') {
            text.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("%%") {
                text.push('%');
                rest = after;
                continue;
            }
            let atom = rest.strip_prefix("%(").and_then(|inner| {
                let close = inner.find(')')?;
                // The conversion: `s`, `d`, `r`, … — all print the value.
                let conv = inner[close + 1..].chars().next()?;
                conv.is_ascii_alphabetic()
                    .then(|| (inner[..close].to_owned(), 2 + close + 1 + conv.len_utf8()))
            });
            match atom {
                Some((name, len)) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Atom(name));
                    rest = &rest[len..];
                }
                None => {
                    text.push('%');
                    rest = &rest[1..];
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        AccessFormat(pieces)
    }

    /// The line for one response, without its newline.
    pub fn render(&self, record: &AccessRecord<'_>) -> String {
        let mut line = String::with_capacity(128);
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => line.push_str(text),
                Piece::Atom(name) => {
                    let value = atom(name, record);
                    // gunicorn's SafeAtoms escapes `"` in string values.
                    for c in value.chars() {
                        if c == '"' {
                            line.push('\\');
                        }
                        line.push(c);
                    }
                }
            }
        }
        line
    }
}

/// The value of one atom, `-` when there is none (gunicorn's SafeAtoms).
fn atom(name: &str, record: &AccessRecord<'_>) -> String {
    let environ = record.environ;
    let dash = || "-".to_owned();
    let duration = record.duration;
    match name {
        "h" => environ.remote_addr.clone().unwrap_or_else(dash),
        "l" => dash(),
        "u" => basic_auth_user(environ.get("HTTP_AUTHORIZATION").as_deref()).unwrap_or_else(dash),
        "t" => chrono::Local::now().format("[%d/%b/%Y:%H:%M:%S %z]").to_string(),
        "r" => format!(
            "{} {} {}",
            environ.method, environ.raw_uri, environ.server_protocol
        ),
        "s" => record.status.as_str().to_owned(),
        "m" => environ.method.to_string(),
        "U" => environ.path_info.clone(),
        "q" => environ.query_string.clone(),
        "H" => environ.server_protocol.to_string(),
        "B" | "b" => record.body_bytes.to_string(),
        "f" => environ.get("HTTP_REFERER").map_or_else(dash, |v| v.into_owned()),
        "a" => environ
            .get("HTTP_USER_AGENT")
            .map_or_else(dash, |v| v.into_owned()),
        "T" => duration.as_secs().to_string(),
        "D" => duration.as_micros().to_string(),
        "M" => duration.as_millis().to_string(),
        "L" => format!("{}.{:06}", duration.as_secs(), duration.subsec_micros()),
        "p" => format!("<{}>", std::process::id()),
        braced if braced.starts_with('{') => {
            let lower = braced.to_ascii_lowercase();
            let Some((key, kind)) = lower.strip_prefix('{').and_then(|b| b.rsplit_once('}')) else {
                return dash();
            };
            match kind {
                "i" => header(&environ.headers, key),
                "o" => header(record.response_headers, key),
                "e" => environ_var(environ, key),
                _ => None,
            }
            .unwrap_or_else(dash)
        }
        _ => dash(),
    }
}

/// The last value of a header (a Python dict keeps the last), latin-1.
fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    let value = headers.get_all(name).iter().next_back()?;
    Some(value.as_bytes().iter().map(|&b| char::from(b)).collect())
}

/// An environ value by its lower-cased key (`{remote_addr}e`,
/// `{wsgi.url_scheme}e`).
fn environ_var(environ: &rwsgi_core::Environ, key: &str) -> Option<String> {
    let upper = key.to_ascii_uppercase();
    if let Some(value) = environ.get(&upper).or_else(|| environ.get(key)) {
        return Some(value.into_owned());
    }
    environ
        .to_pairs()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The user name of `Authorization: Basic …`, as gunicorn's `_get_user`.
fn basic_auth_user(header: Option<&str>) -> Option<String> {
    let header = header?;
    if !header.to_ascii_lowercase().starts_with("basic") {
        return None;
    }
    let (_, encoded) = header.split_once(' ')?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let user = decoded.split(|&b| b == b':').next()?;
    String::from_utf8(user.to_vec()).ok()
}

/// Appends `value` as Python's `repr` would show a string.
pub fn python_str_repr(out: &mut String, value: &str) {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use http::{HeaderMap, HeaderValue, StatusCode};
    use rwsgi_core::{Addr, Environ};

    use super::*;

    fn record_with<'a>(environ: &'a Environ, headers: &'a HeaderMap, peer: &'a Addr) -> AccessRecord<'a> {
        AccessRecord {
            environ,
            peer,
            status: StatusCode::OK,
            response_headers: headers,
            body_bytes: 14,
            started: SystemTime::now(),
            duration: Duration::from_micros(1_234_567),
            completed: true,
        }
    }

    fn environ() -> Environ {
        let mut environ = Environ::from_pairs([
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/a b"),
            ("QUERY_STRING", "x=1"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("HTTP_USER_AGENT", "curl/8 \"quoted\""),
            ("HTTP_X_FORWARDED_FOR", "10.0.0.1"),
            ("HTTP_AUTHORIZATION", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
        ])
        .unwrap();
        environ.raw_uri = "/a%20b?x=1".into();
        environ
    }

    #[test]
    fn default_format_matches_gunicorn() {
        let environ = environ();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let peer = Addr::Tcp("127.0.0.1:5000".parse().unwrap());
        let record = record_with(&environ, &headers, &peer);
        let line = AccessFormat::parse(crate::settings::DEFAULT_ACCESS_LOG_FORMAT).render(&record);
        let (head, tail) = line.split_once(" [").unwrap();
        assert_eq!(head, "127.0.0.1 - aladdin");
        let (time, rest) = tail.split_once("] ").unwrap();
        // 20/Nov/2026:10:00:00 +0000
        assert_eq!(time.len(), 26, "{time}");
        assert_eq!(&time[2..3], "/");
        assert_eq!(&time[6..7], "/");
        assert_eq!(&time[11..12], ":");
        assert_eq!(
            rest,
            r#""GET /a%20b?x=1 HTTP/1.1" 200 14 "-" "curl/8 \"quoted\"""#
        );
    }

    #[test]
    fn every_atom() {
        let environ = environ();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let peer = Addr::Tcp("127.0.0.1:5000".parse().unwrap());
        let record = record_with(&environ, &headers, &peer);
        let format = AccessFormat::parse(
            "%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(T)s|%(M)s|%(D)s|%(L)s|%(l)s|\
             %({X-Forwarded-For}i)s|%({content-type}o)s|%({remote_addr}e)s|%({nope}i)s|%(zz)s|%%|100%",
        );
        assert_eq!(
            format.render(&record),
            "GET|/a b|x=1|HTTP/1.1|200|14|14|1|1234|1234567|1.234567|-|\
             10.0.0.1|text/plain|127.0.0.1|-|-|%|100%"
        );
        let pid = AccessFormat::parse("%(p)s").render(&record);
        assert_eq!(pid, format!("<{}>", std::process::id()));
    }

    #[test]
    fn user_from_basic_auth_only() {
        assert_eq!(
            basic_auth_user(Some("Basic dXNlcjpwYXNz")).as_deref(),
            Some("user")
        );
        assert_eq!(basic_auth_user(Some("Bearer dXNlcjpwYXNz")), None);
        assert_eq!(basic_auth_user(Some("Basic !!!")), None);
        assert_eq!(basic_auth_user(None), None);
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("DEBUG"), Level::Debug);
        assert_eq!(parse_level("warning"), Level::Warning);
        assert_eq!(parse_level("nonsense"), Level::Info);
    }

    #[test]
    fn repr() {
        let mut s = String::new();
        python_str_repr(&mut s, "it's");
        assert_eq!(s, "\"it's\"");
    }
}
