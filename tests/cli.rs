//! The bare `rwsgi` binary's command line, as a process: options that
//! change what a connection carries before its request.

mod common;

use common::ChildServer;
use common::raw::Conn;
use serde_json::Value;

/// `demo:environ` behind `--proxy-protocol` with these extra options, on
/// every backend × engine: what a PROXY v1 header from 203.0.113.7 gets
/// (`None`: the connection closed without an answer).
fn proxied(extra: &[&str]) -> Vec<(String, Option<Value>)> {
    let combos = common::combos();
    assert!(!combos.is_empty(), "no backend compiled in");
    combos
        .iter()
        .map(|combo| {
            let (backend, engine) = combo.name.split_once('/').unwrap();
            let mut args = vec![
                "--bind",
                "127.0.0.1:0",
                "--backend",
                backend,
                "--engine",
                engine,
                "--proxy-protocol",
            ];
            args.extend(extra);
            args.push("demo:environ");
            let server = ChildServer::start(&args);
            let mut conn = Conn::connect(server.addr());
            conn.send(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 8000\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
            let environ = conn.response(false).map(|response| {
                assert_eq!(response.status, 200, "{}", combo.name);
                serde_json::from_str(&response.body_text()).unwrap()
            });
            (combo.name.clone(), environ)
        })
        .collect()
}

#[test]
fn proxy_protocol_gives_the_client_address() {
    for (name, environ) in proxied(&[]) {
        let environ = environ.unwrap_or_else(|| panic!("{name}: no answer"));
        assert_eq!(environ["REMOTE_ADDR"], "203.0.113.7", "{name}");
        assert_eq!(environ["REMOTE_PORT"], "5555", "{name}");
        assert_eq!(
            environ["rwsgi.proxy_peer"], "127.0.0.1",
            "{name}: the proxy itself"
        );
    }
}

/// A required header (HAProxy's rule) from a peer not allowed to send one:
/// closed unanswered, as a malformed one is.
#[test]
fn proxy_protocol_from_a_peer_not_allowed_is_closed() {
    for (name, environ) in proxied(&["--proxy-allow-from", "10.0.0.1"]) {
        assert!(environ.is_none(), "{name}: answered {environ:?}");
    }
}

#[test]
fn proxy_allow_from_needs_proxy_protocol() {
    let output =
        common::output_within_deadline(std::process::Command::new(env!("CARGO_BIN_EXE_rwsgi")).args([
            "--proxy-allow-from",
            "10.0.0.1",
            "demo:hello",
        ]));
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--proxy-protocol"), "{said}");
}
