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

/// The value of `name` in the query string, as a number.
fn query_number(environ: &Environ, name: &str) -> Option<u64> {
    environ
        .query_string
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
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
