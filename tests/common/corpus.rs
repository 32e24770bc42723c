//! gunicorn's request corpus (../shared/corpus/gunicorn-requests): where it
//! is, its README's transform to wire bytes, and its settings as rwsgi's.

use std::path::PathBuf;

use rwsgi::{Config, Engine, UnderscoreHeaders};
use serde_json::Value;

/// The corpus folder, beside the repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gunicorn-requests")
}

/// The corpus README's transform: readable text → wire bytes (checked
/// against the manifest's digests by tests/corpus.rs).
pub fn wire_bytes(file: &str) -> Vec<u8> {
    let text: Vec<u8> = std::fs::read(dir().join(file))
        .unwrap()
        .into_iter()
        .filter(|&b| b != b'\n')
        .collect();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let (bytes, used): (&[u8], usize) = match rest {
            [b'\\', b'r', b'\\', b'n', ..] => (b"\r\n", 4),
            [b'\\', b'0', ..] => (b"\0", 2),
            [b'\\', b'n', ..] => (b"\n", 2),
            [b'\\', b't', ..] => (b"\t", 2),
            _ => (&rest[..1], 1),
        };
        out.extend_from_slice(bytes);
        i += used;
    }
    // `\xHH` last, over the result of the other replacements.
    let mut decoded = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i..].starts_with(br"\x") {
            let hex = std::str::from_utf8(&out[i + 2..i + 4]).unwrap();
            decoded.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            assert_ne!(out[i], b'\\', "{file}: a backslash survived the transform");
            decoded.push(out[i]);
            i += 1;
        }
    }
    decoded
}

/// A case's gunicorn limits and switches (its `config` object), as rwsgi
/// configures them; `unmapped` is told of each setting rwsgi has no
/// counterpart for (left at the default).
pub fn config(settings: &Value, engine: Engine, mut unmapped: impl FnMut(&str)) -> Config {
    let mut config = super::config(engine);
    for (key, value) in settings.as_object().unwrap() {
        let number = || value.as_u64().map(|n| n as usize);
        match key.as_str() {
            "limit_request_line" => config.limit_request_line = number().unwrap(),
            // gunicorn: 0 or less falls back to its default, 8190.
            "limit_request_field_size" => {
                config.limit_request_field_size = number().filter(|&n| n > 0).unwrap_or(8190)
            }
            "limit_request_fields" => config.limit_request_fields = number().unwrap(),
            "permit_unconventional_http_method" => config.permit_unconventional_http_method = true,
            "header_map" => {
                config.underscore_headers = match value.as_str().unwrap() {
                    "refuse" => UnderscoreHeaders::Refuse,
                    "dangerous" => UnderscoreHeaders::Keep,
                    _ => UnderscoreHeaders::Drop,
                }
            }
            other => unmapped(other),
        }
    }
    config.limit_request_head = 0;
    config
}
