//! The uwsgi packet: a 4-byte header — `modifier1` (u8), `datasize` (u16,
//! little-endian), `modifier2` (u8) — then `datasize` bytes of variables,
//! each a little-endian u16 key length, the key, a u16 value length, the
//! value. For a request (modifier1 0, the WSGI request) the variables are
//! the CGI environ nginx's `uwsgi_params` builds, and the request body
//! (`CONTENT_LENGTH` bytes) follows the packet.
//!
//! Everything here is a pure function over bytes (for fuzzing, and for
//! clients that build packets).
//!
//! ```
//! use rwsgi_uwsgi_proto::packet::{encode, parse_packet};
//! let bytes = encode(0, &[(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/")], 0);
//! let packet = parse_packet(&bytes, 4096).unwrap();
//! assert_eq!(packet.header.modifier1, 0);
//! assert_eq!(packet.vars, vec![(&b"REQUEST_METHOD"[..], &b"GET"[..]), (&b"PATH_INFO"[..], &b"/"[..])]);
//! assert_eq!(packet.consumed, bytes.len());
//! ```

use std::fmt;

/// Length of the packet header.
pub const HEADER_LEN: usize = 4;

/// The largest vars block the 16-bit `datasize` can announce (and the
/// largest `--buffer-size`).
pub const MAX_DATASIZE: usize = u16::MAX as usize;

/// modifier1 of a WSGI request (uWSGI's Python plugin; also what nginx
/// sends by default).
pub const MODIFIER_WSGI: u8 = 0;

/// modifier1 30: a WSGI request whose `SCRIPT_NAME` is to be removed from
/// the front of `PATH_INFO` (the old nginx mount-point idiom,
/// `uwsgi_modifier1 30`).
pub const MODIFIER_WSGI_STRIP_SCRIPT_NAME: u8 = 30;

/// The packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The packet type (0: a WSGI request).
    pub modifier1: u8,
    /// The size of the vars block that follows.
    pub datasize: u16,
    /// A subtype (0 for requests).
    pub modifier2: u8,
}

impl Header {
    /// Reads a header from its 4 bytes.
    pub fn parse(bytes: [u8; HEADER_LEN]) -> Header {
        Header {
            modifier1: bytes[0],
            datasize: u16::from_le_bytes([bytes[1], bytes[2]]),
            modifier2: bytes[3],
        }
    }

    /// The header's 4 bytes.
    pub fn encode(self) -> [u8; HEADER_LEN] {
        let size = self.datasize.to_le_bytes();
        [self.modifier1, size[0], size[1], self.modifier2]
    }

    /// What kind of request this is, if the engine serves it.
    ///
    /// # Errors
    ///
    /// [`PacketError::UnsupportedModifier`] for anything but a WSGI request
    /// (modifier1 0 or 30, modifier2 0).
    pub fn request_kind(self) -> Result<RequestKind, PacketError> {
        match (self.modifier1, self.modifier2) {
            (MODIFIER_WSGI, 0) => Ok(RequestKind::Wsgi),
            (MODIFIER_WSGI_STRIP_SCRIPT_NAME, 0) => Ok(RequestKind::WsgiStripScriptName),
            (modifier1, modifier2) => Err(PacketError::UnsupportedModifier { modifier1, modifier2 }),
        }
    }
}

/// The requests the engine serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// modifier1 0: the variables as they are.
    Wsgi,
    /// modifier1 30: `SCRIPT_NAME` is removed from the front of `PATH_INFO`.
    WsgiStripScriptName,
}

/// A packet that cannot be served. The messages are uWSGI's log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// The bytes end before the packet does.
    Truncated {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The vars block is larger than the buffer (`--buffer-size`).
    TooLarge {
        /// The announced size.
        size: usize,
        /// The buffer size.
        max: usize,
    },
    /// A modifier pair the engine does not serve.
    UnsupportedModifier {
        /// The packet's modifier1.
        modifier1: u8,
        /// The packet's modifier2.
        modifier2: u8,
    },
    /// A variable with an empty key, at this offset of the vars block.
    NullKey {
        /// Offset in the vars block.
        at: usize,
    },
    /// A key or value longer than what is left of the block.
    BadVar {
        /// Offset in the vars block.
        at: usize,
        /// The length it announced.
        size: usize,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PacketError::Truncated { needed, got } => {
                write!(f, "truncated uwsgi packet (expecting {needed} bytes, got {got})")
            }
            PacketError::TooLarge { size, max } => {
                write!(f, "invalid request block size: {size} (max {max})...skip")
            }
            PacketError::UnsupportedModifier { modifier1, modifier2 } => write!(
                f,
                "-- unavailable modifier requested: {modifier1} -- (modifier2 {modifier2}; rwsgi serves 0 and 30)"
            ),
            PacketError::NullKey { at } => {
                write!(f, "uwsgi key cannot be null. skip this request. (at byte {at})")
            }
            PacketError::BadVar { at, size } => write!(
                f,
                "invalid uwsgi request (current strsize: {size}). skip. (at byte {at})"
            ),
        }
    }
}

impl std::error::Error for PacketError {}

/// Checks a header against the buffer size before its vars are read.
///
/// # Errors
///
/// [`PacketError::TooLarge`] past `max` (which is itself capped at
/// [`MAX_DATASIZE`]).
pub fn check_size(header: Header, max: usize) -> Result<usize, PacketError> {
    let size = usize::from(header.datasize);
    let max = max.min(MAX_DATASIZE);
    if size > max {
        return Err(PacketError::TooLarge { size, max });
    }
    Ok(size)
}

/// One variable: key and value, borrowed from the packet.
pub type Var<'a> = (&'a [u8], &'a [u8]);

/// Splits a vars block into `(key, value)` pairs, in order.
///
/// # Errors
///
/// [`PacketError::NullKey`] or [`PacketError::BadVar`] where the block is
/// malformed (including a trailing byte that cannot start a variable).
pub fn parse_vars(block: &[u8]) -> Result<Vec<Var<'_>>, PacketError> {
    let mut vars = Vec::with_capacity(32);
    let mut at = 0;
    let take = |at: &mut usize| -> Result<&[u8], PacketError> {
        let start = *at;
        if start + 2 > block.len() {
            return Err(PacketError::BadVar {
                at: start,
                size: block.len() - start,
            });
        }
        let size = usize::from(u16::from_le_bytes([block[start], block[start + 1]]));
        let end = start + 2 + size;
        if end > block.len() {
            return Err(PacketError::BadVar { at: start, size });
        }
        *at = end;
        Ok(&block[start + 2..end])
    };
    while at < block.len() {
        let key_at = at;
        let key = take(&mut at)?;
        if key.is_empty() {
            return Err(PacketError::NullKey { at: key_at });
        }
        let value = take(&mut at)?;
        vars.push((key, value));
    }
    Ok(vars)
}

/// A parsed packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header,
    /// The variables, in order.
    pub vars: Vec<Var<'a>>,
    /// Header plus vars block: where the request body starts.
    pub consumed: usize,
}

/// Parses the packet at the start of `bytes`, its vars block at most
/// `max_vars` bytes (`--buffer-size`). The modifiers are not judged here
/// (see [`Header::request_kind`]).
///
/// # Errors
///
/// [`PacketError::Truncated`], [`PacketError::TooLarge`], or a malformed
/// vars block.
pub fn parse_packet(bytes: &[u8], max_vars: usize) -> Result<Packet<'_>, PacketError> {
    let Some(head) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(PacketError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    };
    let header = Header::parse(*head);
    let size = check_size(header, max_vars)?;
    let end = HEADER_LEN + size;
    if bytes.len() < end {
        return Err(PacketError::Truncated {
            needed: end,
            got: bytes.len(),
        });
    }
    Ok(Packet {
        header,
        vars: parse_vars(&bytes[HEADER_LEN..end])?,
        consumed: end,
    })
}

/// Builds a packet (for clients and tests).
///
/// # Panics
///
/// When a key, a value or the whole block exceeds 65 535 bytes.
pub fn encode(modifier1: u8, vars: &[Var<'_>], modifier2: u8) -> Vec<u8> {
    let mut block = Vec::new();
    for (key, value) in vars {
        for part in [key, value] {
            let len = u16::try_from(part.len()).expect("a uwsgi key or value is at most 65535 bytes");
            block.extend_from_slice(&len.to_le_bytes());
            block.extend_from_slice(part);
        }
    }
    let datasize = u16::try_from(block.len()).expect("a uwsgi vars block is at most 65535 bytes");
    let mut out = Header {
        modifier1,
        datasize,
        modifier2,
    }
    .encode()
    .to_vec();
    out.extend_from_slice(&block);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_is_little_endian() {
        let header = Header::parse([0, 0x34, 0x12, 0]);
        assert_eq!(header.datasize, 0x1234);
        assert_eq!(header.encode(), [0, 0x34, 0x12, 0]);
    }

    #[test]
    fn empty_values_are_allowed_and_keys_are_not() {
        let bytes = encode(0, &[(b"QUERY_STRING", b""), (b"A", b"b")], 0);
        let packet = parse_packet(&bytes, 4096).unwrap();
        assert_eq!(
            packet.vars,
            vec![(&b"QUERY_STRING"[..], &b""[..]), (&b"A"[..], &b"b"[..])]
        );
        let bytes = encode(0, &[(b"", b"x")], 0);
        assert_eq!(parse_packet(&bytes, 4096), Err(PacketError::NullKey { at: 0 }));
    }

    #[test]
    fn truncated_and_oversized() {
        let bytes = encode(0, &[(b"REQUEST_METHOD", b"GET")], 0);
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    parse_packet(&bytes[..cut], 4096),
                    Err(PacketError::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
        assert_eq!(
            parse_packet(&[0, 0x01, 0x10, 0], 4096),
            Err(PacketError::TooLarge {
                size: 4097,
                max: 4096
            })
        );
        assert_eq!(
            parse_packet(&[0, 0xff, 0xff, 0], usize::MAX),
            Err(PacketError::Truncated {
                needed: 65539,
                got: 4
            })
        );
        assert!(
            PacketError::TooLarge {
                size: 5000,
                max: 4096
            }
            .to_string()
            .starts_with("invalid request block size: 5000 (max 4096)")
        );
    }

    #[test]
    fn malformed_blocks() {
        // A key announcing more than the block holds.
        let mut bytes = vec![0, 5, 0, 0, 9, 0, b'a', b'b', b'c'];
        assert_eq!(
            parse_packet(&bytes, 4096),
            Err(PacketError::BadVar { at: 0, size: 9 })
        );
        // A key without its value.
        bytes = vec![0, 3, 0, 0, 1, 0, b'k'];
        assert_eq!(
            parse_packet(&bytes, 4096),
            Err(PacketError::BadVar { at: 3, size: 0 })
        );
        // A stray byte at the end.
        let mut good = encode(0, &[(b"K", b"V")], 0);
        good.push(7);
        good[1] += 1;
        assert!(matches!(
            parse_packet(&good, 4096),
            Err(PacketError::BadVar { .. })
        ));
    }

    #[test]
    fn modifiers() {
        let kind = |m1, m2| {
            Header {
                modifier1: m1,
                datasize: 0,
                modifier2: m2,
            }
            .request_kind()
        };
        assert_eq!(kind(0, 0), Ok(RequestKind::Wsgi));
        assert_eq!(kind(30, 0), Ok(RequestKind::WsgiStripScriptName));
        for (m1, m2) in [(5, 0), (7, 0), (0, 1), (72, 0), (100, 0), (255, 255)] {
            let err = kind(m1, m2).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("unavailable modifier requested: {m1}"))
            );
        }
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(vars in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..40), proptest::collection::vec(any::<u8>(), 0..60)), 0..30)) {
            let pairs: Vec<(&[u8], &[u8])> = vars.iter().map(|(k, v)| (&k[..], &v[..])).collect();
            let bytes = encode(0, &pairs, 0);
            let packet = parse_packet(&bytes, MAX_DATASIZE).unwrap();
            prop_assert_eq!(packet.vars, pairs);
            prop_assert_eq!(packet.consumed, bytes.len());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in 0usize..70_000) {
            let _ = parse_packet(&bytes, max);
            let _ = parse_vars(&bytes);
        }
    }
}
