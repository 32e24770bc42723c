//! gunicorn's request corpus (../shared/corpus/gunicorn-requests), replayed
//! over TCP against every enabled backend × engine: each valid request must
//! reach the application exactly as the manifest says, each invalid one
//! must get exactly the outcome rwsgi's error table gives — never a 2xx.
//!
//! Each file is sent whole, split at seeded random byte boundaries, and one
//! byte per write. Cases whose gunicorn setting rwsgi lacks on purpose are
//! skipped, each with its reason (see `skip_reason`); where rwsgi answers
//! differently from gunicorn on purpose, `expected_outcome` says so.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Shutdown;

use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sha2::Digest;

use common::corpus::wire_bytes;
use common::raw::Conn;
use common::{TestServer, corpus};
use rwsgi::{Body, Config, Engine, Environ, Server, StartResponse};

fn manifest() -> Value {
    let text = std::fs::read_to_string(corpus::dir().join("manifest.json"))
        .expect("the corpus is at ../shared/corpus/gunicorn-requests");
    serde_json::from_str(&text).unwrap()
}

fn cases(kind: &str) -> Vec<Value> {
    manifest()[kind].as_array().unwrap().clone()
}

#[test]
fn the_transform_matches_the_manifest() {
    let mut checked = 0;
    for case in cases("valid").into_iter().chain(cases("invalid")) {
        let file = case["file"].as_str().unwrap();
        let wire = wire_bytes(file);
        assert_eq!(wire.len() as u64, case["wire_len"].as_u64().unwrap(), "{file}");
        assert_eq!(
            hex(&sha2::Sha256::digest(&wire)),
            case["wire_sha256"].as_str().unwrap(),
            "{file}"
        );
        checked += 1;
    }
    assert_eq!(checked, 63 + 74);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a case cannot run: its gunicorn setting is one rwsgi deliberately
/// does not have.
fn skip_reason(case: &Value) -> Option<&'static str> {
    let config = &case["config"];
    if config.get("proxy_protocol").is_some() {
        return Some(
            "PROXY protocol is not part of the bare server (it comes with gunicorn's --proxy-protocol)",
        );
    }
    if config.get("permit_obsolete_folding").is_some() {
        return Some("rwsgi refuses obs-fold always (RFC 9112 §5.2 allows that); no permit_obsolete_folding");
    }
    if config.get("strip_header_spaces").is_some() {
        return Some(
            "rwsgi has no strip_header_spaces: whitespace before ':' is a smuggling vector (RFC 9112 §5.1)",
        );
    }
    if config.get("casefold_http_method").is_some() {
        return Some("rwsgi does not rewrite methods (no casefold_http_method)");
    }
    if config.get("forwarded_allow_ips").is_some() {
        return Some(
            "the scheme-header conflict check is gunicorn's secure_scheme_headers, which rwsgi leaves to ProxyFix",
        );
    }
    None
}

/// The gunicorn settings of a case, as rwsgi's configuration.
fn config_for(case: &Value, engine: Engine) -> Config {
    corpus::config(&case["config"], engine, |other| {
        panic!("unmapped setting {other}")
    })
}

/// The application: answers with what it saw, as JSON.
fn recorder(environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    let body = environ.input.read_all()?;
    let headers: Vec<(String, String)> = environ
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_uppercase(),
                rwsgi::latin1::decode(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let seen = serde_json::json!({
        "method": environ.method.as_str(),
        "path_info": environ.path_info,
        "query": environ.query_string,
        "protocol": environ.server_protocol,
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
    });
    // A 2xx answer to CONNECT would open a tunnel (rwsgi refuses that).
    let status = if environ.method == "CONNECT" {
        "405 Method Not Allowed"
    } else {
        "200 OK"
    };
    start_response.start(status, [("Content-Type", "application/json")])?;
    Ok(Body::from(seen.to_string()))
}

/// Ways to deliver a file: whole, at random split points, byte by byte.
fn deliveries(wire: &[u8], seed: u64) -> Vec<Vec<Vec<u8>>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = vec![vec![wire.to_vec()]];
    for _ in 0..2 {
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let len = rng.random_range(1..=(wire.len() - at).min(64));
            pieces.push(wire[at..at + len].to_vec());
            at += len;
        }
        out.push(pieces);
    }
    out.push(wire.iter().map(|&b| vec![b]).collect());
    out
}

fn send(server: &TestServer, pieces: &[Vec<u8>], half_close: bool) -> Conn {
    let mut conn = Conn::connect(server.addr());
    for piece in pieces {
        // The server may answer and close before it has read everything
        // (a limit reached early): the rest cannot be sent, and need not be.
        if conn.stream.write_all(piece).is_err() {
            return conn;
        }
    }
    if half_close {
        let _ = conn.stream.shutdown(Shutdown::Write);
    }
    conn
}

/// rwsgi's PATH_INFO is the percent-decoded path (PEP 3333); gunicorn's
/// corpus gives the raw one.
fn decoded(path: &str) -> String {
    let bytes: Vec<u8> = path.chars().map(|c| u32::from(c) as u8).collect();
    rwsgi::latin1::percent_decode(&bytes)
}

fn expected_headers(request: &Value) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    headers.sort();
    headers
}

fn expected_body(request: &Value) -> Vec<u8> {
    match (&request["body"]["text"], &request["body"]["base64"]) {
        (Value::String(text), _) => text.chars().map(|c| u32::from(c) as u8).collect(),
        (_, Value::String(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).unwrap(),
        _ => Vec::new(),
    }
}

fn replay_valid<S: Server>(engine: Engine) {
    let mut servers: BTreeMap<String, TestServer> = BTreeMap::new();
    let (mut ran, mut skipped) = (0, 0);
    for (n, case) in cases("valid").iter().enumerate() {
        let file = case["file"].as_str().unwrap();
        if let Some(reason) = skip_reason(case) {
            eprintln!("skip {file}: {reason}");
            skipped += 1;
            continue;
        }
        let server = servers
            .entry(case["config"].to_string())
            .or_insert_with(|| TestServer::start::<S>(config_for(case, engine), recorder));
        let requests = case["requests"].as_array().unwrap();
        let wire = wire_bytes(file);
        for pieces in deliveries(&wire, n as u64) {
            // valid/099: Content-Length says 17914, 8599 bytes follow, then
            // EOF. gunicorn hands the app the short body; rwsgi treats it as
            // the incomplete request it is (RFC 9112 §8) and closes without
            // answering (error table: truncated body).
            if file == "valid/099.http" {
                let mut conn = send(server, &pieces, true);
                assert!(conn.closed_quietly(), "{file}: a truncated body gets no response");
                continue;
            }
            // valid/009: `Transfer-Encoding: identity` with a Content-Length.
            // gunicorn reads it by the length; rwsgi refuses any request
            // with both fields (RFC 9112 §6.3 lets a server; it is how
            // requests are smuggled past a proxy that reads the other one).
            // valid/014: `"` in the target. RFC 3986 excludes it and hyper
            // refuses it in a query, so rwsgi refuses it on every engine
            // (gunicorn passes it through).
            if file == "valid/009.http" || file == "valid/014.http" {
                let mut conn = send(server, &pieces, false);
                assert_eq!(conn.response(false).map(|r| r.status), Some(400), "{file}");
                continue;
            }
            let mut conn = send(server, &pieces, false);
            for (i, request) in requests.iter().enumerate() {
                let response = conn
                    .response(false)
                    .unwrap_or_else(|| panic!("{file} request {i}: no response"));
                let status = if request["method"] == "CONNECT" { 405 } else { 200 };
                assert_eq!(
                    response.status,
                    status,
                    "{file} request {i}: {}",
                    response.body_text()
                );
                let seen: Value = serde_json::from_slice(&response.body).unwrap();
                assert_eq!(seen["method"], request["method"], "{file}");
                let uri = &request["uri"];
                // CONNECT's authority-form target has no path: PATH_INFO is
                // empty (gunicorn's urlsplit reads "443" as the path).
                let path = if request["method"] == "CONNECT" {
                    String::new()
                } else {
                    decoded(uri["path"].as_str().unwrap())
                };
                assert_eq!(seen["path_info"], path.as_str(), "{file}");
                assert_eq!(seen["query"], uri["query"], "{file}");
                assert_eq!(seen["protocol"], request["version"], "{file}");
                let mut headers: Vec<(String, String)> =
                    serde_json::from_value(seen["headers"].clone()).unwrap();
                headers.sort();
                assert_eq!(headers, expected_headers(request), "{file}");
                let body = base64::engine::general_purpose::STANDARD
                    .decode(seen["body"].as_str().unwrap())
                    .unwrap();
                assert_eq!(body, expected_body(request), "{file}");
            }
            if case.get("trailing_unparsed_bytes").is_some() {
                // After a closing request, the rest is never parsed.
                assert!(conn.closed_quietly(), "{file}: closes after the last request");
            }
        }
        ran += 1;
    }
    eprintln!("valid: {ran} replayed, {skipped} skipped");
    assert_eq!(ran + skipped, 63);
    assert_eq!(skipped, 9, "the skip list changed");
}

/// The outcome rwsgi's table gives: `Some(status)`, or `None` for a close
/// without a response.
fn expected_outcome(case: &Value, wire: &[u8]) -> Option<u16> {
    let file = case["file"].as_str().unwrap();
    match case["error"].as_str().unwrap() {
        "NoMoreData" | "ChunkMissingTerminator" => None,
        // rwsgi: 414 (RFC 9110 §15.5.15) where gunicorn says 400.
        "LimitRequestLine" => Some(414),
        "LimitRequestHeaders" => Some(431),
        // rwsgi: a well-formed version it does not speak is 505 (RFC 9110
        // §15.6.6), a malformed one 400; gunicorn says 400 to both.
        "InvalidHTTPVersion" if contains(wire, b"HTTP/2.0\r\n") => Some(505),
        "InvalidRequestLine"
        | "InvalidRequestMethod"
        | "InvalidHTTPVersion"
        | "InvalidHeader"
        | "InvalidHeaderName"
        | "ObsoleteFolding"
        | "InvalidChunkSize"
        | "InvalidChunkExtension" => Some(400),
        other => panic!("{file}: no expectation for {other}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replay_invalid<S: Server>(engine: Engine) {
    let mut servers: BTreeMap<String, TestServer> = BTreeMap::new();
    let (mut ran, mut skipped) = (0, 0);
    for (n, case) in cases("invalid").iter().enumerate() {
        let file = case["file"].as_str().unwrap();
        if let Some(reason) = skip_reason(case) {
            eprintln!("skip {file}: {reason}");
            skipped += 1;
            continue;
        }
        let server = servers
            .entry(case["config"].to_string())
            .or_insert_with(|| TestServer::start::<S>(config_for(case, engine), recorder));
        let wire = wire_bytes(file);
        let expected = expected_outcome(case, &wire);
        for pieces in deliveries(&wire, 1000 + n as u64) {
            let mut conn = send(server, &pieces, true);
            let got = conn.response(false).map(|r| r.status);
            assert_eq!(got, expected, "{file} ({}): {}", case["error"], case["what"]);
            assert!(
                conn.closed_quietly(),
                "{file}: the connection closes after the answer"
            );
        }
        ran += 1;
    }
    for server in servers.values() {
        common::wait_until(common::DEADLINE, "every connection to close", || {
            server.handle.connections() == 0
        });
    }
    eprintln!("invalid: {ran} replayed, {skipped} skipped");
    assert_eq!(ran + skipped, 74);
    assert_eq!(skipped, 5, "the skip list changed");
}

macro_rules! corpus {
    ($($module:ident: $server:ty, $engine:expr;)*) => {$(
        mod $module {
            #[test]
            fn valid_requests_reach_the_app_intact() {
                super::replay_valid::<$server>($engine)
            }

            #[test]
            fn invalid_requests_get_the_tables_outcome() {
                super::replay_invalid::<$server>($engine)
            }
        }
    )*};
}

#[cfg(feature = "tokio-backend")]
corpus! {
    tokio_hyper: rwsgi::TokioServer, rwsgi::Engine::Hyper;
    tokio_h1: rwsgi::TokioServer, rwsgi::Engine::H1;
}

#[cfg(feature = "smol-backend")]
corpus! {
    smol_hyper: rwsgi::SmolServer, rwsgi::Engine::Hyper;
    smol_async_h1: rwsgi::SmolServer, rwsgi::Engine::AsyncH1;
    smol_h1: rwsgi::SmolServer, rwsgi::Engine::H1;
}

#[cfg(feature = "async-std-backend")]
corpus! {
    async_std_async_h1: rwsgi::AsyncStdServer, rwsgi::Engine::AsyncH1;
    async_std_h1: rwsgi::AsyncStdServer, rwsgi::Engine::H1;
}
