//! PEP 3333 strings are "native strings" of code points U+0000..U+00FF: each
//! request byte becomes the char of the same number (ISO-8859-1), and every
//! string the application hands back must fit in one byte per char.

use std::borrow::Cow;

/// Decodes bytes as ISO-8859-1. Borrows when the bytes are ASCII, which is
/// the common case and costs no allocation.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Encodes a string to ISO-8859-1 bytes; `None` if any char is above U+00FF.
pub fn encode(s: &str) -> Option<Cow<'_, [u8]>> {
    if s.is_ascii() {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}

/// Whether every char of `s` is in U+0000..U+00FF.
pub fn is_latin1(s: &str) -> bool {
    s.is_ascii() || s.chars().all(|c| u32::from(c) <= 0xFF)
}

/// Percent-decodes `raw` (invalid escapes are kept literally, as CPython's
/// `unquote` does) and decodes the resulting bytes as ISO-8859-1.
pub fn percent_decode(raw: &[u8]) -> String {
    if !raw.contains(&b'%') {
        return decode(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    decode(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_one_char_per_byte() {
        assert_eq!(decode(b"/plain"), "/plain");
        assert!(matches!(decode(b"/plain"), Cow::Borrowed(_)));
        assert_eq!(decode(b"/\xc3\xa0"), "/\u{c3}\u{a0}");
        assert_eq!(decode(&[0xff]), "\u{ff}");
    }

    #[test]
    fn encode_round_trips_and_refuses_wide_chars() {
        assert_eq!(encode("caf\u{e9}").unwrap().as_ref(), b"caf\xe9");
        assert!(encode("snow \u{2603}").is_none());
        assert!(is_latin1("\u{ff}"));
        assert!(!is_latin1("\u{100}"));
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode(b"/a%20b"), "/a b");
        assert_eq!(percent_decode(b"/%C3%A0"), "/\u{c3}\u{a0}");
        assert_eq!(percent_decode(b"/100%"), "/100%");
        assert_eq!(percent_decode(b"/%zz%4"), "/%zz%4");
        assert_eq!(percent_decode(b"%41%"), "A%");
        assert_eq!(percent_decode(b"/%2F"), "//");
    }
}
