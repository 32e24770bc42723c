//! rwsgi behind a real nginx, the way it is deployed: nginx terminates the
//! client connection and forwards with the usual proxy headers, rwsgi runs
//! `ProxyFix(x_for=1, x_proto=1, x_host=1)`. Then scale-out: three rwsgi
//! instances, on three backends, as one nginx `upstream`, one of them
//! stopped and restarted under load, and no request lost.
//!
//! The servers are child processes (`rwsgi` and `nginx`); the client
//! connects from 127.0.0.2 so that its address differs from nginx's.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::nginx::{self, Nginx, TempDir};
use common::raw::{Conn, Response};
use common::{ChildServer, DEADLINE, wait_until};

/// The client's address: loopback, but not nginx's 127.0.0.1.
const CLIENT: [u8; 4] = [127, 0, 0, 2];

/// A connection to nginx from [`CLIENT`].
fn connect(port: u16) -> Conn {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((CLIENT, 0)).into()).unwrap();
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let stream = TcpStream::from(socket);
    stream.set_nodelay(true).unwrap();
    Conn::new(stream)
}

/// The proxy headers of a typical nginx site, `X-Forwarded-Host` included
/// because `x_host=1` trusts it (without it, a client's own
/// `X-Forwarded-Host` would pass through nginx and be believed).
const PROXY_HEADERS: &str = "proxy_set_header Host $host;\n\
     proxy_set_header X-Real-IP $remote_addr;\n\
     proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
     proxy_set_header X-Forwarded-Proto $scheme;\n\
     proxy_set_header X-Forwarded-Host $host;\n";

fn environ_of(response: &Response) -> BTreeMap<String, String> {
    assert_eq!(response.status, 200, "{}", response.body_text());
    serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}: {}", response.body_text()))
}

/// `demo:environ` behind ProxyFix, on `bind`, with the backend and engine
/// given.
fn environ_server(bind: &str, backend: &str, engine: &str) -> ChildServer {
    ChildServer::start(&[
        "--bind",
        bind,
        "--backend",
        backend,
        "--engine",
        engine,
        "--x-for",
        "1",
        "--x-proto",
        "1",
        "--x-host",
        "1",
        "demo:environ",
    ])
}

#[test]
fn proxy_fix_behind_nginx_sees_the_client_on_every_backend_and_over_a_unix_socket() {
    let Some(binary) = nginx::binary("nginx.rs") else {
        return;
    };
    let dir = TempDir::new("nginx-proxy-fix");
    let combos = rwsgi::cli::combinations();
    let servers: Vec<(String, ChildServer)> = combos
        .iter()
        .map(|(backend, engine)| {
            let name = format!("{backend}-{engine}");
            (name, environ_server("127.0.0.1:0", backend, &engine.to_string()))
        })
        .collect();
    let socket = dir.path("app.sock");
    let unix = environ_server(&format!("unix:{}", socket.display()), "tokio", "hyper");
    let mut locations = String::new();
    for (name, server) in &servers {
        locations += &format!(
            "location /{name}/ {{ proxy_pass http://{}/; {PROXY_HEADERS} }}\n",
            server.addr()
        );
    }
    locations += &format!(
        "location /unix/ {{ proxy_pass http://unix:{}:/; {PROXY_HEADERS} }}\n",
        socket.display()
    );
    // nginx terminating TLS would set X-Forwarded-Proto from $scheme; this
    // location stands in for it until nginx in front speaks TLS.
    locations += &format!(
        "location /terminated/ {{ proxy_pass http://{}/; {PROXY_HEADERS} proxy_set_header X-Forwarded-Proto https; }}\n",
        servers[0].1.addr()
    );
    let nginx = Nginx::start(&binary, &dir.0, |port| {
        format!("server {{\n listen 127.0.0.1:{port};\n {locations}\n}}")
    });

    let paths = servers
        .iter()
        .map(|(name, _)| name.as_str())
        .chain(["unix", "terminated"]);
    for name in paths {
        let mut conn = connect(nginx.port);
        // A forged X-Forwarded-For and X-Forwarded-Host, as a client would send.
        conn.send(
            format!(
                "GET /{name}/x?y=1 HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 6.6.6.6\r\n\
                 X-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        let response = conn
            .response(false)
            .unwrap_or_else(|| panic!("/{name}: no response\n{}", nginx.log()));
        let environ = environ_of(&response);
        let at = |key: &str| environ.get(key).map(String::as_str).unwrap_or_default();
        assert_eq!(at("REMOTE_ADDR"), "127.0.0.2", "/{name}");
        assert_eq!(
            at("HTTP_X_FORWARDED_FOR"),
            "6.6.6.6, 127.0.0.2",
            "/{name}: the forgery is kept to the left"
        );
        assert_eq!(at("HTTP_HOST"), "app.example", "/{name}");
        assert_eq!(at("SERVER_NAME"), "app.example", "/{name}");
        assert_eq!(at("PATH_INFO"), "/x", "/{name}");
        assert_eq!(at("QUERY_STRING"), "y=1", "/{name}");
        let scheme = if name == "terminated" { "https" } else { "http" };
        assert_eq!(at("wsgi.url_scheme"), scheme, "/{name}");
        // What the connection said, kept by ProxyFix (a Python dict's repr).
        let orig = at("werkzeug.proxy_fix.orig");
        if name == "unix" {
            assert_eq!(at("REMOTE_PORT"), "", "/unix: a unix peer has no port");
        } else {
            assert!(
                orig.contains("'REMOTE_ADDR': '127.0.0.1'"),
                "/{name}: nginx's address, before ProxyFix: {orig}"
            );
        }
    }
    drop(unix);
}

/// Requests made by the load, and how each ended.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: Mutex<Vec<String>>,
    by_pid: Mutex<BTreeMap<String, usize>>,
}

impl Tally {
    fn record(&self, response: Option<Response>) {
        match response {
            Some(r) if r.status == 200 => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                *self
                    .by_pid
                    .lock()
                    .unwrap()
                    .entry(r.body_text().trim().to_owned())
                    .or_default() += 1;
            }
            Some(r) => self
                .failed
                .lock()
                .unwrap()
                .push(format!("{} {}", r.status, r.body_text())),
            None => self
                .failed
                .lock()
                .unwrap()
                .push("nginx closed the connection".into()),
        }
    }

    fn served_by(&self, pid: u32) -> usize {
        self.by_pid
            .lock()
            .unwrap()
            .get(&format!("pid {pid}"))
            .copied()
            .unwrap_or(0)
    }
}

#[test]
fn three_instances_behind_one_upstream_lose_nothing_when_one_restarts() {
    const REQUESTS: usize = 20_000;
    const CLIENTS: usize = 8;
    let Some(binary) = nginx::binary("nginx.rs") else {
        return;
    };
    let dir = TempDir::new("nginx-scale-out");
    let start = |bind: &str, backend: &str, engine: &str| {
        ChildServer::start(&[
            "--bind",
            bind,
            "--backend",
            backend,
            "--engine",
            engine,
            "demo:pid",
        ])
    };
    let available: Vec<&str> = rwsgi::cli::combinations().iter().map(|(b, _)| *b).collect();
    let pick = |wanted: &'static str| {
        if available.contains(&wanted) {
            wanted
        } else {
            available[0]
        }
    };
    let kinds = [
        (pick("tokio"), "hyper"),
        (pick("smol"), "h1"),
        (pick("async-std"), "h1"),
    ];
    let mut instances: Vec<ChildServer> = kinds
        .iter()
        .map(|(b, e)| start(&format!("127.0.0.1:{}", nginx::stable_port()), b, e))
        .collect();
    // A failed attempt passes the request to the next server (GET is
    // idempotent; nginx retries nothing else), and a server that failed
    // is tried again after a second.
    let upstream: String = instances
        .iter()
        .map(|s| format!("server {} max_fails=1 fail_timeout=1s;\n", s.addr()))
        .collect();
    let nginx = Nginx::start(&binary, &dir.0, |port| {
        format!(
            "upstream rwsgi {{\n{upstream} keepalive 32;\n}}\n\
             server {{\n listen 127.0.0.1:{port} backlog=1024;\n keepalive_requests 1000000;\n\
             location / {{\n  proxy_pass http://rwsgi;\n  proxy_http_version 1.1;\n  proxy_set_header Connection \"\";\n\
               proxy_next_upstream error timeout http_502 http_503;\n  proxy_next_upstream_tries 0;\n }}\n}}"
        )
    });

    let tally = Arc::new(Tally::default());
    let restarted = Arc::new(AtomicBool::new(false));
    let victim_pid = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let tally = Arc::clone(&tally);
            let restarted = Arc::clone(&restarted);
            let victim_pid = Arc::clone(&victim_pid);
            let port = nginx.port;
            std::thread::spawn(move || {
                let mut conn = connect(port);
                // At least REQUESTS in all, and on until the restarted
                // instance has answered its share, within the deadline.
                let deadline = std::time::Instant::now() + 3 * DEADLINE;
                loop {
                    let done = tally.ok.load(Ordering::Relaxed) + tally.failed.lock().unwrap().len();
                    let back = restarted.load(Ordering::Relaxed)
                        && tally.served_by(victim_pid.load(Ordering::Relaxed) as u32) >= 100;
                    if (done >= REQUESTS && back) || std::time::Instant::now() > deadline {
                        break;
                    }
                    conn.send(b"GET /pid HTTP/1.1\r\nHost: app.example\r\n\r\n");
                    let response = conn.response(false);
                    let closed = response
                        .as_ref()
                        .is_none_or(|r| r.header("connection") == Some("close"));
                    tally.record(response);
                    if closed {
                        conn = connect(port);
                    }
                }
            })
        })
        .collect();

    // Every instance takes part, then the second is stopped (SIGTERM:
    // graceful) a quarter of the way in, and started again on its port.
    wait_until(DEADLINE, "every instance to serve", || {
        instances.iter().all(|s| tally.served_by(s.child.id()) > 0)
    });
    wait_until(DEADLINE, "a quarter of the load", || {
        tally.ok.load(Ordering::Relaxed) >= REQUESTS / 4
    });
    let addr = instances[1].addr().to_string();
    let status = instances[1].signal_and_wait(15);
    assert!(status.success(), "the stopped instance exits cleanly: {status}");
    let (backend, engine) = kinds[1];
    instances[1] = start(&addr, backend, engine);
    victim_pid.store(instances[1].child.id() as usize, Ordering::Relaxed);
    restarted.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }

    let failed = tally.failed.lock().unwrap();
    let ok = tally.ok.load(Ordering::Relaxed);
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}\nnginx:\n{}",
        failed.len(),
        ok + failed.len(),
        &failed[..failed.len().min(5)],
        nginx.log()
    );
    assert!(ok >= REQUESTS, "only {ok} requests were made in time");
    let rejoined = tally.served_by(instances[1].child.id());
    let by_pid = tally.by_pid.lock().unwrap();
    assert!(
        rejoined >= 100,
        "the restarted instance rejoined the upstream: {by_pid:?}"
    );
    eprintln!("scale-out: {ok} requests, 0 failed; per instance: {by_pid:?}");
}
