//! The request scanner: however the stream is cut into reads, it finds the
//! same heads, the same body bytes and the same error at the same offset,
//! and it always makes progress.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_core::wire::{Event, Limits, RequestScanner};

/// What a scan of the whole stream found: where each head ended, each
/// message's body, and the error that stopped it, with its offset.
#[derive(Debug, Default, PartialEq)]
struct Found {
    heads: Vec<usize>,
    bodies: Vec<Vec<u8>>,
    error: Option<(usize, String)>,
    closed: bool,
}

fn scan(stream: &[u8], cuts: &[u8]) -> Found {
    let limits = Limits {
        line: 200,
        fields: 20,
        field_size: 300,
        head: 2000,
    };
    let mut scanner = RequestScanner::new(limits);
    let mut found = Found::default();
    let mut body = Vec::new();
    let mut pos = 0;
    let mut cuts = cuts.iter().cycle();
    while pos < stream.len() && !scanner.is_closed() {
        // No cuts: the whole stream in one read.
        let read = cuts.next().map_or(usize::MAX, |&c| usize::from(c).max(1));
        let end = pos.saturating_add(read).min(stream.len());
        // One read may hold several events: scan it until it is used up.
        let mut slice = &stream[pos..end];
        while !slice.is_empty() && !scanner.is_closed() {
            match scanner.scan(slice) {
                Ok((used, event)) => {
                    assert!(used <= slice.len(), "consumed past the slice");
                    assert!(used > 0 || event.is_some(), "no progress at {pos}");
                    match event {
                        Some(Event::HeadEnd) => found.heads.push(pos + used),
                        Some(Event::Data { at, len, last }) => {
                            assert!(at + len <= used, "data past what was consumed");
                            body.extend_from_slice(&slice[at..at + len]);
                            if last {
                                found.bodies.push(std::mem::take(&mut body));
                            }
                        }
                        Some(Event::BodyEnd) => found.bodies.push(std::mem::take(&mut body)),
                        None => assert_eq!(used, slice.len(), "stopped early without an event"),
                    }
                    pos += used;
                    slice = &slice[used..];
                }
                Err((at, err)) => {
                    assert!(at <= slice.len(), "error offset past the slice");
                    found.error = Some((pos + at, format!("{err:?}")));
                    return found;
                }
            }
        }
    }
    found.closed = scanner.is_closed();
    found
}

fuzz_target!(|data: &[u8]| {
    let (cuts, stream) = data.split_at(data.len().min(4));
    let whole = scan(stream, &[]);
    let split = scan(stream, if cuts.is_empty() { &[1] } else { cuts });
    assert_eq!(whole, split, "the scan depends on where the reads end");
});
