//! The yardstick: hyper 1 on tokio answering every request with the bytes
//! `demo:hello` sends, and nothing else — no environ, no gateway. Every
//! benchmark figure is also given as a ratio to it, measured in the same
//! run. `rwsgi-raw-hyper` and `rwsgi bench yardstick` both run it.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};

/// Serves at `bind` on `threads` event-loop threads (1: a current-thread
/// runtime) until the process is stopped; prints the same "listening on"
/// lines as `rwsgi`.
///
/// # Errors
///
/// When the runtime cannot start or the address cannot be bound.
pub fn serve(bind: SocketAddr, threads: usize) -> std::io::Result<()> {
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("rwsgi: listening on http://{}", listener.local_addr()?);
        println!("rwsgi: serving raw hyper (backend tokio, engine hyper)");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    let mut response =
                        hyper::Response::new(Full::new(Bytes::from_static(b"Hello, World!\n")));
                    let headers = response.headers_mut();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    headers.insert(SERVER, HeaderValue::from_static("rwsgi"));
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
