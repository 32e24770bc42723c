//! A response that streams for as long as the client listens — server-sent
//! events, one per second — without holding a thread: the body is an async
//! stream that waits on the backend's timer (`Environ::sleep`), so one event
//! loop can hold thousands of these at once.
//!
//! ```sh
//! cargo run --example streaming
//! curl -N http://127.0.0.1:8000/events
//! ```

use std::convert::Infallible;
use std::time::Duration;

use rwsgi::{Body, Config, Environ, StartResponse};

fn events(environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    let timer = environ.timer();
    start_response.start(
        "200 OK",
        [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ],
    )?;
    let ticks = futures_lite::stream::unfold(0u64, move |n| {
        let timer = timer.clone();
        async move {
            timer.sleep(Duration::from_secs(1)).await;
            let event = format!("id: {n}\ndata: tick {n}\n\n");
            Some((Ok::<_, Infallible>(event), n + 1))
        }
    });
    Ok(Body::stream(ticks).on_close(|| eprintln!("a listener left")))
}

fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    // Idle keep-alive connections wait 2 s; a stream is never idle.
    config.io_threads = 1;
    println!("serving on http://127.0.0.1:8000/events (one event loop)");
    rwsgi::serve_with(config, events)
}
