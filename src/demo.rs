//! The demo applications the `rwsgi` binary serves, registered as
//! `demo:NAME`. They double as examples of each body shape.

use std::convert::Infallible;
use std::time::Duration;

use rwsgi_core::{Body, Environ, Registry, StartResponse};

/// Every demo app, under its spec.
pub fn registry() -> Registry {
    Registry::new()
        .app("demo:hello", hello)
        .app("demo:environ", environ)
        .app("demo:echo", echo)
        .app("demo:stream", stream)
        .app("demo:sleep", sleep)
        .app("demo:sse", sse)
        .app("demo:pid", pid)
        .app("demo:block", block)
        .app("demo:panic", panic)
        .app("demo:leak", leak)
        .factory("demo:failing()", failing)
        .app("demo:gate", gate)
        .app("demo:hold", hold)
        .factory("demo:loaded", || Ok::<_, Infallible>(loaded(std::process::id())))
}

/// `demo:hello`: `Hello, World!`, one buffer (so `Content-Length` is set).
pub fn hello(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("Hello, World!\n"))
}

/// `demo:environ`: the environ as a sorted JSON object.
pub fn environ(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let map: serde_json::Map<String, serde_json::Value> = environ
        .to_pairs()
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let mut json = serde_json::to_string_pretty(&map)?;
    json.push('\n');
    start_response.start("200 OK", [("Content-Type", "application/json")])?;
    Ok(Body::from(json))
}

/// `demo:echo`: the request body back, streamed in 64 KiB blocks, with the
/// request's `Content-Type` and `Content-Length`.
pub fn echo(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let content_type = environ
        .get("CONTENT_TYPE")
        .map_or_else(|| "application/octet-stream".to_owned(), |c| c.into_owned());
    let mut headers = vec![("Content-Type".to_owned(), content_type)];
    if let Some(length) = environ.get("CONTENT_LENGTH") {
        headers.push(("Content-Length".to_owned(), length.into_owned()));
    }
    start_response.start("200 OK", headers)?;
    let mut input = std::mem::take(&mut environ.input);
    Ok(Body::try_iter(std::iter::from_fn(move || {
        match input.read(64 * 1024) {
            Ok(block) if block.is_empty() => None,
            other => Some(other),
        }
    })))
}

/// `demo:stream?n=N&size=S&delay_ms=D`: a chunked response of `n` chunks
/// (default 3) of `size` bytes (default: a `chunk I` line), `delay_ms`
/// apart — waiting on the backend's timer, holding no thread.
pub fn stream(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let n = query_number(environ, "n").unwrap_or(3);
    let size = query_number(environ, "size");
    let delay = Duration::from_millis(query_number(environ, "delay_ms").unwrap_or(0));
    let chunk = move |i: u64| match size {
        Some(size) => vec![b'x'; usize::try_from(size).unwrap_or(0)],
        None => format!("chunk {i}\n").into_bytes(),
    };
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    if delay.is_zero() {
        return Ok(Body::iter((0..n).map(chunk)));
    }
    let timer = environ.timer();
    Ok(Body::stream(futures_lite::stream::unfold(0, move |i| {
        let timer = timer.clone();
        async move {
            if i >= n {
                return None;
            }
            timer.sleep(delay).await;
            Some((Ok::<_, Infallible>(chunk(i)), i + 1))
        }
    })))
}

/// `demo:sleep?ms=N`: answers after `N` ms (default 100) without holding a
/// thread: the wait is an async body on the backend's timer.
pub fn sleep(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let ms = query_number(environ, "ms").unwrap_or(100);
    let wait = environ.sleep(Duration::from_millis(ms));
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::stream(futures_lite::stream::once_future(async move {
        wait.await;
        Ok::<_, Infallible>(format!("slept {ms} ms\n"))
    })))
}

/// `demo:sse?interval_ms=I&n=N`: server-sent events, `data: tick K`
/// every `I` ms (default 1000), the first at once; `N` of them (default:
/// until the client goes away). A standing connection that holds no
/// thread: the waits are on the backend's timer.
pub fn sse(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let interval = Duration::from_millis(query_number(environ, "interval_ms").unwrap_or(1000));
    let n = query_number(environ, "n");
    start_response.start(
        "200 OK",
        [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ],
    )?;
    let timer = environ.timer();
    Ok(Body::stream(futures_lite::stream::unfold(0u64, move |i| {
        let timer = timer.clone();
        async move {
            if n.is_some_and(|n| i >= n) {
                return None;
            }
            if i > 0 {
                timer.sleep(interval).await;
            }
            Some((Ok::<_, Infallible>(format!("data: tick {i}\n\n")), i + 1))
        }
    })))
}

/// `demo:pid`: the id of the process that answered (`pid N`), to tell
/// forked workers apart.
pub fn pid(_environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("pid {}\n", std::process::id())))
}

/// `demo:block?ms=N`: holds its thread for `N` ms (default 0) — a slow
/// or, with a large `N`, hung request, as a blocking database call would
/// be — then answers `pid P` like `demo:pid`.
pub fn block(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    let ms = query_number(environ, "ms").unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("pid {}\n", std::process::id())))
}

/// `demo:panic`: panics; the server answers 500 and carries on.
pub fn panic(_environ: &mut Environ, _start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    panic!("demo:panic was asked to panic")
}

/// `demo:leak?kb=N`: leaks `N` KiB (default 64) on every request and says
/// how much this process has leaked — what `--max-requests` recycling is
/// for.
pub fn leak(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    static LEAKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let kb = query_number(environ, "kb").unwrap_or(64);
    let block = vec![1u8; usize::try_from(kb * 1024).unwrap_or(0)];
    std::mem::forget(block);
    let total = LEAKED.fetch_add(kb, std::sync::atomic::Ordering::Relaxed) + kb;
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!(
        "pid {} leaked {total} KiB\n",
        std::process::id()
    )))
}

/// `demo:failing()`: a factory that fails, as an application whose
/// configuration is broken would (gunicorn's "App failed to load").
pub fn failing() -> Result<rwsgi_core::SharedApp, String> {
    Err("demo:failing() always fails to load".into())
}

/// The value of `name` in the query string, as a number.
fn query_number(environ: &Environ, name: &str) -> Option<u64> {
    environ
        .query_string
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
}

/// `demo:gate`: a synchronous handler that holds its thread until the
/// request body has ended: it writes `demo:gate entered` to `wsgi.errors`,
/// reads `wsgi.input` to the end, then answers `read N bytes`. On a thread
/// pool each request in it holds one thread until its client finishes the
/// upload — the way to show a pool's size from outside (the N+1st request
/// waits).
pub fn gate(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    environ.errors.write("demo:gate entered\n");
    environ.errors.flush();
    let body = environ.input.read_all()?;
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("read {} bytes\n", body.len())))
}

/// `demo:hold?port=N`: a synchronous handler that holds its thread until
/// released from outside: it connects to `127.0.0.1:N` (loopback only),
/// then waits for a byte or the end of that connection, and answers
/// `released`. A test listening on `N` counts the requests in the
/// application by the connections it accepts — the way to show a thread
/// pool's size when the server reads request bodies before the
/// application runs (twisted).
pub fn hold(environ: &mut Environ, start_response: &StartResponse) -> rwsgi_core::Result<Body> {
    use std::io::Read as _;
    let port = query_number(environ, "port")
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("demo:hold needs ?port=N")?;
    let mut line = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let mut byte = [0u8; 1];
    let _ = line.read(&mut byte);
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("released\n"))
}

/// `demo:loaded` (a factory): `loaded in PID, serving in PID` — where the
/// application was loaded and which process answers (loading before the
/// fork, or in each worker as uWSGI's `--lazy-apps` does).
pub fn loaded(loaded_in: u32) -> impl Fn(&mut Environ, &StartResponse) -> rwsgi_core::Result<Body> + Clone {
    move |_environ, start_response| {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(format!(
            "loaded in {loaded_in}, serving in {}\n",
            std::process::id()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwsgi_core::testing;

    #[test]
    fn demos_answer() {
        let hello = testing::call(hello, Environ::new());
        assert_eq!(hello.body, "Hello, World!\n");
        let env = Environ::from_pairs([("QUERY_STRING", "n=2")]).unwrap();
        assert_eq!(testing::call(stream, env).body, "chunk 0\nchunk 1\n");
        let mut env = Environ::new();
        env.input = rwsgi_core::Input::from_bytes("ping");
        env.set("CONTENT_LENGTH", "4").unwrap();
        assert_eq!(testing::call(echo, env).body, "ping");
        let env = Environ::from_pairs([("QUERY_STRING", "ms=1")]).unwrap();
        assert_eq!(testing::call(sleep, env).body, "slept 1 ms\n");
        let json: serde_json::Value =
            serde_json::from_slice(&testing::call(environ, Environ::new()).body).unwrap();
        assert_eq!(json["REQUEST_METHOD"], "GET");
    }
}
