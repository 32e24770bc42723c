//! How many heap allocations one request costs the gateway — a regression
//! guard for the hot path (the figure is in the issue notes and
//! BENCHMARKS.md). Counted with a counting global allocator around
//! `Gateway::serve` for `demo:hello`, head construction included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(n, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

struct NoBody;
impl http_body::Body for NoBody {
    type Data = bytes::Bytes;
    type Error = rwsgi::request_error::RequestError;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
    fn is_end_stream(&self) -> bool {
        true
    }
}

#[test]
fn a_hello_request_costs_at_most_21_allocations() {
    use rwsgi::gateway::*;
    let mut config = rwsgi::Config::default();
    config.error_log = rwsgi::Errors::new(rwsgi::ErrorBuffer::new());
    let gateway = Gateway::new(
        rwsgi::demo::hello,
        config,
        std::sync::Arc::new(rwsgi::ThreadTimer),
        rwsgi::ServerHandle::new(),
    );
    let info = ConnInfo {
        peer: rwsgi::Addr::Tcp("127.0.0.1:5555".parse().unwrap()),
        local: rwsgi::Addr::Tcp("127.0.0.1:8000".parse().unwrap()),
        secure: false,
        proxy: None,
    };
    let run = || {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("bench"));
        let head = RequestHead {
            method: http::Method::GET,
            target: bytes::Bytes::from_static(b"/"),
            version: http::Version::HTTP_11,
            headers,
        };
        let response = futures_lite::future::block_on(gateway.serve(&info, head, Box::pin(NoBody))).unwrap();
        let mut body = response.body;
        while futures_lite::future::block_on(std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut body).poll_frame(cx)
        }))
        .is_some()
        {}
        drop(body);
    };
    use http_body::Body as _;
    run();
    let (a0, b0) = (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    for _ in 0..1000 {
        run();
    }
    let (a1, b1) = (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    let (allocations, bytes) = ((a1 - a0) / 1000, (b1 - b0) / 1000);
    println!("per request (building the head included): {allocations} allocations, {bytes} bytes");
    assert!(
        allocations <= 21,
        "{allocations} allocations per request (was 21)"
    );
}
