//! The PROXY protocol parser: any bytes give a header no longer than they
//! are, a request for more, or an error — never a panic; a header parses the
//! same from exactly its own bytes, and every shorter prefix of them asks
//! for more (a reader that stops early never mistakes half a header for a
//! whole one).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_core::proxy_protocol::{Parsed, parse};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Parsed::Complete { header, consumed }) => {
            assert!(consumed <= data.len());
            match parse(&data[..consumed]) {
                Ok(Parsed::Complete {
                    header: again,
                    consumed: n,
                }) => {
                    assert_eq!(n, consumed);
                    assert_eq!(again, header);
                }
                other => panic!("its own bytes: {other:?}"),
            }
            for cut in 0..consumed {
                assert!(
                    matches!(parse(&data[..cut]), Ok(Parsed::Incomplete { .. })),
                    "a {cut}-byte prefix of a {consumed}-byte header"
                );
            }
        }
        Ok(Parsed::Incomplete { at_least }) => assert!(at_least > data.len()),
        Err(_) => {}
    }
});
