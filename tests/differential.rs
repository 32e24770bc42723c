//! Every backend × engine compiled in, side by side: each request of
//! gunicorn's corpus (../shared/corpus/gunicorn-requests; valid and
//! invalid, every case, whole and split at seeded random points) and each
//! limit case of the suite's `limits_answer_per_the_table` goes to all of
//! them, and what comes back must be the same — the status and reason of
//! every response, what the application saw (its whole environ but the
//! client's port, and the body it read), the `Connection` header, and
//! whether the connection stayed open (a probe request sent behind the
//! case is answered, or not).
//!
//! The corpus test checks each answer against the manifest and the error
//! table; this one needs no expectations of its own, so it also sends the
//! cases the corpus test skips: whatever rwsgi makes of them, every engine
//! must make the same.
//!
//! What an engine does differently and cannot help is stated here, per
//! engine, as an expectation ([`status_line`], [`hyper_own_400`],
//! [`hyper_view`]); the README's backend table lists the same.

#![cfg(any(
    feature = "smol-backend",
    all(feature = "tokio-backend", feature = "async-std-backend")
))]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use common::corpus::{self, wire_bytes};
use common::raw::{Conn, get, post};
use common::{Combo, TestServer, combos};
use rwsgi::{Body, Config, Engine, Environ, StartResponse};

/// The status-line version an engine answers with — the one difference
/// that stays: hyper answers an HTTP/1.0 request in HTTP/1.0, async-h1
/// always in HTTP/1.1 (RFC 9110 §6.2 allows either). Refusals written below
/// the engine (by the IO policy, the error table's exact bytes, which carry
/// no `Date`) are HTTP/1.1 on every engine.
fn status_line(engine: Engine, request_version: &str, response: &common::raw::Response) -> &'static str {
    let below_the_engine = response.header("date").is_none();
    match engine {
        Engine::Hyper if request_version == "HTTP/1.0" && !below_the_engine => {
            HTTP10_STATUS_LINE.fetch_add(1, Ordering::Relaxed);
            "HTTP/1.0"
        }
        _ => "HTTP/1.1",
    }
}

/// hyper parses the target itself, as an `http::Uri`, and answers a target
/// it cannot parse (`foo/bar`, `s://]ufd/:`) with a 400 of its own: the
/// table's status, but an empty body where the table's answer (which the
/// other engines send, from the gateway) says `Bad Request`. Such a
/// response carries no `Server` header, which every answer rwsgi writes
/// has.
fn hyper_own_400(engine: Engine, response: &common::raw::Response) -> bool {
    let own = engine == Engine::Hyper
        && response.status == 400
        && response.header("server").is_none()
        && response.body.is_empty();
    if own {
        HYPER_OWN_400.fetch_add(1, Ordering::Relaxed);
    }
    own
}

/// How often each engine difference showed.
static HYPER_OWN_400: AtomicUsize = AtomicUsize::new(0);
static HTTP10_STATUS_LINE: AtomicUsize = AtomicUsize::new(0);
static HYPER_TARGET: AtomicUsize = AtomicUsize::new(0);

/// hyper reports the request target as `http::Uri` holds it: without a
/// `#fragment` (which RFC 9112 does not allow in a target; gunicorn and the
/// other engines keep it in `RAW_URI`), and an absolute-form target as
/// `http::Uri` writes it. `PATH_INFO` and `QUERY_STRING` are the same either
/// way. This is an outcome with `RAW_URI` as hyper would have reported it.
fn hyper_view(outcome: &Outcome) -> Outcome {
    let mut responses = outcome.responses.clone();
    for response in &mut responses {
        let Some(pairs) = response["seen"].get_mut("environ").and_then(Value::as_array_mut) else {
            continue;
        };
        for pair in pairs.iter_mut().filter(|p| p[0] == "RAW_URI") {
            let raw = pair[1].as_str().unwrap().to_owned();
            let bytes: Vec<u8> = raw.chars().map(|c| u32::from(c) as u8).collect();
            let Ok(uri) = http::Uri::try_from(bytes.as_slice()) else {
                continue;
            };
            let reported = match uri.path_and_query() {
                Some(pq) if uri.scheme().is_none() && uri.authority().is_none() => pq.as_str().to_owned(),
                _ => uri.to_string(),
            };
            if reported != raw {
                HYPER_TARGET.fetch_add(1, Ordering::Relaxed);
                pair[1] = json!(rwsgi::latin1::decode(reported.as_bytes()));
            }
        }
    }
    Outcome {
        responses,
        stayed_open: outcome.stayed_open,
    }
}

/// The application: answers with what it saw, as JSON.
fn recorder(environ: &mut Environ, start_response: &StartResponse) -> rwsgi::Result<Body> {
    let body = environ.input.read_all()?;
    let environ_pairs: Vec<(String, String)> = environ
        .to_pairs()
        .into_iter()
        // The client's port differs from connection to connection.
        .filter(|(key, _)| key != "REMOTE_PORT")
        .collect();
    let seen = json!({
        "environ": environ_pairs,
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

/// What came back for one delivery of a case, as comparable across
/// engines.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Per response: status and reason, `Connection`, and what the
    /// application saw (its JSON) or the body the server wrote.
    responses: Vec<Value>,
    /// The probe behind the case was answered: the connection stayed open.
    stayed_open: bool,
}

const PROBE: &[u8] = b"GET /probe HTTP/1.1\r\nHost: probe\r\n\r\n";

/// Sends `pieces`, then the probe, then closes the sending side, and reads
/// every response until the server closes. `versions[i]` is the version of
/// the i-th request (the probe's comes after them).
fn exchange(server: &TestServer, engine: Engine, pieces: &[Vec<u8>], versions: &[&str]) -> Outcome {
    let mut conn = Conn::connect(server.addr());
    let mut sent = true;
    for piece in pieces.iter().map(Vec::as_slice).chain([PROBE]) {
        // The server may answer and close before it has read everything.
        if sent {
            sent = conn.stream.write_all(piece).is_ok();
        }
    }
    let _ = conn.stream.shutdown(Shutdown::Write);
    let port = server.addr().port().to_string();
    let mut responses = Vec::new();
    let mut stayed_open = false;
    while let Some(response) = conn.response(false) {
        let version = versions.get(responses.len()).copied().unwrap_or("HTTP/1.1");
        assert_eq!(
            response.version,
            status_line(engine, version, &response),
            "status line of response {} to a {version} request: {response:?}",
            responses.len()
        );
        let mut seen =
            serde_json::from_slice::<Value>(&response.body).unwrap_or_else(|_| json!(response.body_text()));
        if hyper_own_400(engine, &response) {
            seen = json!("Bad Request\n");
        }
        // Without Host, SERVER_PORT is the listening socket's, which
        // differs from server to server.
        if let Some(pairs) = seen.get_mut("environ").and_then(Value::as_array_mut) {
            for pair in pairs {
                if pair[0] == "SERVER_PORT" && pair[1] == port.as_str() {
                    pair[1] = json!("(the listening port)");
                }
            }
        }
        stayed_open = seen["environ"]
            .as_array()
            .is_some_and(|pairs| pairs.iter().any(|p| p[0] == "RAW_URI" && p[1] == "/probe"));
        responses.push(json!({
            "status": response.status,
            "reason": response.reason,
            "connection": response.header("connection"),
            "seen": seen,
        }));
    }
    Outcome {
        responses,
        stayed_open,
    }
}

/// Servers by combination and configuration, started when first needed.
struct Servers {
    combos: Vec<Combo>,
    running: BTreeMap<(usize, String), TestServer>,
    differences: Vec<String>,
}

impl Servers {
    fn new() -> Self {
        Servers {
            combos: {
                let combos = combos();
                assert!(combos.len() >= 2, "nothing to compare");
                combos
            },
            running: BTreeMap::new(),
            differences: Vec::new(),
        }
    }

    /// Sends one delivery to every combination and records any difference.
    /// hyper's engines are compared with each other, the others (which
    /// report the target as sent) with each other, and the two groups
    /// through [`hyper_view`].
    fn compare(
        &mut self,
        what: &str,
        config: &dyn Fn(Engine) -> Config,
        pieces: &[Vec<u8>],
        versions: &[&str],
    ) {
        let mut hyper: Option<(&str, Outcome)> = None;
        let mut as_sent: Option<(&str, Outcome)> = None;
        for (i, combo) in self.combos.iter().enumerate() {
            let config = config(combo.engine);
            let key = format!("{config:?}");
            let server = self
                .running
                .entry((i, key))
                .or_insert_with(|| combo.start(config, recorder));
            let outcome = exchange(server, combo.engine, pieces, versions);
            let group = if combo.engine == Engine::Hyper {
                &mut hyper
            } else {
                &mut as_sent
            };
            match group {
                None => *group = Some((&combo.name, outcome)),
                Some((name, expected)) if outcome != *expected => self.differences.push(format!(
                    "{what}: {} differs from {name}\n  {}: {outcome:?}\n  {name}: {expected:?}",
                    combo.name, combo.name
                )),
                Some(_) => {}
            }
        }
        if let (Some((hyper_name, hyper)), Some((name, as_sent))) = (hyper, as_sent) {
            let seen_by_hyper = hyper_view(&as_sent);
            if seen_by_hyper != hyper {
                self.differences.push(format!(
                    "{what}: {name} differs from {hyper_name}\n  {name} (as hyper would report it): \
                     {seen_by_hyper:?}\n  {hyper_name}: {hyper:?}"
                ));
            }
        }
    }

    /// Fails with every difference found.
    fn finish(self) {
        assert!(
            self.differences.is_empty(),
            "{} difference(s):\n{}",
            self.differences.len(),
            self.differences.join("\n")
        );
        for server in self.running.values() {
            common::wait_until(common::DEADLINE, "every connection to close", || {
                server.handle.connections() == 0
            });
        }
    }
}

fn deliveries(wire: &[u8], seed: u64) -> [Vec<Vec<u8>>; 3] {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let len = rng.random_range(1..=(wire.len() - at).min(64));
        pieces.push(wire[at..at + len].to_vec());
        at += len;
    }
    [
        vec![wire.to_vec()],
        pieces,
        wire.iter().map(|&b| vec![b]).collect(),
    ]
}

/// The version on the first request line.
fn first_version(wire: &[u8]) -> &'static str {
    let line_end = wire.windows(2).position(|w| w == b"\r\n").unwrap_or(wire.len());
    if wire[..line_end].ends_with(b"HTTP/1.0") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    }
}

#[test]
fn every_engine_answers_the_corpus_alike() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus::dir().join("manifest.json"))
            .expect("the corpus is at ../shared/corpus/gunicorn-requests"),
    )
    .unwrap();
    let mut servers = Servers::new();
    let mut compared = 0;
    for (kind, seed) in [("valid", 0), ("invalid", 1000)] {
        for (n, case) in manifest[kind].as_array().unwrap().iter().enumerate() {
            let file = case["file"].as_str().unwrap();
            let wire = wire_bytes(file);
            let versions: Vec<&str> = match case["requests"].as_array() {
                Some(requests) => requests.iter().map(|r| r["version"].as_str().unwrap()).collect(),
                None => vec![first_version(&wire)],
            };
            let settings = &case["config"];
            for (d, pieces) in deliveries(&wire, seed + n as u64).iter().enumerate() {
                let what = format!("{file} (delivery {d})");
                servers.compare(
                    &what,
                    &|engine| corpus::config(settings, engine, |_| {}),
                    pieces,
                    &versions,
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 3 * (63 + 74));
    // The engine differences above are real, not stale: each showed.
    assert!(
        HYPER_OWN_400.load(Ordering::Relaxed) > 0,
        "no target hyper refuses itself"
    );
    assert!(
        HTTP10_STATUS_LINE.load(Ordering::Relaxed) > 0,
        "no HTTP/1.0 answer from hyper"
    );
    servers.finish();
}

/// The cases of the suite's `limits_answer_per_the_table`, with its
/// configuration.
#[test]
fn every_engine_answers_the_limit_cases_alike() {
    let config = |engine| {
        let mut config = common::config(engine);
        config.limit_request_line = 100;
        config.limit_request_fields = 5;
        config.limit_request_field_size = 200;
        config.limit_request_head = 800;
        config.limit_request_body = Some(1000);
        config
    };
    let many_fields: String = (0..6).map(|i| format!("X-F{i}: v\r\n")).collect();
    let head_fields: String = (0..5)
        .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(190)))
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("request line", get(&format!("/{}", "a".repeat(120)))),
        (
            "field count",
            format!("GET / HTTP/1.1\r\n{many_fields}\r\n").into_bytes(),
        ),
        (
            "field size",
            format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "v".repeat(300)).into_bytes(),
        ),
        (
            "head size",
            format!("GET / HTTP/1.1\r\n{head_fields}\r\n").into_bytes(),
        ),
        ("body size", post("/echo", &[b'x'; 1001])),
        ("version", b"GET / HTTP/2.0\r\n\r\n".to_vec()),
        ("bad version", b"GET / HTTP/1.x\r\n\r\n".to_vec()),
        (
            "CL and TE",
            b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "unknown coding",
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: zstd, chunked\r\n\r\n0\r\n\r\n".to_vec(),
        ),
        ("bare LF", b"GET /hello HTTP/1.1\r\nA: b\nC: d\r\n\r\n".to_vec()),
        ("obs-fold", b"GET /hello HTTP/1.1\r\nA: b\r\n c\r\n\r\n".to_vec()),
        (
            "bad chunk",
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ),
        ("lower-case method", b"get /hello HTTP/1.1\r\n\r\n".to_vec()),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
        ),
    ];
    let mut servers = Servers::new();
    for (n, (what, request)) in cases.iter().enumerate() {
        for (d, pieces) in deliveries(request, 2000 + n as u64).iter().enumerate() {
            servers.compare(&format!("{what} (delivery {d})"), &config, pieces, &["HTTP/1.1"]);
        }
    }
    servers.finish();
}
