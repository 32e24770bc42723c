//! uWSGI's log: plain lines on standard error (`--logto` moves it), an
//! optional date before each (`--log-date`), and its request line:
//!
//! ```text
//! [pid: 4242|app: 0|req: 1/1] 127.0.0.1 () {28 vars in 345 bytes} [Thu Nov 20 23:00:00 2025] GET /hello => generated 14 bytes in 0 msecs (HTTP/1.1 200) 3 headers in 96 bytes (1 switches on core 0)
//! ```

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rwsgi_core::{AccessLog, AccessRecord, ErrorLog, Level};

use crate::scoreboard::Scoreboard;

/// `ctime(3)`'s 24 characters, local time: `Thu Nov 20 23:00:00 2025`.
pub fn ctime(at: SystemTime) -> String {
    let local: chrono::DateTime<chrono::Local> = at.into();
    local.format("%a %b %e %H:%M:%S %Y").to_string()
}

/// A line on uWSGI's log (standard error), dated if `dated`.
pub fn line(dated: bool, text: &str) {
    let mut out = String::with_capacity(text.len() + 32);
    if dated {
        out.push_str(&ctime(SystemTime::now()));
        out.push_str(" - ");
    }
    out.push_str(text);
    out.push('\n');
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// `uwsgi_log_verbose`: always dated.
pub fn verbose(text: &str) {
    line(true, text);
}

/// The error log and `wsgi.errors`: standard error.
#[derive(Clone, Copy, Debug)]
pub struct UwsgiLog {
    /// `--log-date`.
    pub dated: bool,
}

impl ErrorLog for UwsgiLog {
    fn write(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn log(&self, _level: Level, message: fmt::Arguments<'_>) {
        line(self.dated, &message.to_string());
    }
}

/// The core a request runs on: `environ['uwsgi.core']`, as uWSGI sets it
/// (and the request line's `on core N`).
#[derive(Clone, Copy, Debug)]
pub struct CoreId(pub usize);

impl fmt::Display for CoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The request log.
pub struct RequestLog {
    /// Which worker (0-based) writes it.
    pub worker: usize,
    /// The shared counters (for `req: N/TOTAL`).
    pub board: Scoreboard,
    /// `--log-date`.
    pub dated: bool,
    /// Print the line (not `--disable-logging`); the counters are kept
    /// either way.
    pub print: bool,
}

impl AccessLog for RequestLog {
    fn log(&self, record: &AccessRecord<'_>) {
        self.board
            .worker(self.worker)
            .tx
            .fetch_add(record.body_bytes, Ordering::Relaxed);
        if self.print {
            line(self.dated, &request_line(record, self.worker, &self.board));
        }
    }
}

/// uWSGI's request line.
pub fn request_line(record: &AccessRecord<'_>, worker: usize, board: &Scoreboard) -> String {
    let env = record.environ;
    let pairs = env.to_pairs();
    let cgi: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| !k.starts_with("wsgi.")).collect();
    // uWSGI counts keys and values ("vars") and the packet's bytes.
    let vars = cgi.len() * 2;
    let bytes: usize = cgi.iter().map(|(k, v)| 4 + k.len() + v.len()).sum();
    let remote = env.remote_addr.clone().unwrap_or_default();
    let user = env.get("REMOTE_USER").map(|u| u.into_owned()).unwrap_or_default();
    let uri = env
        .get("REQUEST_URI")
        .map_or_else(|| env.raw_uri.clone(), |u| u.into_owned());
    let millis = record.duration.as_millis();
    let status_line = 9 + 3 + record.status.canonical_reason().map_or(0, |r| r.len() + 1) + 2;
    let headers_size: usize = status_line
        + record
            .response_headers
            .iter()
            .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
            .sum::<usize>();
    let core = env.value::<CoreId>("uwsgi.core").map_or(0, |c| c.0);
    let app_requests = board.worker(worker).requests.load(Ordering::Relaxed);
    format!(
        "[pid: {}|app: 0|req: {}/{}] {remote} ({user}) {{{vars} vars in {bytes} bytes}} [{}] {} {uri} => generated {} bytes in {millis} msecs ({} {}) {} headers in {headers_size} bytes (1 switches on core {core})",
        std::process::id(),
        app_requests,
        board.total_requests(),
        ctime(record.started),
        env.method,
        record.body_bytes,
        env.server_protocol,
        record.status.as_u16(),
        record.response_headers.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn ctime_is_24_characters() {
        assert_eq!(ctime(UNIX_EPOCH + Duration::from_secs(1_700_000_000)).len(), 24);
    }

    #[test]
    fn request_line_shape() {
        let board = Scoreboard::new(1, 1).unwrap();
        board.worker(0).requests.store(3, Ordering::Relaxed);
        let mut env = rwsgi_core::Environ::from_pairs([
            ("REQUEST_METHOD", "GET"),
            ("RAW_URI", "/hello?x=1"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
        ])
        .unwrap();
        env.insert_value("uwsgi.core", CoreId(2));
        let mut headers = http::HeaderMap::new();
        headers.insert("content-length", http::HeaderValue::from_static("14"));
        let peer = rwsgi_core::Addr::Unix(None);
        let record = AccessRecord {
            environ: &env,
            peer: &peer,
            status: http::StatusCode::OK,
            response_headers: &headers,
            body_bytes: 14,
            started: SystemTime::now(),
            duration: Duration::from_millis(3),
            completed: true,
        };
        let text = request_line(&record, 0, &board);
        assert!(
            text.starts_with(&format!(
                "[pid: {}|app: 0|req: 3/3] 127.0.0.1 () {{",
                std::process::id()
            )),
            "{text}"
        );
        assert!(
            text.contains("] GET /hello?x=1 => generated 14 bytes in 3 msecs (HTTP/1.1 200) 1 headers in "),
            "{text}"
        );
        assert!(text.ends_with("bytes (1 switches on core 2)"), "{text}");
    }
}
