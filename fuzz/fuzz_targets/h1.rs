//! rwsgi-h1 against hyper on the same bytes, read in pieces of a size the
//! input chooses. rwsgi-h1 must never panic or hang, and every request it
//! hands to the application must be one hyper also accepted, with the same
//! method, target and body, in the same order: it may refuse more than
//! hyper (it is stricter by design), never less.
//!
//! One difference is expected and skipped: hyper refuses request targets
//! that its URI parser does not take (`http::Uri`), which RFC 9112 allows
//! and rwsgi passes on (the README's backend table says so).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_fuzz::{quiet_config, serve_h1, serve_hyper};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let chunk = if chunk == 0 {
        bytes.len()
    } else {
        usize::from(chunk)
    };
    let (h1, written) = serve_h1(bytes, chunk, quiet_config());
    let hyper = serve_hyper(bytes, chunk);
    for (i, request) in h1.iter().enumerate() {
        if http::Uri::try_from(request.target.as_slice()).is_err() {
            return;
        }
        match hyper.get(i) {
            Some(theirs) if theirs.method == request.method && theirs.body == request.body => {
                let ours = request.target.split(|&b| b == b'#').next().unwrap_or_default();
                if ours.starts_with(b"/") {
                    assert_eq!(ours, theirs.target.as_slice(), "request {i}: targets differ");
                }
            }
            theirs => panic!(
                "request {i}: rwsgi-h1 served {request:?}, hyper {theirs:?}\nrwsgi-h1 wrote {:?}\nall: {h1:?}\nhyper: {hyper:?}",
                String::from_utf8_lossy(&written)
            ),
        }
    }
});
