//! One line per request: the record the gateway hands an access log.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::Environ;
use crate::server::Addr;

/// Receives a record when each response ends (completed, failed or cut
/// short by the client). Personalities format it their way: gunicorn's
/// `--access-logformat`, pywsgi's line, twisted's combined log.
pub trait AccessLog: Send + Sync + 'static {
    /// Writes the record.
    fn log(&self, record: &AccessRecord<'_>);
}

/// What is known about a request once its response has ended.
#[derive(Debug)]
pub struct AccessRecord<'a> {
    /// The environ after the application and its middleware ran (so
    /// `REMOTE_ADDR` is the one `ProxyFix` set, as gunicorn logs it).
    pub environ: &'a Environ,
    /// The connection's peer.
    pub peer: &'a Addr,
    /// The status sent.
    pub status: StatusCode,
    /// The response headers sent.
    pub response_headers: &'a HeaderMap,
    /// Body bytes sent (not counting the head).
    pub body_bytes: u64,
    /// When the request began.
    pub started: SystemTime,
    /// How long it took, up to the end of the response.
    pub duration: Duration,
    /// Whether the whole response was sent.
    pub completed: bool,
}
