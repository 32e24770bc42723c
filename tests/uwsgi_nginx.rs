//! A real peer: nginx in front of `rwsgi uwsgi`, with `uwsgi_pass` to its
//! `--socket` (TCP and unix) and `proxy_pass` to its `--http-socket`.
//!
//! nginx is never installed by this test. Where `nginx` is on PATH (or in
//! /usr/sbin), it starts one on loopback with its own prefix and
//! configuration in a temp directory, `daemon off`, `-e stderr`, so it
//! never meets a system nginx on port 80. Where it is missing the test says
//! so on standard error — and fails under `CI=true`, where `.ci/run`
//! installs it.

#![cfg(feature = "uwsgi")]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// The nginx binary, if there is one.
fn nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/nginx/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// nginx when present; a clear message (and, on CI, a failure) when not.
fn nginx_or_skip() -> Option<PathBuf> {
    let found = nginx();
    if found.is_none() {
        let message = "nginx is not installed (not on PATH, nor in /usr/sbin): the real-peer test \
                       with nginx's uwsgi_pass and proxy_pass did NOT run. Install it (Debian: \
                       apt-get install nginx-light) to run it; .ci/run does.";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and {message}"
        );
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// Output lines of a child, collected as they come.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(&self, stream: impl Read + Send + 'static) {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                lines.0.lock().unwrap().push(line);
            }
        });
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }

    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.0.lock().unwrap().iter().find(|l| pred(l)) {
                return line.clone();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A child process, interrupted (then killed) when dropped.
struct Proc {
    child: Child,
    lines: Lines,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(program: &Path, args: &[&str]) -> Proc {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
    let lines = Lines::default();
    lines.collect(child.stdout.take().unwrap());
    lines.collect(child.stderr.take().unwrap());
    Proc { child, lines }
}

/// `rwsgi uwsgi` serving `app` on a TCP uwsgi socket, a unix uwsgi socket
/// and an HTTP socket: (process, uwsgi address, http address).
fn rwsgi(app: &str, unix: &Path, extra: &[&str]) -> (Proc, String, String) {
    let mut args = vec![
        "uwsgi",
        "--socket",
        "127.0.0.1:0",
        "--socket",
        unix.to_str().unwrap(),
        "--chmod-socket=666",
        "--http-socket",
        "127.0.0.1:0",
        "--module",
        app,
        "--master",
        "--processes",
        "2",
        "--threads",
        "4",
    ];
    args.extend_from_slice(extra);
    let server = spawn(Path::new(env!("CARGO_BIN_EXE_rwsgi")), &args);
    server
        .lines
        .wait("rwsgi to serve", |l| l.starts_with("rwsgi: serving "));
    let text = server.lines.text();
    let find = |scheme: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("rwsgi: listening on {scheme}://")))
            .unwrap()
            .to_owned()
    };
    let (uwsgi, http) = (find("uwsgi"), find("http"));
    (server, uwsgi, http)
}

/// A free loopback port (there is a window before nginx binds it; a
/// failed start is retried).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uwsgi parameters Debian's nginx ships (`/etc/nginx/uwsgi_params`),
/// written out so that the test does not depend on the system's copy.
const UWSGI_PARAMS: &str = "\
uwsgi_param  QUERY_STRING       $query_string;
uwsgi_param  REQUEST_METHOD     $request_method;
uwsgi_param  CONTENT_TYPE       $content_type;
uwsgi_param  CONTENT_LENGTH     $content_length;
uwsgi_param  REQUEST_URI        $request_uri;
uwsgi_param  PATH_INFO          $document_uri;
uwsgi_param  DOCUMENT_ROOT      $document_root;
uwsgi_param  SERVER_PROTOCOL    $server_protocol;
uwsgi_param  REQUEST_SCHEME     $scheme;
uwsgi_param  HTTPS              $https if_not_empty;
uwsgi_param  REMOTE_ADDR        $remote_addr;
uwsgi_param  REMOTE_PORT        $remote_port;
uwsgi_param  SERVER_PORT        $server_port;
uwsgi_param  SERVER_NAME        $server_name;
uwsgi_param  HTTP_HOST          $host;
";

struct Upstreams<'a> {
    environ_uwsgi: &'a str,
    environ_unix: &'a Path,
    environ_http: &'a str,
    echo_uwsgi: &'a str,
    echo_http: &'a str,
    big_uwsgi: &'a str,
}

fn nginx_conf(dir: &Path, port: u16, up: &Upstreams<'_>) -> String {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let user = if root { "user root;\n" } else { "" };
    let d = dir.display();
    format!(
        "{user}worker_processes 1;\n\
         daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log stderr notice;\n\
         events {{ worker_connections 128; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/client_body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           client_max_body_size 10m;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             server_name rwsgi.test;\n\
             root {d}/www;\n\
             location /u/ {{ include {d}/uwsgi_params; uwsgi_pass {}; }}\n\
             location /unix/ {{ include {d}/uwsgi_params; uwsgi_pass unix:{}; }}\n\
             location /mounted/ {{ include {d}/uwsgi_params; uwsgi_param SCRIPT_NAME /mounted; uwsgi_modifier1 30; uwsgi_pass {}; }}\n\
             location /echo-u/ {{ include {d}/uwsgi_params; uwsgi_pass {}; }}\n\
             location /big-u/ {{ include {d}/uwsgi_params; uwsgi_pass {}; }}\n\
             location /h/ {{ proxy_pass http://{}; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }}\n\
             location /echo-h/ {{ proxy_pass http://{}; }}\n\
           }}\n\
         }}\n",
        up.environ_uwsgi,
        up.environ_unix.display(),
        up.environ_uwsgi,
        up.echo_uwsgi,
        up.big_uwsgi,
        up.environ_http,
        up.echo_http,
    )
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rwsgi-nginx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).unwrap();
    // nginx's workers (nobody, when not root) must reach the unix sockets.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Starts nginx; retries on a port taken in the meantime.
fn start_nginx(binary: &Path, dir: &Path, up: &Upstreams<'_>) -> (Proc, u16) {
    std::fs::write(dir.join("uwsgi_params"), UWSGI_PARAMS).unwrap();
    let prefix = format!("{}/", dir.display());
    let conf = dir.join("nginx.conf");
    for _ in 0..5 {
        let port = free_port();
        std::fs::write(&conf, nginx_conf(dir, port, up)).unwrap();
        let mut nginx = spawn(
            binary,
            &["-p", &prefix, "-c", conf.to_str().unwrap(), "-e", "stderr"],
        );
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (nginx, port);
            }
            if let Some(status) = nginx.child.try_wait().unwrap() {
                let log = nginx.lines.text();
                assert!(
                    log.contains("Address already in use"),
                    "nginx exited ({status}):\n{log}"
                );
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "nginx did not listen:\n{}",
                nginx.lines.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("nginx could not find a free port in 5 tries");
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&bytes[end + 2..end + 2 + size]);
        bytes = &bytes[end + 2 + size + 2..];
    }
    out
}

fn json(response: reqwest::blocking::Response) -> serde_json::Value {
    let bytes = response.bytes().unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

#[test]
fn nginx_uwsgi_pass_and_proxy_pass_serve_the_app() {
    let Some(binary) = nginx_or_skip() else { return };
    let dir = temp_dir();
    let (environ, environ_uwsgi, environ_http) = rwsgi("demo:environ", &dir.join("environ.sock"), &[]);
    let (echo, echo_uwsgi, echo_http) = rwsgi("demo:echo", &dir.join("echo.sock"), &[]);
    let (big, big_uwsgi, _) = rwsgi("demo:environ", &dir.join("big.sock"), &["--buffer-size", "32768"]);
    let up = Upstreams {
        environ_uwsgi: &environ_uwsgi,
        environ_unix: &dir.join("environ.sock"),
        environ_http: &environ_http,
        echo_uwsgi: &echo_uwsgi,
        echo_http: &echo_http,
        big_uwsgi: &big_uwsgi,
    };
    let (nginx, port) = start_nginx(&binary, &dir, &up);
    let base = format!("http://127.0.0.1:{port}");
    let http = client();
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .header("User-Agent", "rwsgi-nginx-test")
            .header("X-Test", "through nginx")
            .send()
            .unwrap_or_else(|e| panic!("{path}: {e}\nnginx:\n{}", nginx.lines.text()))
    };

    // uwsgi_pass, over TCP and over a unix socket. The request is written
    // by hand: an HTTP client library would remove the dot segments.
    for prefix in ["/u", "/unix"] {
        let target = format!("{prefix}/caf%C3%A9%20x/../d%C3%A9j%C3%A0?q=1&r=%20");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        std::io::Write::write_all(
            &mut stream,
            format!(
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: rwsgi-nginx-test\r\n\
                 X-Test: through nginx\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{prefix}: {head}");
        let mut body = raw[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let want = [
            ("REQUEST_METHOD", "GET".to_owned()),
            ("REQUEST_URI", target.clone()),
            // nginx decodes and normalises $document_uri; uWSGI passes it
            // on, as latin-1 text (PEP 3333).
            ("PATH_INFO", format!("{prefix}/d\u{c3}\u{a9}j\u{c3}\u{a0}")),
            ("QUERY_STRING", "q=1&r=%20".to_owned()),
            ("SERVER_NAME", "rwsgi.test".to_owned()),
            ("SERVER_PORT", port.to_string()),
            ("SERVER_PROTOCOL", "HTTP/1.1".to_owned()),
            ("REMOTE_ADDR", "127.0.0.1".to_owned()),
            ("REQUEST_SCHEME", "http".to_owned()),
            ("HTTP_HOST", "127.0.0.1".to_owned()),
            ("HTTP_USER_AGENT", "rwsgi-nginx-test".to_owned()),
            ("HTTP_X_TEST", "through nginx".to_owned()),
            ("DOCUMENT_ROOT", format!("{}/www", dir.display())),
            ("wsgi.url_scheme", "http".to_owned()),
            ("wsgi.multiprocess", "True".to_owned()),
            ("wsgi.multithread", "True".to_owned()),
        ];
        for (key, value) in want {
            assert_eq!(env[key], value.as_str(), "{prefix}: {key} in {env}");
        }
        let remote_port: u16 = env["REMOTE_PORT"].as_str().unwrap().parse().unwrap();
        assert_ne!(remote_port, 0);
        assert!(env.get("HTTPS").is_none(), "if_not_empty leaves HTTPS out");
    }
    // uwsgi_modifier1 30 with a SCRIPT_NAME.
    let env: serde_json::Value = json(get("/mounted/inner"));
    assert_eq!(env["SCRIPT_NAME"], "/mounted");
    assert_eq!(env["PATH_INFO"], "/inner");

    // A request body through uwsgi_pass (nginx buffers it and sends
    // CONTENT_LENGTH), and a streamed response back.
    let body: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for prefix in ["/echo-u", "/echo-h"] {
        let response = http
            .post(format!("{base}{prefix}/upload"))
            .header("Content-Type", "application/octet-stream")
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{prefix}");
        assert!(
            response.bytes().unwrap() == body,
            "{prefix}: the body comes back intact"
        );
    }

    // proxy_pass to --http-socket: the environ of an HTTP request from nginx.
    let env: serde_json::Value = json(get("/h/caf%C3%A9?q=2"));
    assert_eq!(
        env["PATH_INFO"], "/h/caf\u{c3}\u{a9}",
        "PEP 3333's latin-1 PATH_INFO"
    );
    assert_eq!(env["QUERY_STRING"], "q=2");
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "127.0.0.1");
    assert_eq!(env["HTTP_HOST"], "127.0.0.1");
    assert_eq!(env["HTTP_X_TEST"], "through nginx");
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.0", "nginx proxies with HTTP/1.0");

    // A head larger than the 4096-byte buffer: refused as uWSGI refuses it
    // (nginx answers 502), served with --buffer-size 32768.
    let cookie = "c".repeat(6000);
    let response = http
        .get(format!("{base}/u/big"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(response.status(), 502);
    environ.lines.wait("the refusal logged", |l| {
        l.starts_with("invalid request block size: ") && l.contains("(max 4096)...skip")
    });
    let response = http
        .get(format!("{base}/big-u/big"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let env: serde_json::Value = json(response);
    assert_eq!(env["HTTP_COOKIE"].as_str().map(str::len), Some(6000));
    // And the refused one changed nothing.
    assert_eq!(get("/u/after").status(), 200);

    drop(nginx);
    drop((environ, echo, big));
    std::fs::remove_dir_all(&dir).unwrap();
}
