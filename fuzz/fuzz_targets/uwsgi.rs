//! The uwsgi protocol's packet parser: any bytes give a packet that lies
//! within them, or an error — never a panic; and a packet parses the same
//! from exactly its own bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwsgi_uwsgi_proto::packet::parse_packet;

fuzz_target!(|data: &[u8]| {
    let Some((&max, bytes)) = data.split_first() else {
        return;
    };
    let max_vars = usize::from(max) * 4;
    if let Ok(packet) = parse_packet(bytes, max_vars) {
        assert!(packet.consumed <= bytes.len());
        assert!(packet.vars.len() <= max_vars.max(1) || max_vars == 0);
        let again = parse_packet(&bytes[..packet.consumed], max_vars).expect("its own bytes parse");
        assert_eq!(again.consumed, packet.consumed);
        assert_eq!(again.vars.len(), packet.vars.len());
    }
});
