//! What the fuzz targets share: a connection held in memory, a timer that
//! never fires, and rwsgi-h1 and hyper each serving the same bytes so that
//! the `h1` target can compare what they accept.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use rwsgi_core::gateway::{ConnInfo, Gateway};
use rwsgi_core::{Addr, Config};
use rwsgi_core::{Body, Environ, ServerHandle, Sleep, StartResponse, Timer};

/// A timer whose sleeps never end. The connections here are held in memory
/// and always ready, so no timeout is due; a real clock would only make runs
/// differ.
pub struct NeverTimer;

struct NeverSleep;

impl std::future::Future for NeverSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Sleep for NeverSleep {
    fn reset(self: Pin<&mut Self>, _: Instant) {}
}

impl Timer for NeverTimer {
    fn sleep_until(&self, _: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(NeverSleep)
    }
}

/// A configuration whose error log discards everything: what the targets
/// check is in their assertions, and millions of log lines would only slow
/// them.
pub fn quiet_config() -> Config {
    struct Quiet;
    impl rwsgi_core::ErrorLog for Quiet {
        fn write(&self, _: &str) {}
        fn enabled(&self, _: rwsgi_core::Level) -> bool {
            false
        }
    }
    let mut config = Config::default();
    config.error_log = rwsgi_core::Errors::new(Quiet);
    config
}

/// The client's bytes, handed out at most `chunk` at a time, then end of
/// stream.
pub struct Client {
    bytes: Bytes,
    chunk: usize,
}

impl Client {
    /// `bytes` in reads of at most `chunk` (at least 1) bytes.
    pub fn new(bytes: &[u8], chunk: usize) -> Self {
        Client {
            bytes: Bytes::copy_from_slice(bytes),
            chunk: chunk.max(1),
        }
    }

    fn take(&mut self, room: usize) -> Bytes {
        let n = room.min(self.chunk).min(self.bytes.len());
        self.bytes.split_to(n)
    }
}

impl futures_io::AsyncRead for Client {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let bytes = self.take(buf.len());
        buf[..bytes.len()].copy_from_slice(&bytes);
        Poll::Ready(Ok(bytes.len()))
    }
}

impl hyper::rt::Read for Client {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let bytes = self.take(buf.remaining());
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Client {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Collects what the server writes.
#[derive(Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<u8>>>);

impl futures_io::AsyncWrite for Sink {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What both applications answer to CONNECT: a 2xx would open a tunnel
/// in hyper (and is an error in rwsgi), ending the comparison.
const REFUSE_CONNECT: &str = "405 Method Not Allowed";

/// A request an application received, whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its method.
    pub method: String,
    /// Its target, as sent (hyper's: without a fragment).
    pub target: Vec<u8>,
    /// Its body, as the application read it.
    pub body: Vec<u8>,
}

/// The requests rwsgi-h1 handed to an application when it served `bytes`,
/// read `chunk` bytes at a time, and what it wrote back.
pub fn serve_h1(bytes: &[u8], chunk: usize, config: Config) -> (Vec<Seen>, Vec<u8>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let app = move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let body = environ.input.read_all()?;
        record.lock().unwrap_or_else(PoisonError::into_inner).push(Seen {
            method: environ.method.to_string(),
            target: rwsgi_core::latin1::encode(&environ.raw_uri)
                .expect("RAW_URI is latin-1")
                .into_owned(),
            body: body.to_vec(),
        });
        sr.start(
            if environ.method == http::Method::CONNECT {
                REFUSE_CONNECT
            } else {
                "200 OK"
            },
            [("Content-Type", "text/plain")],
        )?;
        Ok(Body::from("ok"))
    };
    let gateway = Gateway::new(app, config, Arc::new(NeverTimer), ServerHandle::new());
    let watch = rwsgi_core::conn::ConnWatch::new(gateway.config());
    let info = ConnInfo {
        peer: Addr::Tcp(([127, 0, 0, 1], 40000).into()),
        local: Addr::Tcp(([127, 0, 0, 1], 8000).into()),
        secure: false,
        proxy: None,
    };
    let out = Sink::default();
    futures_lite::future::block_on(rwsgi_h1::serve_connection(
        Client::new(bytes, chunk),
        out.clone(),
        info,
        gateway,
        watch,
    ));
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    let written = std::mem::take(&mut *out.0.lock().unwrap_or_else(PoisonError::into_inner));
    (seen, written)
}

/// The requests hyper (default HTTP/1 settings, as the tokio backend runs
/// it) handed to a service when it served the same bytes, with bodies read
/// to the end; a request whose body failed is not counted.
pub fn serve_hyper(bytes: &[u8], chunk: usize) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let record = Arc::clone(&record);
        async move {
            let method = request.method().to_string();
            let refused = request.method() == http::Method::CONNECT;
            let target = request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().to_string(), |p| p.as_str().to_owned());
            let body = request.into_body().collect().await?.to_bytes();
            record.lock().unwrap_or_else(PoisonError::into_inner).push(Seen {
                method,
                target: target.into_bytes(),
                body: body.to_vec(),
            });
            let mut response = http::Response::new(http_body_util::Full::new(Bytes::from_static(b"ok")));
            if refused {
                // A 2xx would turn the connection into a tunnel.
                *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            }
            Ok::<_, hyper::Error>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .serve_connection(Client::new(bytes, chunk), service);
    // Its verdict is in what it recorded; the error only says why it stopped.
    let _ = futures_lite::future::block_on(conn);
    std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner))
}
