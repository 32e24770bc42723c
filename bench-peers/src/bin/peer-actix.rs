//! actix-web 4 answering every request with demo:hello's bytes, on
//! `--io-threads` workers, keep-alive long enough to hold idle connections
//! for a whole run.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};

fn main() -> std::io::Result<()> {
    let options = rwsgi_bench_peers::options("peer-actix").map_err(std::io::Error::other)?;
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new().default_service(web::to(|| async {
                HttpResponse::Ok()
                    .content_type("text/plain")
                    .insert_header(("server", "rwsgi"))
                    .body(rwsgi_bench_peers::BODY)
            }))
        })
        .workers(options.io_threads)
        .keep_alive(Duration::from_secs(3600))
        .max_connections(100_000)
        .backlog(4096)
        .disable_signals()
        .bind(options.bind)?;
        let addr = server.addrs()[0];
        let running = server.run();
        rwsgi_bench_peers::announce(addr, "peer actix-web 4");
        running.await
    })
}
