//! ProxyFix: any forwarding headers, counts and trusted-peer list give an
//! environ whose client address and scheme came from the connection or
//! from those headers, and which still round-trips — never a panic.

#![no_main]

use std::sync::{Arc, Mutex, PoisonError};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rwsgi_core::middleware::{ProxyFix, TrustedPeers};
use rwsgi_core::{Body, Environ, StartResponse, testing};

#[derive(Arbitrary, Debug)]
struct Case {
    remote_addr: String,
    counts: [u8; 5],
    forwarded_for: Option<String>,
    proto: Option<String>,
    host: Option<String>,
    port: Option<String>,
    prefix: Option<String>,
    forwarded: Option<String>,
    use_forwarded: bool,
    trusted: Option<String>,
}

fuzz_target!(|case: Case| {
    let headers = [
        ("HTTP_X_FORWARDED_FOR", &case.forwarded_for),
        ("HTTP_X_FORWARDED_PROTO", &case.proto),
        ("HTTP_X_FORWARDED_HOST", &case.host),
        ("HTTP_X_FORWARDED_PORT", &case.port),
        ("HTTP_X_FORWARDED_PREFIX", &case.prefix),
        ("HTTP_FORWARDED", &case.forwarded),
    ];
    let pairs = headers
        .iter()
        .filter_map(|(key, value)| Some((*key, value.as_deref()?)))
        .chain([
            ("REMOTE_ADDR", case.remote_addr.as_str()),
            ("HTTP_HOST", "origin.test"),
        ]);
    let Ok(environ) = Environ::from_pairs(pairs) else {
        return;
    };
    let seen = Arc::new(Mutex::new(None));
    let record = Arc::clone(&seen);
    let app = move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let pairs = environ.to_pairs();
        let rebuilt = Environ::from_pairs(pairs.clone()).expect("the rewritten environ's pairs are refused");
        assert_eq!(
            rebuilt.to_pairs(),
            pairs,
            "the rewritten environ does not round-trip"
        );
        *record.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((environ.remote_addr.clone(), environ.url_scheme.to_string()));
        sr.start("204 No Content", Vec::<(&str, &str)>::new())?;
        Ok(Body::empty())
    };
    let count = |i: usize| usize::from(case.counts[i] % 4);
    let mut fix = ProxyFix::new(app)
        .x_for(count(0))
        .x_proto(count(1))
        .x_host(count(2))
        .x_port(count(3))
        .x_prefix(count(4))
        .forwarded(case.use_forwarded);
    if let Some(list) = &case.trusted {
        let Ok(peers) = list.parse::<TrustedPeers>() else {
            return;
        };
        fix = fix.trusted_peers(peers);
    }
    let response = testing::call(fix, environ);
    assert_eq!(response.status, 204, "{}", response.errors);
    let (addr, scheme) = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("app not called");
    // werkzeug unquotes list items (`"a\\"b"` is `a"b`): compare without
    // quotes and escapes.
    let bare = |s: &str| s.replace(['"', '\\'], "");
    let from_headers = |value: &str| {
        [&case.forwarded_for, &case.proto, &case.forwarded]
            .into_iter()
            .flatten()
            .any(|header| bare(header).contains(&bare(value)))
    };
    let addr = addr.unwrap_or_default();
    assert!(
        addr == case.remote_addr || from_headers(&addr),
        "REMOTE_ADDR {addr:?} came from nowhere"
    );
    assert!(
        scheme == "http" || from_headers(&scheme),
        "wsgi.url_scheme {scheme:?} came from nowhere"
    );
});
