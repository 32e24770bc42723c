//! pywsgi's access log: one line per request, `WSGIHandler.format_request`'s
//! `'%s - - [%s] "%s" %s %s %s'` — client address, local time without
//! microseconds, the request line, the status code, the bytes sent, and
//! the seconds taken with six decimals.

use http::HeaderMap;
use rwsgi_core::{AccessLog, AccessRecord, Addr, Errors};

/// pywsgi's access log, as an [`AccessLog`] the gateway calls once per
/// response.
#[derive(Clone, Debug)]
pub struct PywsgiLog {
    sink: Errors,
}

impl PywsgiLog {
    /// Lines to `sink` (pywsgi's `log`, standard error by default).
    pub fn new(sink: Errors) -> Self {
        PywsgiLog { sink }
    }
}

/// The line pywsgi's `format_request` writes, from its parts: `client`
/// (`-` when unknown), `now` (`YYYY-MM-DD HH:MM:SS`), the request line,
/// the status code, the length (`-` for 0) and the duration in seconds.
pub fn format_request(
    client: &str,
    now: &str,
    request_line: &str,
    status: u16,
    length: u64,
    seconds: f64,
) -> String {
    let client = if client.is_empty() { "-" } else { client };
    let length = if length == 0 {
        "-".to_owned()
    } else {
        length.to_string()
    };
    format!("{client} - - [{now}] \"{request_line}\" {status} {length} {seconds:.6}")
}

/// `datetime.now().replace(microsecond=0)` as `str()` prints it.
pub(crate) fn now_string() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// What pywsgi counts as the response's length (`response_length`): every
/// byte it wrote, the head included. The head is rebuilt from the status
/// and the headers sent (`HTTP/1.1 NNN Reason\r\n`, `Name: value\r\n` each,
/// `\r\n`); chunked framing is not counted.
pub fn head_length(status: http::StatusCode, headers: &HeaderMap) -> u64 {
    let reason = status.canonical_reason().unwrap_or("");
    let mut len = "HTTP/1.1 ".len() + 3 + 1 + reason.len() + 2;
    for (name, value) in headers {
        len += name.as_str().len() + 2 + value.len() + 2;
    }
    (len + 2) as u64
}

impl AccessLog for PywsgiLog {
    fn log(&self, record: &AccessRecord<'_>) {
        let client = match record.peer {
            Addr::Tcp(addr) => addr.ip().to_string(),
            Addr::Unix(_) => String::new(),
        };
        let environ = record.environ;
        let request_line = format!(
            "{} {} {}",
            environ.method.as_str(),
            environ.raw_uri,
            environ.server_protocol
        );
        let length = head_length(record.status, record.response_headers) + record.body_bytes;
        let mut line = format_request(
            &client,
            &now_string(),
            &request_line,
            record.status.as_u16(),
            length,
            record.duration.as_secs_f64(),
        );
        line.push('\n');
        self.sink.write(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_pywsgis() {
        assert_eq!(
            format_request(
                "127.0.0.1",
                "2024-05-01 12:00:00",
                "GET / HTTP/1.1",
                200,
                117,
                0.000_512
            ),
            "127.0.0.1 - - [2024-05-01 12:00:00] \"GET / HTTP/1.1\" 200 117 0.000512"
        );
        assert_eq!(
            format_request("", "2024-05-01 12:00:00", "GET / HTTP/1.0", 404, 0, 1.5),
            "- - - [2024-05-01 12:00:00] \"GET / HTTP/1.0\" 404 - 1.500000"
        );
        let now = now_string();
        assert_eq!(now.len(), 19, "{now}");
        assert_eq!(&now[4..5], "-");
    }

    #[test]
    fn head_length_counts_the_head() {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", "14".parse().unwrap());
        // "HTTP/1.1 200 OK\r\n" + "content-length: 14\r\n" + "\r\n"
        assert_eq!(head_length(http::StatusCode::OK, &headers), 17 + 20 + 2);
    }
}
