//! Twisted's strports grammar: any bytes parse to an endpoint or to an
//! error whose span lies inside the description and whose message (with
//! its caret line) can be shown — never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match rwsgi_twisted::strports::parse_bytes(data) {
        Ok(endpoint) => {
            // Wrapping is one level deep at most.
            assert!(!endpoint.inner().is_haproxy());
        }
        Err(err) => {
            let (start, end) = err.span;
            assert!(
                start <= end && end <= err.description.len(),
                "span {:?} in {:?}",
                err.span,
                err.description
            );
            assert!(!err.to_string().is_empty());
        }
    }
});
