//! A raw HTTP/1 client: writes exact bytes, reads responses exactly as
//! framed, so tests see what is on the wire.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection whose reads fail after a timeout instead of hanging.
pub struct Conn<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

impl Conn<TcpStream> {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn::new(stream)
    }
}

impl Conn<std::os::unix::net::UnixStream> {
    pub fn connect_unix(path: &std::path::Path) -> Self {
        Conn::new(std::os::unix::net::UnixStream::connect(path).expect("connect"))
    }
}

pub trait Timeout {
    fn set_timeout(&self, timeout: Duration);
}

impl Timeout for TcpStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
        self.set_write_timeout(Some(timeout)).unwrap();
    }
}

impl Timeout for std::os::unix::net::UnixStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
        self.set_write_timeout(Some(timeout)).unwrap();
    }
}

impl<S: Read + Write + Timeout> Conn<S> {
    pub fn new(stream: S) -> Self {
        stream.set_timeout(super::DEADLINE);
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> &mut Self {
        self.stream.write_all(bytes).expect("write");
        self
    }

    /// Reads one response; `head_request` says it answers a HEAD (no body).
    /// `None` if the server closed before sending a byte.
    pub fn response(&mut self, head_request: bool) -> Option<Response> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.fill()? == 0 {
                assert!(
                    self.buf.is_empty(),
                    "connection closed mid-head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut parts = status_line.splitn(3, ' ');
        // hyper answers an HTTP/1.0 request in HTTP/1.0; both are allowed.
        let version = parts.next().unwrap_or_default().to_owned();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "status line {status_line:?}"
        );
        let status: u16 = parts.next().unwrap().parse().unwrap();
        let reason = parts.next().unwrap_or("").to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("a header line");
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 || status / 100 == 1 {
            return Some(response);
        }
        if let Some(len) = response.header("content-length") {
            let len: usize = len.parse().unwrap();
            response.body = self.take(len).expect("connection closed mid-body");
        } else if response.header("transfer-encoding") == Some("chunked") {
            response.body = self.chunked().expect("connection closed mid-body");
        } else {
            while self.fill().expect("read") > 0 {}
            response.body = std::mem::take(&mut self.buf);
        }
        Some(response)
    }

    /// Reads until the server closes; returns what came.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill().expect("the server closes in time") > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Whether the server closed the connection (now or within the read
    /// timeout) without sending anything more.
    pub fn closed_quietly(&mut self) -> bool {
        self.read_to_close().is_empty()
    }

    fn fill(&mut self) -> Option<usize> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(n)
            }
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => Some(0),
            Err(err) => panic!("read failed: {err}"),
        }
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            if self.fill()? == 0 {
                return None;
            }
        }
    }

    fn chunked(&mut self) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size = self.line()?;
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).expect("chunk size");
            if size == 0 {
                while !self.line()?.is_empty() {}
                return Some(body);
            }
            body.extend(self.take(size)?);
            assert_eq!(self.take(2)?, b"\r\n", "chunk terminator");
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `GET` with `Host`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// A `POST` with a `Content-Length` body.
pub fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
