//! TLS on every backend × engine compiled in: real clients (reqwest with
//! rustls, and curl where it is installed) against certificates made in
//! the test; mutual TLS accepted and refused; the handshake timeout; plain
//! HTTP on a TLS port, and TLS on a plain one; certificates reloaded
//! without dropping a connection; the binary's flags and its errors.

#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::nginx::TempDir;
use common::tls::{Ca, client};
use common::{ChildServer, DEADLINE, TestServer, wait_until};
use rwsgi::tls::{ClientAuth, TlsConfig};
use rwsgi::{Body, Config, Engine, Environ, StartResponse};

/// The scheme and HTTPS variable the application saw, and the body it
/// read: `SCHEME HTTPS BYTES`.
fn app(environ: &mut Environ, sr: &StartResponse) -> rwsgi::Result<Body> {
    let body = environ.input.read_all()?;
    let https = environ
        .get("HTTPS")
        .map(|v| v.into_owned())
        .unwrap_or_else(|| "-".into());
    sr.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!(
        "{} {https} {}",
        environ.url_scheme,
        body.len()
    )))
}

fn tls_config(engine: Engine, tls: TlsConfig) -> Config {
    let mut config = common::config(engine);
    config.tls = Some(tls);
    config
}

/// Runs `check` against a server of every backend × engine.
fn each_combo(config: impl Fn(Engine) -> Config, check: impl Fn(&str, &TestServer)) {
    for combo in common::combos() {
        let server = combo.start(config(combo.engine), app);
        check(&combo.name, &server);
    }
}

fn https_url(server: &TestServer, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", server.addr().port())
}

#[test]
fn https_on_every_backend_and_engine() {
    let dir = TempDir::new("tls-every");
    let ca = Ca::new(&dir, "every");
    let leaf = ca.server(&dir, "server");
    let http = client(&ca, None);
    each_combo(
        |engine| tls_config(engine, TlsConfig::new(&leaf.cert_file, &leaf.key_file)),
        |name, server| {
            // Two requests, the second on the same kept-alive TLS session,
            // one with a body larger than a TLS record.
            for body in [Vec::new(), vec![7u8; 100_000]] {
                let response = http
                    .post(https_url(server, "/"))
                    .body(body.clone())
                    .send()
                    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(response.status(), 200, "{name}");
                assert_eq!(
                    response.text().unwrap(),
                    format!("https on {}", body.len()),
                    "{name}"
                );
            }
            if let Some(out) = curl(&["--cacert", ca.file.to_str().unwrap(), &https_url(server, "/curl")]) {
                assert_eq!(out, "https on 0", "{name}: curl");
            }
        },
    );
}

/// curl's body for `args`, or `None` (said once) where curl is missing.
fn curl(args: &[&str]) -> Option<String> {
    match std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "curl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(_) => {
            eprintln!("curl is not installed: the reqwest checks stand alone");
            None
        }
    }
}

#[test]
fn mutual_tls_is_accepted_and_refused() {
    let dir = TempDir::new("tls-mutual");
    let ca = Ca::new(&dir, "mutual");
    let leaf = ca.server(&dir, "server");
    let member = ca.issue(&dir, "member", &["member.test"]);
    let outsider_ca = Ca::new(&dir, "outsider");
    let outsider = outsider_ca.issue(&dir, "outsider", &["outsider.test"]);
    for (auth, anonymous_ok) in [(ClientAuth::Required, false), (ClientAuth::Optional, true)] {
        each_combo(
            |engine| {
                let mut tls = TlsConfig::new(&leaf.cert_file, &leaf.key_file);
                tls.client_ca_file = Some(ca.file.clone());
                tls.client_auth = auth;
                tls_config(engine, tls)
            },
            |name, server| {
                let get = |identity| client(&ca, identity).get(https_url(server, "/")).send();
                let ok = get(Some(&member))
                    .unwrap_or_else(|e| panic!("{name} {auth:?}: a member is refused: {e:?}"));
                assert_eq!(ok.status(), 200);
                assert!(
                    get(Some(&outsider)).is_err(),
                    "{name} {auth:?}: a stranger's certificate is accepted"
                );
                assert_eq!(get(None).is_ok(), anonymous_ok, "{name} {auth:?}: no certificate");
            },
        );
    }
}

#[test]
fn a_silent_client_is_cut_after_the_handshake_timeout() {
    let dir = TempDir::new("tls-timeout");
    let ca = Ca::new(&dir, "timeout");
    let leaf = ca.server(&dir, "server");
    each_combo(
        |engine| {
            let mut tls = TlsConfig::new(&leaf.cert_file, &leaf.key_file);
            tls.handshake_timeout = Duration::from_millis(500);
            tls_config(engine, tls)
        },
        |name, server| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            let connected = Instant::now();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            let waited = connected.elapsed();
            assert!(
                waited >= Duration::from_millis(500),
                "{name}: cut after {waited:?}"
            );
            assert!(waited < DEADLINE, "{name}: never cut");
            wait_until(DEADLINE, "the connection to be counted closed", || {
                server.handle.connections() == 0
            });
        },
    );
}

#[test]
fn plain_http_on_a_tls_port_is_closed_and_tls_on_a_plain_port_gets_400() {
    let dir = TempDir::new("tls-plain");
    let ca = Ca::new(&dir, "plain");
    let leaf = ca.server(&dir, "server");
    each_combo(
        |engine| tls_config(engine, TlsConfig::new(&leaf.cert_file, &leaf.key_file)),
        |name, server| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = Vec::new();
            // A clean close ends the read; a reset would be an error.
            let read = stream.read_to_end(&mut answer);
            assert!(read.is_ok(), "{name}: {read:?}");
            assert!(!answer.starts_with(b"HTTP/"), "{name}: answered in plain HTTP");
            // The listener still serves TLS.
            let ok = client(&ca, None).get(https_url(server, "/")).send().unwrap();
            assert_eq!(ok.status(), 200, "{name}");
        },
    );
    each_combo(common::config, |name, server| {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // The first bytes of a TLS ClientHello.
        stream
            .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(
            answer.starts_with(b"HTTP/1.1 400 "),
            "{name}: {:?}",
            String::from_utf8_lossy(&answer)
        );
    });
}

#[test]
fn a_reload_swaps_the_certificate_and_keeps_open_connections() {
    let dir = TempDir::new("tls-reload");
    let old_ca = Ca::new(&dir, "old");
    let new_ca = Ca::new(&dir, "new");
    let leaf = old_ca.server(&dir, "server");
    each_combo(
        |engine| tls_config(engine, TlsConfig::new(&leaf.cert_file, &leaf.key_file)),
        |name, server| {
            // A session opened before the reload, kept alive across it.
            let before = client(&old_ca, None);
            assert_eq!(before.get(https_url(server, "/")).send().unwrap().status(), 200);
            let fresh = new_ca.server(&dir, "fresh");
            std::fs::copy(&fresh.cert_file, &leaf.cert_file).unwrap();
            std::fs::copy(&fresh.key_file, &leaf.key_file).unwrap();
            server.handle.reload();
            wait_until(DEADLINE, "new handshakes to use the new certificate", || {
                client(&new_ca, None).get(https_url(server, "/")).send().is_ok()
            });
            assert!(
                before
                    .get(https_url(server, "/"))
                    .send()
                    .is_ok_and(|r| r.status() == 200),
                "{name}: the connection opened before the reload was dropped"
            );
            // Back to the old pair for the next backend.
            let again = old_ca.server(&dir, "again");
            std::fs::copy(&again.cert_file, &leaf.cert_file).unwrap();
            std::fs::copy(&again.key_file, &leaf.key_file).unwrap();
        },
    );
}

/// The listeners a command line of [`COMMAND_LINES`] has, in the order of
/// its `listening on` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listeners {
    /// A TLS listener, then a plain one (`https` first where the form
    /// allows).
    TlsThenPlain,
    /// One TLS listener: the form makes every socket of its server speak
    /// TLS (tornado's `ssl_options`, gevent's `keyfile=`/`certfile=`), and
    /// its command line serves one server.
    TlsOnly,
}

/// Each command line's own TLS flags, with `{cert}` and `{key}` for the
/// files, and the listeners it has.
const COMMAND_LINES: &[(&str, Listeners, &[&str])] = &[
    (
        "rwsgi (gunicorn's flags, https:// binds)",
        Listeners::TlsThenPlain,
        &[
            "--bind",
            "https://127.0.0.1:0",
            "--bind",
            "127.0.0.1:0",
            "--certfile",
            "{cert}",
            "--keyfile",
            "{key}",
            "demo:environ",
        ],
    ),
    (
        "rwsgi twistd (ssl: strports)",
        Listeners::TlsThenPlain,
        &[
            "twistd",
            "-n",
            "--pidfile",
            "",
            "web",
            "--wsgi",
            "demo.environ",
            "--listen",
            "ssl:port=0:privateKey={key}:certKey={cert}:interface=127.0.0.1",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    ),
    (
        "rwsgi uwsgi (--https ADDR,CERT,KEY)",
        Listeners::TlsThenPlain,
        &[
            "uwsgi",
            "--https",
            "127.0.0.1:0,{cert},{key}",
            "--http-socket",
            "127.0.0.1:0",
            "--module",
            "demo:environ",
        ],
    ),
    (
        "rwsgi tornado (ssl_options as --certfile/--keyfile)",
        Listeners::TlsOnly,
        &[
            "tornado",
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--certfile",
            "{cert}",
            "--keyfile",
            "{key}",
            "demo:environ",
        ],
    ),
    (
        "rwsgi gevent (keyfile=/certfile= as --keyfile/--certfile)",
        Listeners::TlsOnly,
        &[
            "gevent",
            "--bind",
            "127.0.0.1:0",
            "--keyfile",
            "{key}",
            "--certfile",
            "{cert}",
            "--no-log",
            "demo:environ",
        ],
    ),
];

/// Whether plain HTTP sent to `addr` is answered in plain HTTP (it is not
/// on a TLS listener: the server waits for a ClientHello and closes).
fn answers_plain_http(addr: &str) -> bool {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/")
}

fn environ_over(client: &reqwest::blocking::Client, url: String) -> serde_json::Value {
    client
        .get(&url)
        .send()
        .and_then(|r| r.bytes())
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_else(|e| panic!("{url}: {e:?}"))
}

#[test]
fn every_command_line_takes_its_own_tls_flags() {
    let dir = TempDir::new("tls-binary");
    let ca = Ca::new(&dir, "binary");
    let leaf = ca.server(&dir, "server");
    let (cert, key) = (leaf.cert_file.to_str().unwrap(), leaf.key_file.to_str().unwrap());
    for (name, listeners, args) in COMMAND_LINES {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{cert}", cert).replace("{key}", key))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = ChildServer::start(&args);
        let expected = match listeners {
            Listeners::TlsThenPlain => 2,
            Listeners::TlsOnly => 1,
        };
        assert_eq!(server.addrs.len(), expected, "{name}: {:?}", server.addrs);
        let secure = environ_over(&client(&ca, None), format!("https://{}/", server.addrs[0]));
        assert_eq!(secure["wsgi.url_scheme"], "https", "{name}");
        assert_eq!(secure["HTTPS"], "on", "{name}");
        if let Some(out) = curl(&[
            "--cacert",
            ca.file.to_str().unwrap(),
            &format!("https://{}/", server.addrs[0]),
        ]) {
            let seen: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(seen["wsgi.url_scheme"], "https", "{name}: curl");
        }
        match listeners {
            Listeners::TlsThenPlain => {
                let plain = environ_over(
                    &reqwest::blocking::Client::new(),
                    format!("http://{}/", server.addrs[1]),
                );
                assert_eq!(plain["wsgi.url_scheme"], "http", "{name}");
                assert!(plain.get("HTTPS").is_none(), "{name}");
            }
            Listeners::TlsOnly => assert!(
                !answers_plain_http(&server.addrs[0]),
                "{name}: the TLS listener answers plain HTTP"
            ),
        }
    }
}

#[test]
fn bad_tls_settings_are_refused_at_start_naming_the_file() {
    let dir = TempDir::new("tls-refused");
    let ca = Ca::new(&dir, "refused");
    let leaf = ca.server(&dir, "server");
    let other = ca.server(&dir, "other");
    let missing = dir.path("missing.pem");
    let run = |args: &[&str]| {
        let out = common::output_within_deadline(
            std::process::Command::new(env!("CARGO_BIN_EXE_rwsgi"))
                .args(["--bind", "127.0.0.1:0"])
                .args(args),
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    for (args, file) in [
        (
            vec![
                "--certfile".into(),
                s(&missing),
                "--keyfile".into(),
                s(&leaf.key_file),
            ],
            s(&missing),
        ),
        (
            vec![
                "--certfile".into(),
                s(&leaf.cert_file),
                "--keyfile".into(),
                s(&other.key_file),
            ],
            s(&other.key_file),
        ),
        (
            vec![
                "--certfile".into(),
                s(&leaf.key_file),
                "--keyfile".into(),
                s(&leaf.key_file),
            ],
            s(&leaf.key_file),
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&file),
            "{args:?}: the error does not name {file}: {stderr}"
        );
    }
    let (code, stderr) = run(&["--certfile", &s(&leaf.cert_file)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--keyfile"), "{stderr}");
    let (code, stderr) = run(&["--bind", "https://127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("https://"), "{stderr}");
}

/// `rwsgi ARGS...` run to its exit (killed if it is still running after
/// [`DEADLINE`]): the exit code, standard output, standard error.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_rwsgi"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut status = None;
    wait_until(DEADLINE, &format!("rwsgi {args:?} to exit"), || {
        status = child.0.try_wait().unwrap();
        status.is_some()
    });
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut pipe) = child.0.stdout.take() {
        pipe.read_to_string(&mut stdout).unwrap();
    }
    if let Some(mut pipe) = child.0.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status.unwrap().code(), stdout, stderr)
}

/// tornado's and gevent's command lines refuse wrong TLS flags and files
/// before they bind: exit status 2, the file (or the missing flag) named
/// on standard error, and no `listening on` line.
#[test]
fn tornado_and_gevent_refuse_bad_tls_flags_at_start_naming_the_file() {
    let dir = TempDir::new("tls-refused-personalities");
    let ca = Ca::new(&dir, "refused");
    let leaf = ca.server(&dir, "server");
    let other = ca.server(&dir, "other");
    let missing = dir.path("missing-key.pem");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, String)> = vec![
        // A key file that is not there.
        (
            vec![
                "--certfile".into(),
                s(&leaf.cert_file),
                "--keyfile".into(),
                s(&missing),
            ],
            s(&missing),
        ),
        // A certificate file that is not there.
        (
            vec![
                "--certfile".into(),
                s(&missing),
                "--keyfile".into(),
                s(&leaf.key_file),
            ],
            s(&missing),
        ),
        // Another certificate's key.
        (
            vec![
                "--certfile".into(),
                s(&leaf.cert_file),
                "--keyfile".into(),
                s(&other.key_file),
            ],
            s(&other.key_file),
        ),
        // A certificate without its key, and the reverse.
        (vec!["--certfile".into(), s(&leaf.cert_file)], "--keyfile".into()),
        (vec!["--keyfile".into(), s(&leaf.key_file)], "--certfile".into()),
        // Client certificates asked for without a CA to check them.
        (
            vec![
                "--certfile".into(),
                s(&leaf.cert_file),
                "--keyfile".into(),
                s(&leaf.key_file),
                "--cert-reqs".into(),
                "2".into(),
            ],
            s(&leaf.cert_file),
        ),
    ];
    let personalities: [(&str, &[&str]); 2] = [
        ("tornado", &["tornado", "--port", "0", "--address", "127.0.0.1"]),
        ("gevent", &["gevent", "--bind", "127.0.0.1:0"]),
    ];
    for (personality, base) in personalities {
        for (tls_args, named) in &cases {
            let mut args: Vec<&str> = base.to_vec();
            args.extend(tls_args.iter().map(String::as_str));
            args.push("demo:environ");
            let (code, stdout, stderr) = run_to_exit(&args);
            assert_eq!(code, Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("rwsgi {personality}: error: ")) && stderr.contains(named.as_str()),
                "{args:?}: the error does not name {named}: {stderr}"
            );
            assert!(
                !stdout.contains("listening on"),
                "{args:?}: it bound before refusing: {stdout}"
            );
        }
    }
}

/// The command lines whose reload signal (HUP) re-reads the certificate,
/// with `{cert}` and `{key}`; their first listener speaks TLS.
const RELOADED_BY_HUP: &[(&str, &[&str])] = &[
    (
        "rwsgi (HUP: in place, connections kept)",
        &[
            "--bind",
            "https://127.0.0.1:0",
            "--certfile",
            "{cert}",
            "--keyfile",
            "{key}",
            "demo:environ",
        ],
    ),
    (
        "rwsgi uwsgi (HUP: a graceful reload)",
        &[
            "uwsgi",
            "--https",
            "127.0.0.1:0,{cert},{key}",
            "--module",
            "demo:environ",
        ],
    ),
];

#[test]
fn hup_reloads_the_certificate() {
    let dir = TempDir::new("tls-hup");
    let old_ca = Ca::new(&dir, "old");
    let new_ca = Ca::new(&dir, "new");
    for (name, args) in RELOADED_BY_HUP {
        let leaf = old_ca.server(&dir, "server");
        let (cert, key) = (leaf.cert_file.to_str().unwrap(), leaf.key_file.to_str().unwrap());
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{cert}", cert).replace("{key}", key))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = ChildServer::start(&args);
        let url = format!("https://{}/", server.addrs[0]);
        assert_eq!(
            environ_over(&client(&old_ca, None), url.clone())["HTTPS"],
            "on",
            "{name}"
        );
        let fresh = new_ca.server(&dir, "fresh");
        std::fs::copy(&fresh.cert_file, &leaf.cert_file).unwrap();
        std::fs::copy(&fresh.key_file, &leaf.key_file).unwrap();
        let hup = std::process::Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        wait_until(DEADLINE, &format!("{name}: the new certificate"), || {
            client(&new_ca, None).get(&url).send().is_ok()
        });
    }
}
