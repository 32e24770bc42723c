//! The server's side of PEP 3333, through `testing::call` (the gateway code
//! every server runs) and, where the wire matters, `Gateway::serve`. The
//! important behaviours run under both dispatches: inline and thread pool.
//! Tests are named after the checklist item (`pep3333-checklist.md`).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_lite::Stream;
use futures_lite::future::block_on;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use http_body::{Body as HttpBody, Frame};
use rwsgi_core::gateway::{ConnInfo, Gateway, RequestHead, Response, ResponseBody};
use rwsgi_core::request_error::RequestError;
use rwsgi_core::testing::{self, TestResponse};
use rwsgi_core::{
    Addr, Application, Body, BoxError, Config, ContractError, Dispatch, Environ, ErrorBuffer, Errors,
    HOP_BY_HOP, Input, ServerHandle, StartResponse, ThreadTimer,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs `test` once inline and once on a thread pool.
fn each_dispatch(test: impl Fn(&str, Config)) {
    for (name, dispatch) in [
        ("inline", Dispatch::Inline),
        ("thread pool", Dispatch::ThreadPool { min: 1, max: 2 }),
    ] {
        let mut config = Config::default();
        config.dispatch = dispatch;
        test(name, config);
    }
}

fn get() -> Environ {
    Environ::new()
}

fn head_request() -> Environ {
    let mut environ = Environ::new();
    environ.method = Method::HEAD;
    environ
}

/// Counts `close()` calls; waits for them without sleeping.
#[derive(Clone, Default)]
struct Closes(Arc<(Mutex<usize>, Condvar)>);

impl Closes {
    fn hook(&self) -> impl FnOnce() + Send + 'static {
        let closes = self.clone();
        move || {
            *closes.0.0.lock().unwrap() += 1;
            closes.0.1.notify_all();
        }
    }

    /// The close count once the request is over. Inline, the body must be
    /// closed by the time the response is complete; on a pool the close may
    /// happen on the pool thread just after, so wait for it (10 s at most).
    fn settled(&self, config: &Config) -> usize {
        let count = self.0.0.lock().unwrap();
        if config.dispatch == Dispatch::Inline {
            return *count;
        }
        let (count, _) = self
            .0
            .1
            .wait_timeout_while(count, Duration::from_secs(10), |n| *n == 0)
            .unwrap();
        *count
    }
}

/// The application's error page as the gateway makes it.
#[track_caller]
fn assert_error_page(response: &TestResponse, why: &str) {
    assert_eq!(response.status, 500, "{why}: {:?}", response.body);
    assert_eq!(response.headers["content-type"], "text/plain", "{why}");
    assert_eq!(response.body, "Internal Server Error\n", "{why}");
    assert_eq!(
        response.headers["content-length"],
        "Internal Server Error\n".len().to_string().as_str(),
        "{why}"
    );
    assert!(response.aborted.is_none(), "{why}");
    assert!(
        response.errors.contains("Error handling request"),
        "{why}: wsgi.errors = {:?}",
        response.errors
    );
}

/// An engine body: the given data frames, then the end.
struct Frames(VecDeque<Bytes>);

impl Frames {
    fn of(parts: &[&'static str]) -> rwsgi_core::EngineBody {
        Box::pin(Frames(
            parts.iter().map(|p| Bytes::from_static(p.as_bytes())).collect(),
        ))
    }
}

impl HttpBody for Frames {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

fn gateway(app: impl Application, mut config: Config) -> (Gateway, ErrorBuffer) {
    let buffer = ErrorBuffer::new();
    config.error_log = Errors::new(buffer.clone());
    let gateway = Gateway::new(app, config, Arc::new(ThreadTimer), ServerHandle::new());
    (gateway, buffer)
}

fn request(method: Method, target: &'static str, headers: &[(&'static str, &'static str)]) -> RequestHead {
    let mut map = HeaderMap::new();
    map.append("host", HeaderValue::from_static("example.com"));
    for (name, value) in headers {
        map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    RequestHead {
        method,
        target: Bytes::from_static(target.as_bytes()),
        version: Version::HTTP_11,
        headers: map,
    }
}

fn serve(gateway: &Gateway, head: RequestHead, body: rwsgi_core::EngineBody) -> Response {
    let conn = ConnInfo {
        peer: Addr::Tcp("192.0.2.1:40000".parse().unwrap()),
        local: Addr::Tcp("127.0.0.1:8000".parse().unwrap()),
        secure: false,
        proxy: None,
    };
    block_on(gateway.serve(&conn, head, body)).expect("a valid request gets a response")
}

/// The next frame of a response body: `Some(Ok(data))`, `Some(Err(..))`
/// when the body is cut, `None` at its end.
fn next_frame(body: &mut ResponseBody) -> Option<Result<Bytes, String>> {
    loop {
        let frame = block_on(poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)))?;
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => return Some(Ok(data)),
                Err(_) => continue,
            },
            Err(err) => return Some(Err(err.to_string())),
        }
    }
}

fn all_frames(body: &mut ResponseBody) -> Vec<Result<Bytes, String>> {
    std::iter::from_fn(|| next_frame(body)).collect()
}

/// A stream that is pending (and wakes itself) before each chunk: polled
/// the way an async body that waits is.
struct Slow {
    chunks: VecDeque<&'static str>,
    ready: bool,
}

impl Stream for Slow {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        Poll::Ready(
            self.chunks
                .pop_front()
                .map(|c| Ok(Bytes::from_static(c.as_bytes()))),
        )
    }
}

type Slot<T> = Arc<Mutex<Option<T>>>;

// ---------------------------------------------------------------------------
// D1, D3, D4, D5, I1: start_response checks what it is given
// ---------------------------------------------------------------------------

/// What `start_response(status, headers)` returns, through the real server.
fn start_result(status: &str, headers: &[(&str, &str)]) -> Result<(), String> {
    let status = status.to_owned();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let seen: Slot<Result<(), String>> = Arc::default();
    let slot = Arc::clone(&seen);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let result = sr.start(status.clone(), headers.clone());
        *slot.lock().unwrap() = Some(result.as_ref().map(|_| ()).map_err(|e| format!("{e:?}")));
        result?;
        Ok(Body::empty())
    };
    let response = testing::call(app, get());
    let result = seen.lock().unwrap().take().expect("the app ran");
    match &result {
        Ok(()) => assert_ne!(response.status, 500),
        Err(_) => assert_error_page(&response, "a refused start_response, returned"),
    }
    result
}

#[test]
fn d1_server_checks_the_status() {
    for good in ["200 OK", "404 Not Found", "200 ", "599 Custom"] {
        assert_eq!(start_result(good, &[]), Ok(()), "{good:?}");
    }
    for bad in [
        "200",
        "20 OK",
        "2000 OK",
        "abc OK",
        "200\tOK",
        "200 OK\r\n",
        "200 O\nK",
        " 200 OK",
        "099 X",
        "100 Continue",
    ] {
        let err = start_result(bad, &[]).unwrap_err();
        assert!(err.starts_with("BadStatus"), "{bad:?}: {err}");
    }
}

#[test]
fn d3_server_checks_header_names() {
    for bad in ["X-Foo:", "X Foo", "X-Foo\n", "", "X-\u{e9}"] {
        let err = start_result("200 OK", &[(bad, "v")]).unwrap_err();
        assert!(err.starts_with("BadHeaderName"), "{bad:?}: {err}");
    }
    for good in ["X-Foo", "content-type"] {
        assert_eq!(start_result("200 OK", &[(good, "v")]), Ok(()), "{good:?}");
    }
}

#[test]
fn d4_server_refuses_control_characters_in_values() {
    for bad in ["a\r\nSet-Cookie: x=1", "a\n", "a\r", "a\0b", "a\x1bb", "a\x7fb"] {
        let err = start_result("200 OK", &[("X-Value", bad)]).unwrap_err();
        assert!(err.starts_with("BadHeaderValue"), "{bad:?}: {err}");
    }
    // HTAB is legal field content (the server is laxer than Lint here).
    assert_eq!(start_result("200 OK", &[("X-Value", "a\tb")]), Ok(()));
}

#[test]
fn d5_hop_by_hop_headers_refused_at_start_response() {
    let mut names: Vec<String> = HOP_BY_HOP.iter().map(|h| (*h).to_owned()).collect();
    names.extend(
        [
            "Connection",
            "Keep-Alive",
            "TRANSFER-ENCODING",
            "Upgrade",
            "Trailers",
            "TE",
        ]
        .map(String::from),
    );
    for name in names {
        let err = start_result("200 OK", &[(&name, "x")]).unwrap_err();
        assert!(err.starts_with("HopByHopHeader"), "{name}: {err}");
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(HOP_BY_HOP.contains(&name), "{name} missing from HOP_BY_HOP");
    }
}

#[test]
fn i1_non_latin1_header_value_refused() {
    let err = start_result("200 OK", &[("X-Value", "snow \u{2603}")]).unwrap_err();
    assert!(err.starts_with("BadHeaderValue"), "{err}");
}

#[test]
fn i1_non_latin1_status_refused() {
    let err = start_result("200 \u{2603}", &[]).unwrap_err();
    assert!(err.starts_with("BadStatus"), "{err}");
}

#[test]
fn i1_latin1_header_value_goes_out_as_one_byte_per_char() {
    let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start(
            "200 OK",
            [("X-Value", "caf\u{e9}"), ("Content-Type", "text/plain")],
        )?;
        Ok(Body::from("x"))
    };
    let response = testing::call(app, get());
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-value"].as_bytes(), b"caf\xe9");
}

// ---------------------------------------------------------------------------
// D7: start_response sends nothing
// ---------------------------------------------------------------------------

#[test]
fn d7_start_response_sends_nothing_until_a_nonempty_chunk() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let hook = closes.clone();
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/html")])?;
            let chunks: [Result<&str, BoxError>; 2] = [Ok(""), Err("failed after an empty chunk".into())];
            Ok(Body::try_iter(chunks).on_close(hook.hook()))
        };
        let response = testing::call_with(app, get(), config.clone());
        assert_error_page(&response, name);
        assert!(response.errors.contains("failed after an empty chunk"), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn d7_empty_chunks_then_the_end_commit_the_head() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain"), ("X-Marker", "kept")])?;
            Ok(Body::iter(["", "", ""]))
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.headers["x-marker"], "kept", "{name}");
        assert!(response.body.is_empty(), "{name}");
        assert!(response.aborted.is_none(), "{name}");
    });
}

// ---------------------------------------------------------------------------
// D8: a second start_response
// ---------------------------------------------------------------------------

#[test]
fn d8_exc_info_replaces_an_unsent_head() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/html"), ("X-First", "1")])?;
            let failure: BoxError = "backend down".into();
            sr.start_with_exc_info(
                "503 Service Unavailable",
                [("Content-Type", "text/plain"), ("X-Second", "2")],
                failure,
            )?;
            Ok(Body::from("try later"))
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(response.status, 503, "{name}");
        assert_eq!(response.headers["content-type"], "text/plain", "{name}");
        assert_eq!(response.headers["x-second"], "2", "{name}");
        assert!(!response.headers.contains_key("x-first"), "{name}");
        assert_eq!(response.body, "try later", "{name}");
    });
}

#[test]
fn d8_second_call_without_exc_info_is_refused() {
    each_dispatch(|name, config| {
        let seen: Slot<String> = Arc::default();
        let slot = Arc::clone(&seen);
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            let second = sr.start("404 Not Found", [("Content-Type", "text/plain")]);
            *slot.lock().unwrap() = Some(format!("{second:?}"));
            second?;
            Ok(Body::from("x"))
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(
            seen.lock().unwrap().as_deref(),
            Some("Err(AlreadyStarted)"),
            "{name}"
        );
        assert_error_page(&response, name);
    });
}

#[test]
fn d8_second_call_after_a_failed_first_is_refused() {
    let seen: Slot<String> = Arc::default();
    let slot = Arc::clone(&seen);
    let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        assert!(matches!(
            sr.start("200 OK", [("Bad Name", "v")]),
            Err(ContractError::BadHeaderName { .. })
        ));
        let retry = sr.start("200 OK", [("Content-Type", "text/plain")]);
        *slot.lock().unwrap() = Some(format!("{retry:?}"));
        retry?;
        Ok(Body::from("x"))
    };
    let response = testing::call(app, get());
    assert_eq!(seen.lock().unwrap().as_deref(), Some("Err(AlreadyStarted)"));
    assert_error_page(&response, "retry after a refused start_response");
}

#[test]
fn d8_exc_info_after_the_head_is_sent_reraises_the_original_error() {
    each_dispatch(|name, config| {
        let seen: Slot<(String, String)> = Arc::default();
        let slot = Arc::clone(&seen);
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            let sr = sr.clone();
            let slot = Arc::clone(&slot);
            let mut step = 0;
            Ok(Body::try_iter(std::iter::from_fn(move || {
                step += 1;
                match step {
                    1 => Some(Ok(Bytes::from("partial"))),
                    2 => {
                        let original: BoxError = "original failure".into();
                        let err = sr
                            .start_with_exc_info(
                                "500 Internal Server Error",
                                [("Content-Type", "text/plain")],
                                original,
                            )
                            .unwrap_err();
                        let source = std::error::Error::source(&err).map(ToString::to_string);
                        let inner = match &err {
                            ContractError::HeadersAlreadySent(original) => original.to_string(),
                            other => format!("unexpected: {other:?}"),
                        };
                        *slot.lock().unwrap() = Some((inner, source.unwrap_or_default()));
                        Some(Err::<Bytes, BoxError>(err.into()))
                    }
                    _ => None,
                }
            })))
        };
        let response = testing::call_with(app, get(), config);
        let (inner, source) = seen.lock().unwrap().take().expect("the body ran");
        assert_eq!(inner, "original failure", "{name}");
        assert_eq!(source, "original failure", "{name}");
        assert_eq!(response.status, 200, "{name}: the head was already sent");
        assert_eq!(response.body, "partial", "{name}");
        assert!(response.aborted.is_some(), "{name}");
        assert!(response.errors.contains("Error handling request"), "{name}");
    });
}

// ---------------------------------------------------------------------------
// D10: start_response may come from inside the iterator
// ---------------------------------------------------------------------------

#[test]
fn d10_lazy_start_response_inside_the_iterator() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            let sr = sr.clone();
            let mut step = 0;
            Ok(Body::try_iter(std::iter::from_fn(move || {
                step += 1;
                match step {
                    1 => Some(
                        sr.start("201 Created", [("Content-Type", "text/plain")])
                            .map(|()| Bytes::from("lazy "))
                            .map_err(BoxError::from),
                    ),
                    2 => Some(Ok(Bytes::from("body"))),
                    _ => None,
                }
            })))
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(response.status, 201, "{name}");
        assert_eq!(response.body, "lazy body", "{name}");
        assert!(response.aborted.is_none(), "{name}");
    });
}

#[test]
fn d10_no_start_response_at_all_is_a_500() {
    each_dispatch(|name, config| {
        for body in [
            Body::from("data"),
            Body::iter(["data"]),
            Body::empty(),
            Body::iter(Vec::<&str>::new()),
        ] {
            let slot = Mutex::new(Some(body));
            let app = move |_: &mut Environ, _: &StartResponse| -> rwsgi_core::Result<Body> {
                Ok(slot.lock().unwrap().take().unwrap_or_default())
            };
            let response = testing::call_with(app, get(), config.clone());
            assert_error_page(&response, name);
            assert!(response.errors.contains("never called start_response"), "{name}");
        }
    });
}

// ---------------------------------------------------------------------------
// F1: close() exactly once, whatever happens
// ---------------------------------------------------------------------------

/// An app answering 200 with `body`, whose close is counted.
fn closing_app(
    headers: &'static [(&'static str, &'static str)],
    make: fn() -> Body,
    closes: &Closes,
) -> impl Application {
    let closes = closes.clone();
    move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        sr.start("200 OK", headers.iter().copied())?;
        Ok(make().on_close(closes.hook()))
    }
}

#[test]
fn f1_close_once_on_normal_completion() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || Body::iter(["a", "b", "c"]),
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "abc", "{name}");
        assert!(response.aborted.is_none(), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_when_the_second_item_fails() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || Body::try_iter([Ok("first"), Err(BoxError::from("second item failed"))]),
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "first", "{name}");
        assert!(
            response.aborted.is_some(),
            "{name}: the connection must be closed"
        );
        assert!(response.errors.contains("Error handling request"), "{name}");
        assert!(response.errors.contains("second item failed"), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_when_the_body_exceeds_content_length() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain"), ("Content-Length", "3")],
            || Body::iter(["ab", "cd", "ef"]),
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.headers["content-length"], "3", "{name}");
        assert_eq!(response.body, "abc", "{name}: only Content-Length bytes go out");
        assert!(response.aborted.is_none(), "{name}: the framing is intact");
        assert!(
            response.errors.contains("longer than its Content-Length"),
            "{name}"
        );
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_on_head_with_content_length() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain"), ("Content-Length", "5")],
            || Body::iter(["hello"]),
            &closes,
        );
        let response = testing::call_with(app, head_request(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.headers["content-length"], "5", "{name}: passed through");
        assert!(response.body.is_empty(), "{name}: no body bytes for HEAD");
        assert!(response.aborted.is_none(), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn h2_head_without_content_length_invents_none() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || Body::iter(["hello"]),
            &closes,
        );
        let response = testing::call_with(app, head_request(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert!(
            !response.headers.contains_key("content-length"),
            "{name}: {:?}",
            response.headers
        );
        assert!(!response.headers.contains_key("transfer-encoding"), "{name}");
        assert!(response.body.is_empty(), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn h1_head_with_a_single_buffer_gets_the_get_content_length() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(&[("Content-Type", "text/plain")], || Body::from("hello"), &closes);
        let get_response = testing::call_with(app, get(), config.clone());
        let app = closing_app(&[("Content-Type", "text/plain")], || Body::from("hello"), &closes);
        let head_response = testing::call_with(app, head_request(), config.clone());
        assert_eq!(get_response.headers["content-length"], "5", "{name}");
        assert_eq!(head_response.headers["content-length"], "5", "{name}");
        assert_eq!(head_response.headers["content-type"], "text/plain", "{name}");
        assert!(head_response.body.is_empty(), "{name}");
    });
}

fn panics_first() -> Body {
    Body::iter(std::iter::from_fn(|| -> Option<&'static str> {
        panic!("iterator exploded")
    }))
}

fn panics_second() -> Body {
    let mut step = 0;
    Body::iter(std::iter::from_fn(move || {
        step += 1;
        if step == 2 {
            panic!("iterator exploded later");
        }
        Some("before the panic")
    }))
}

#[test]
fn f1_close_once_when_the_iterator_panics_first() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(&[("Content-Type", "text/plain")], panics_first, &closes);
        let response = testing::call_with(app, get(), config.clone());
        assert_error_page(&response, name);
        assert!(response.errors.contains("iterator exploded"), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_when_the_iterator_panics_mid_body() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(&[("Content-Type", "text/plain")], panics_second, &closes);
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "before the panic", "{name}");
        assert!(response.aborted.is_some(), "{name}");
        assert!(response.errors.contains("iterator exploded later"), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_for_an_async_stream() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || {
                Body::stream(Slow {
                    chunks: ["one ", "two"].into(),
                    ready: false,
                })
            },
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "one two", "{name}");
        assert!(response.aborted.is_none(), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_when_an_async_stream_fails() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || {
                let items: [Result<&str, BoxError>; 2] = [Ok("one"), Err("stream broke".into())];
                Body::stream(futures_lite::stream::iter(items))
            },
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "one", "{name}");
        assert!(response.aborted.is_some(), "{name}");
        assert!(response.errors.contains("stream broke"), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn f1_close_once_when_the_client_disconnects_after_the_head() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain")],
            || Body::iter(std::iter::repeat("endless ")),
            &closes,
        );
        let (gateway, _) = gateway(app, config.clone());
        let response = serve(&gateway, request(Method::GET, "/", &[]), Frames::of(&[]));
        assert_eq!(response.head.status, 200, "{name}");
        let mut body = response.body;
        assert_eq!(next_frame(&mut body), Some(Ok(Bytes::from("endless "))), "{name}");
        drop(body); // the client went away
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

// ---------------------------------------------------------------------------
// F3: every chunk goes out as it is, empty ones skipped
// ---------------------------------------------------------------------------

#[test]
fn f3_empty_chunks_between_data() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::iter(["a", "", "b", "", "", "c", ""]))
        };
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.body, "abc", "{name}");
        assert!(response.aborted.is_none(), "{name}");

        // On the wire: one frame per non-empty chunk, none merged.
        let (gateway, _) = gateway(app, config);
        let mut body = serve(&gateway, request(Method::GET, "/", &[]), Frames::of(&[])).body;
        let frames = all_frames(&mut body);
        assert_eq!(
            frames,
            vec![Ok("a".into()), Ok("b".into()), Ok("c".into())],
            "{name}"
        );
    });
}

// ---------------------------------------------------------------------------
// F6: an application that fails
// ---------------------------------------------------------------------------

#[test]
fn f6_app_error_is_a_500_text_plain_and_logged() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/html"), ("X-App", "1")])?;
            Err("database is down".into())
        };
        let response = testing::call_with(app, get(), config);
        assert_error_page(&response, name);
        assert!(
            !response.headers.contains_key("x-app"),
            "{name}: the app's head is dropped"
        );
        assert!(response.errors.contains("database is down"), "{name}");
    });
}

#[test]
fn f6_app_panic_is_a_500_text_plain_and_logged() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/html")])?;
            panic!("handler panicked");
        };
        let response = testing::call_with(app, get(), config);
        assert_error_page(&response, name);
        assert!(response.errors.contains("handler panicked"), "{name}");
    });
}

// ---------------------------------------------------------------------------
// G: Content-Length and framing
// ---------------------------------------------------------------------------

#[test]
fn g2_body_shorter_than_content_length_aborts() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let app = closing_app(
            &[("Content-Type", "text/plain"), ("Content-Length", "10")],
            || Body::iter(["short"]),
            &closes,
        );
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.headers["content-length"], "10", "{name}");
        assert_eq!(response.body, "short", "{name}");
        assert!(
            response.aborted.is_some(),
            "{name}: the connection must be closed"
        );
        assert!(
            response.errors.contains("ended after 5 of its 10 bytes"),
            "{name}"
        );
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

#[test]
fn g3_single_buffer_gets_content_length() {
    each_dispatch(|name, config| {
        let app = |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(if environ.path_info == "/empty" {
                Body::empty()
            } else {
                Body::from("hello")
            })
        };
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.headers["content-length"], "5", "{name}");
        assert_eq!(response.body, "hello", "{name}");
        let mut environ = get();
        environ.path_info = "/empty".into();
        let response = testing::call_with(app, environ, config);
        assert_eq!(response.headers["content-length"], "0", "{name}");
        assert!(response.body.is_empty(), "{name}");
    });
}

#[test]
fn g3_no_content_length_for_an_iterator_or_after_write() {
    each_dispatch(|name, config| {
        let app = |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            if environ.path_info == "/write" {
                sr.write("written ")?;
                return Ok(Body::from("buffer"));
            }
            Ok(Body::iter(["one", "two"]))
        };
        let response = testing::call_with(app, get(), config.clone());
        assert!(!response.headers.contains_key("content-length"), "{name}");
        assert_eq!(response.body, "onetwo", "{name}");
        let mut environ = get();
        environ.path_info = "/write".into();
        let response = testing::call_with(app, environ, config);
        assert!(
            !response.headers.contains_key("content-length"),
            "{name}: the buffer is not the whole body after write()"
        );
        assert_eq!(response.body, "written buffer", "{name}");
    });
}

#[test]
fn g5_empty_iterator_gets_content_length_zero() {
    // REF: a response that ends without a body byte gets Content-Length: 0
    // (setdefault), so an HTTP/1.0 client keeps its connection.
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start(
                "302 Found",
                [("Content-Type", "text/plain"), ("Location", "/elsewhere")],
            )?;
            Ok(Body::iter(Vec::<&str>::new()))
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(response.status, 302, "{name}");
        assert_eq!(
            response
                .headers
                .get("content-length")
                .map(|v| v.to_str().unwrap()),
            Some("0"),
            "{name}: {:?}",
            response.headers
        );
    });
}

#[test]
fn g6_204_carries_no_content_length() {
    each_dispatch(|name, config| {
        let app = |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            if environ.path_info == "/with-length" {
                sr.start("204 No Content", [("Content-Length", "0")])?;
            } else {
                sr.start("204 No Content", [("X-Marker", "1")])?;
            }
            Ok(Body::empty())
        };
        for path in ["/", "/with-length"] {
            let mut environ = get();
            environ.path_info = path.into();
            let response = testing::call_with(app, environ, config.clone());
            assert_eq!(response.status, 204, "{name} {path}");
            assert!(!response.headers.contains_key("content-length"), "{name} {path}");
            assert!(
                !response.headers.contains_key("transfer-encoding"),
                "{name} {path}"
            );
            assert!(response.body.is_empty(), "{name} {path}");
        }
    });
}

#[test]
fn g6_304_sends_no_body() {
    each_dispatch(|name, config| {
        let closes = Closes::default();
        let hook = closes.clone();
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("304 Not Modified", [("ETag", "\"v1\"")])?;
            Ok(Body::iter(["must not be sent"]).on_close(hook.hook()))
        };
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.status, 304, "{name}");
        assert_eq!(response.headers["etag"], "\"v1\"", "{name}");
        assert!(response.body.is_empty(), "{name}");
        assert!(!response.headers.contains_key("transfer-encoding"), "{name}");
        assert!(response.aborted.is_none(), "{name}");
        assert_eq!(closes.settled(&config), 1, "{name}");
    });
}

// ---------------------------------------------------------------------------
// E1, E5: the legacy write()
// ---------------------------------------------------------------------------

#[test]
fn e1_e5_write_goes_out_before_the_iterable_and_commits_the_head() {
    each_dispatch(|name, config| {
        let after_write: Slot<String> = Arc::default();
        let slot = Arc::clone(&after_write);
        let app = move |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            sr.write("written, ")?;
            // The head is committed now: replacing it must fail.
            let late = sr.start_with_exc_info(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                BoxError::from("too late"),
            );
            *slot.lock().unwrap() = Some(format!("{late:?}"));
            Ok(Body::iter(["then ", "yielded"]))
        };
        let response = testing::call_with(app, get(), config);
        let late = after_write.lock().unwrap().take().unwrap();
        assert!(late.starts_with("Err(HeadersAlreadySent"), "{name}: {late}");
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.body, "written, then yielded", "{name}");
        assert!(response.aborted.is_none(), "{name}");
    });
}

#[test]
fn e5_write_commits_the_head_so_a_later_app_error_aborts() {
    // After write() the head is on its way (E2: sent or queued so that it
    // is guaranteed to go out): a later failure cannot turn it into a 500.
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            sr.write("partial")?;
            Err("failed after write".into())
        };
        let response = testing::call_with(app, get(), config);
        assert_eq!(response.status, 200, "{name}: the written head must go out");
        assert_eq!(response.body, "partial", "{name}: the written data must go out");
        assert!(response.aborted.is_some(), "{name}");
        assert!(response.errors.contains("failed after write"), "{name}");
    });
}

// ---------------------------------------------------------------------------
// C2, B10: wsgi.input
// ---------------------------------------------------------------------------

/// An app that reads `wsgi.input` step by step and reports what it got.
fn reader(seen: &Slot<Vec<Bytes>>) -> impl Application {
    let slot = Arc::clone(seen);
    move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let input = &mut environ.input;
        let reads = vec![
            input.read(3)?,
            input.read(100)?,
            input.read(100)?,
            input.readline(None)?,
            input.read_all()?,
        ];
        *slot.lock().unwrap() = Some(reads);
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::empty())
    }
}

#[test]
fn c2_input_stops_at_content_length_and_is_empty_at_eof() {
    each_dispatch(|name, config| {
        let seen: Slot<Vec<Bytes>> = Arc::default();
        let mut environ = get();
        environ.method = Method::POST;
        environ.set("CONTENT_LENGTH", "11").unwrap();
        environ.input = Input::from_bytes("hello world");
        let response = testing::call_with(reader(&seen), environ, config);
        assert_eq!(response.status, 200, "{name}: {}", response.errors);
        let reads = seen.lock().unwrap().take().unwrap();
        assert_eq!(reads, ["hel", "lo world", "", "", ""].map(Bytes::from), "{name}");
    });
}

#[test]
fn c2_input_from_an_engine_stops_at_the_end_of_the_body() {
    each_dispatch(|name, config| {
        let seen: Slot<Vec<Bytes>> = Arc::default();
        let (gateway, errors) = gateway(reader(&seen), config);
        let head = request(Method::POST, "/upload", &[("content-length", "11")]);
        let response = serve(&gateway, head, Frames::of(&["hel", "lo ", "", "world"]));
        assert_eq!(response.head.status, 200, "{name}: {}", errors.contents());
        let reads = seen.lock().unwrap().take().unwrap();
        assert_eq!(reads, ["hel", "lo world", "", "", ""].map(Bytes::from), "{name}");
    });
}

#[test]
fn b10_chunked_request_has_no_content_length() {
    each_dispatch(|name, config| {
        let seen: Slot<(Option<String>, bool, Bytes)> = Arc::default();
        let slot = Arc::clone(&seen);
        let app = move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            let body = environ.input.read_all()?;
            let length = environ.get("CONTENT_LENGTH").map(|v| v.into_owned());
            *slot.lock().unwrap() = Some((length, environ.input_terminated, body));
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::empty())
        };
        let (gateway, errors) = gateway(app, config);
        let head = request(Method::POST, "/", &[("transfer-encoding", "chunked")]);
        let response = serve(&gateway, head, Frames::of(&["abc", "def"]));
        assert_eq!(response.head.status, 200, "{name}: {}", errors.contents());
        let (length, terminated, body) = seen.lock().unwrap().take().unwrap();
        assert_eq!(length, None, "{name}");
        assert!(terminated, "{name}: wsgi.input_terminated");
        assert_eq!(body, "abcdef", "{name}");
    });
}

// ---------------------------------------------------------------------------
// D11: Date and Server
// ---------------------------------------------------------------------------

#[test]
fn d11_date_and_server_added_when_missing() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("x"))
        };
        let response = testing::call_with(app, get(), config.clone());
        assert_eq!(response.headers.get_all("date").iter().count(), 1, "{name}");
        let date = response.headers["date"].to_str().unwrap();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{name}: {date}");
        assert_eq!(response.headers.get_all("server").iter().count(), 1, "{name}");
        assert_eq!(response.headers["server"], "rwsgi", "{name}");

        let mut config = config;
        config.server_header = None;
        let response = testing::call_with(app, get(), config);
        assert!(
            !response.headers.contains_key("server"),
            "{name}: no server name configured"
        );
        assert!(response.headers.contains_key("date"), "{name}");
    });
}

#[test]
fn d11_app_date_and_server_are_not_duplicated() {
    each_dispatch(|name, config| {
        let app = |_: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
            sr.start(
                "200 OK",
                [
                    ("Content-Type", "text/plain"),
                    ("date", "Tue, 15 Nov 1994 08:12:31 GMT"),
                    ("SERVER", "my-app/1.0"),
                ],
            )?;
            Ok(Body::from("x"))
        };
        let response = testing::call_with(app, get(), config);
        let dates: Vec<_> = response.headers.get_all("date").iter().collect();
        assert_eq!(dates, ["Tue, 15 Nov 1994 08:12:31 GMT"], "{name}");
        let servers: Vec<_> = response.headers.get_all("server").iter().collect();
        assert_eq!(servers, ["my-app/1.0"], "{name}");
    });
}
