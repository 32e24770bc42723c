//! `rwsgi tornado [OPTIONS] APP`: a tornado program for operators — the
//! application from the registry in `HTTPServer(WSGIContainer(app))`,
//! tornado's options as flags (named as `tornado.options` would define
//! them), `--processes N` for `bind` + `start(N)`, and `ssl_options` as
//! `--certfile`/`--keyfile`/`--ca-certs`/`--cert-reqs` (tornado has no
//! command line of its own; these are gunicorn's names for the same
//! `ssl.wrap_socket` arguments).

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rwsgi_core::{Addr, Backends, Engine, Registry, RegistryError};

use crate::log::{AccessLogger, LogLevel};
use crate::netutil::{DEFAULT_BACKLOG, Listen, bind_sockets, bind_unix_socket};
use crate::wsgi::{DEFAULT_SERVER_HEADER, ThreadPoolExecutor, WsgiContainer};
use crate::{HttpServer, HttpServerOptions, IoLoop, SslOptions};

#[derive(Parser, Debug)]
#[command(
    name = "rwsgi tornado",
    about = "Serve an application as tornado does: HTTPServer(WSGIContainer(app)) on one event loop.",
    after_help = "APP is a registered spec such as demo:hello; run with an unknown one to list them.\n\
                  SIGTERM/SIGINT stop gracefully (--graceful-timeout); a second one, or SIGQUIT, at once."
)]
struct Cli {
    /// The port to listen on (listen(port)); 0 picks a free one
    #[arg(long, default_value_t = 8888)]
    port: u16,
    /// The address to listen on; empty: every interface, IPv4 and IPv6
    #[arg(long, default_value = "")]
    address: String,
    /// Listen on this unix socket instead (bind_unix_socket)
    #[arg(long, value_name = "PATH")]
    unix_socket: Option<PathBuf>,
    /// Fork this many processes sharing the socket (bind + start(N); 0: one per CPU)
    #[arg(long, value_name = "N", default_value_t = 1)]
    processes: usize,
    /// Restarts of crashed processes before giving up (start(n, max_restarts))
    #[arg(long, value_name = "N")]
    max_restarts: Option<usize>,
    /// Set SO_REUSEPORT (listen(port, reuse_port=True))
    #[arg(long)]
    reuse_port: bool,
    /// listen(2)'s backlog
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BACKLOG)]
    backlog: u32,
    /// Believe X-Real-Ip/X-Forwarded-For and X-Scheme/X-Forwarded-Proto
    #[arg(long)]
    xheaders: bool,
    /// A proxy to skip in X-Forwarded-For (repeatable)
    #[arg(long, value_name = "IP")]
    trusted_downstream: Vec<String>,
    /// The scheme of every request (http or https)
    #[arg(long, value_name = "SCHEME")]
    protocol: Option<String>,
    /// One request per connection
    #[arg(long)]
    no_keep_alive: bool,
    /// Most bytes a request body may hold in memory
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_MAX_BUFFER_SIZE)]
    max_buffer_size: u64,
    /// Longest request head in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_MAX_HEADER_SIZE)]
    max_header_size: usize,
    /// Largest request body in bytes [default: --max-buffer-size]
    #[arg(long, value_name = "BYTES")]
    max_body_size: Option<u64>,
    /// Seconds a connection may wait for a request head
    #[arg(long, value_name = "SECS", default_value_t = 3600.0)]
    idle_connection_timeout: f64,
    /// Seconds a read of a request body may wait
    #[arg(long, value_name = "SECS")]
    body_timeout: Option<f64>,
    /// Inflate gzip request bodies
    #[arg(long)]
    decompress_request: bool,
    /// TLS on every socket: the certificate chain, PEM (ssl_options["certfile"])
    #[arg(long, value_name = "FILE")]
    certfile: Option<PathBuf>,
    /// Its private key, PEM (ssl_options["keyfile"])
    #[arg(long, value_name = "FILE")]
    keyfile: Option<PathBuf>,
    /// CA certificates client certificates must chain to (ssl_options["ca_certs"])
    #[arg(long, value_name = "FILE")]
    ca_certs: Option<PathBuf>,
    /// Client certificates: 0 none, 1 optional, 2 required (ssl_options["cert_reqs"]) [default: 0]
    #[arg(long, value_name = "N")]
    cert_reqs: Option<u8>,
    /// Run the application on an executor of N threads instead of the loop
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// The Server header added to responses without one
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_SERVER_HEADER)]
    server_header: String,
    /// Add no Server header
    #[arg(long)]
    no_server_header: bool,
    /// The least severe access-log line: debug, info, warning, error or none
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    logging: LogLevel,
    /// The runtime: tokio, smol or async-std (among those compiled in)
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// The HTTP engine: hyper, async-h1 or h1 (among those the backend drives)
    #[arg(long, value_name = "NAME")]
    engine: Option<Engine>,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    graceful_timeout: f64,
    /// The application spec
    #[arg(value_name = "APP")]
    app: String,
}

struct Failure {
    message: String,
    code: u8,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 2,
    }
}

fn runtime(err: std::io::Error) -> Failure {
    Failure {
        code: if err.kind() == std::io::ErrorKind::InvalidInput {
            2
        } else {
            1
        },
        message: err.to_string(),
    }
}

fn seconds(name: &str, secs: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| usage(format!("--{name}: {secs} is not a duration in seconds")))
}

pub(crate) fn main(registry: Registry, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    match run(&cli, &registry, backends) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("rwsgi tornado: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: &Cli, registry: &Registry, backends: &dyn Backends) -> Result<(), Failure> {
    let (backend, engine) = backends
        .choose_with_engine(cli.backend.as_deref(), cli.engine)
        .map_err(usage)?;
    if let Some(protocol) = &cli.protocol {
        if protocol != "http" && protocol != "https" {
            return Err(usage(format!(
                "--protocol: {protocol:?} is neither http nor https"
            )));
        }
    }
    let app = registry.resolve(&cli.app).map_err(|err| match err {
        RegistryError::Failed { .. } => Failure {
            message: err.to_string(),
            code: 4,
        },
        _ => usage(err.to_string()),
    })?;
    let mut container = WsgiContainer::new(app)
        .server_header((!cli.no_server_header).then(|| cli.server_header.clone()))
        .access_log(Some(AccessLogger::stderr().level(cli.logging)));
    if let Some(threads) = cli.threads {
        if threads == 0 {
            return Err(usage("--threads: at least 1 thread is needed"));
        }
        container = container.executor(ThreadPoolExecutor::new(threads));
    }
    let options = HttpServerOptions {
        xheaders: cli.xheaders,
        trusted_downstream: cli.trusted_downstream.iter().cloned().collect(),
        protocol: cli.protocol.clone().map(Into::into),
        no_keep_alive: cli.no_keep_alive,
        max_buffer_size: cli.max_buffer_size,
        max_header_size: cli.max_header_size,
        max_body_size: cli.max_body_size,
        idle_connection_timeout: seconds("idle-connection-timeout", cli.idle_connection_timeout)?,
        body_timeout: cli.body_timeout.map(|s| seconds("body-timeout", s)).transpose()?,
        decompress_request: cli.decompress_request,
        ssl_options: ssl_options(cli),
    };
    // Wrong TLS files are refused before anything is bound, naming the file.
    options.check_tls().map_err(runtime)?;
    let tls = options.ssl_options.is_some();
    let graceful = seconds("graceful-timeout", cli.graceful_timeout)?;
    let server = HttpServer::with_options(container, options);
    let listeners = match &cli.unix_socket {
        Some(path) => vec![bind_unix_socket(path, 0o600, cli.backlog).map_err(runtime)?],
        None => {
            let mut listen = Listen::new(cli.port)
                .backlog(cli.backlog)
                .reuse_port(cli.reuse_port);
            if !cli.address.is_empty() {
                listen = listen.address(cli.address.clone());
            }
            bind_sockets(&listen).map_err(runtime)?
        }
    };
    let addrs: Vec<Addr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    announce(
        &addrs,
        tls,
        &format!("{} (tornado, backend {backend}, engine {engine})", cli.app),
    );
    if cli.processes == 1 {
        server.register(listeners).map_err(runtime)?;
    } else {
        server.add_pending(listeners).map_err(runtime)?;
        // The parent process does not return from here.
        server
            .start_with_restarts(cli.processes, cli.max_restarts)
            .map_err(runtime)?;
    }
    let signals = stop_on_signals(server.clone(), graceful).map_err(runtime)?;
    let result = IoLoop::current()
        .start_with(backends, Some(backend), Some(engine))
        .map_err(runtime);
    signals.close();
    result
}

/// `ssl_options` from the TLS flags: `None` when none is given.
fn ssl_options(cli: &Cli) -> Option<SslOptions> {
    let given =
        cli.certfile.is_some() || cli.keyfile.is_some() || cli.ca_certs.is_some() || cli.cert_reqs.is_some();
    given.then(|| SslOptions {
        certfile: cli.certfile.clone(),
        keyfile: cli.keyfile.clone(),
        ca_certs: cli.ca_certs.clone(),
        cert_reqs: cli.cert_reqs.unwrap_or(0),
    })
}

/// The lines tests and tools read: `rwsgi: listening on URL` per address
/// (`https://` when the server speaks TLS), then `rwsgi: serving WHAT` (as
/// the plain `rwsgi` command prints them).
fn announce(addrs: &[Addr], tls: bool, what: &str) {
    let mut out = std::io::stdout().lock();
    let scheme = if tls { "https" } else { "http" };
    for addr in addrs {
        let url = match addr {
            Addr::Tcp(a) => format!("{scheme}://{a}"),
            Addr::Unix(_) => addr.to_string(),
        };
        let _ = writeln!(out, "rwsgi: listening on {url}");
    }
    let _ = writeln!(out, "rwsgi: serving {what}");
    let _ = out.flush();
}

/// SIGTERM and SIGINT stop the server gracefully; a second one, or
/// SIGQUIT, at once. A thread of its own waits for them.
fn stop_on_signals(server: HttpServer, graceful: Duration) -> std::io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGQUIT])?;
    let control = signals.handle();
    std::thread::Builder::new()
        .name("rwsgi-signals".into())
        .spawn(move || {
            let mut asked = false;
            for signal in signals.forever() {
                let quick = signal == SIGQUIT || asked;
                asked = true;
                server.shutdown(if quick { Duration::ZERO } else { graceful });
            }
        })?;
    Ok(control)
}
