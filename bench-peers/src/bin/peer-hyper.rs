//! hyper 1 on tokio as a user would write it from hyper's guide: the
//! default `http1::Builder` (so no `pipeline_flush`), answering every
//! request with demo:hello's bytes.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};

fn main() -> std::io::Result<()> {
    let options = rwsgi_bench_peers::options("peer-hyper").map_err(std::io::Error::other)?;
    let runtime = if options.io_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.io_threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        rwsgi_bench_peers::announce(
            listener.local_addr()?,
            "peer hyper (tokio, default http1::Builder)",
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    let mut response =
                        hyper::Response::new(Full::new(Bytes::from_static(rwsgi_bench_peers::BODY)));
                    let headers = response.headers_mut();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    headers.insert(SERVER, HeaderValue::from_static("rwsgi"));
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
