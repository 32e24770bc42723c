//! `rwsgi gevent [OPTIONS] APP`: pywsgi's provisional command line
//! (`python -m gevent.pywsgi -b :8080 module:app`) with the server's
//! keyword arguments as flags (`keyfile=`, `certfile=`, `ca_certs=`,
//! `cert_reqs=` as `--keyfile`, `--certfile`, `--ca-certs`, `--cert-reqs`).

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rwsgi_core::{Addr, Backends, Engine, Registry, RegistryError};

use crate::server::{DEFAULT_BACKLOG, Pool, Spawn, WsgiServer};

#[derive(Parser, Debug)]
#[command(
    name = "rwsgi gevent",
    about = "Serve an application as gevent's pywsgi does: a task per connection on one loop.",
    after_help = "APP is a registered spec such as demo:hello; run with an unknown one to list them.\n\
                  SIGTERM/SIGINT stop the server (stop(timeout=--stop-timeout)); a second one at once."
)]
struct Cli {
    /// The socket to bind: :PORT (every IPv4 interface), PORT (IPv6 and IPv4), HOST:PORT, [IPv6]:PORT
    #[arg(short, long, value_name = "ADDR", default_value = ":8080")]
    bind: String,
    /// Handle at most N connections at once (spawn=Pool(N)); more wait in the backlog
    #[arg(long, value_name = "N")]
    pool: Option<usize>,
    /// listen(2)'s backlog
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BACKLOG)]
    backlog: u32,
    /// Run the application on N threads instead of the loop
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No access log (log=None)
    #[arg(long)]
    no_log: bool,
    /// Seconds handlers get to finish when stopping
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    stop_timeout: f64,
    /// TLS: the private key, PEM (keyfile=)
    #[arg(long, value_name = "FILE")]
    keyfile: Option<PathBuf>,
    /// TLS: the certificate chain, PEM (certfile=)
    #[arg(long, value_name = "FILE")]
    certfile: Option<PathBuf>,
    /// CA certificates client certificates must chain to (ca_certs=)
    #[arg(long, value_name = "FILE")]
    ca_certs: Option<PathBuf>,
    /// Client certificates: 0 none, 1 optional, 2 required (cert_reqs=) [default: 0]
    #[arg(long, value_name = "N")]
    cert_reqs: Option<u8>,
    /// The runtime: tokio, smol or async-std (among those compiled in)
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// The HTTP engine: hyper, async-h1 or h1 (among those the backend drives)
    #[arg(long, value_name = "NAME")]
    engine: Option<Engine>,
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
            eprintln!("rwsgi gevent: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: &Cli, registry: &Registry, backends: &dyn Backends) -> Result<(), Failure> {
    let (backend, engine) = backends
        .choose_with_engine(cli.backend.as_deref(), cli.engine)
        .map_err(usage)?;
    let stop_timeout = Duration::try_from_secs_f64(cli.stop_timeout).map_err(|_| {
        usage(format!(
            "--stop-timeout: {} is not a duration in seconds",
            cli.stop_timeout
        ))
    })?;
    let app = registry.resolve(&cli.app).map_err(|err| match err {
        RegistryError::Failed { .. } => Failure {
            message: err.to_string(),
            code: 4,
        },
        _ => usage(err.to_string()),
    })?;
    let spawn = match cli.pool {
        Some(0) => return Err(usage("--pool: a pool holds at least 1 connection")),
        Some(n) => Spawn::Pool(Pool::new(n)),
        None => Spawn::Default,
    };
    let mut server = WsgiServer::new(cli.bind.as_str(), app)
        .spawn(spawn)
        .backlog(cli.backlog)
        .stop_timeout(stop_timeout);
    if cli.no_log {
        server = server.log(None);
    }
    if let Some(threads) = cli.threads {
        if threads == 0 {
            return Err(usage("--threads: at least 1 thread is needed"));
        }
        server = server.threads(threads);
    }
    if let Some(file) = &cli.keyfile {
        server = server.keyfile(file);
    }
    if let Some(file) = &cli.certfile {
        server = server.certfile(file);
    }
    if let Some(file) = &cli.ca_certs {
        server = server.ca_certs(file);
    }
    if let Some(n) = cli.cert_reqs {
        server = server.cert_reqs(n);
    }
    // Wrong TLS flags or files are refused before binding, naming the file.
    server.check_tls().map_err(runtime)?;
    server.init_socket().map_err(runtime)?;
    let pool = cli
        .pool
        .map_or_else(|| "default spawn".to_owned(), |n| format!("Pool({n})"));
    announce(
        &server.local_addrs(),
        server.ssl_enabled(),
        &format!("{} (gevent, {pool}, backend {backend}, engine {engine})", cli.app),
    );
    let signals = stop_on_signals(server.clone()).map_err(runtime)?;
    let result = server
        .serve_forever_with(backends, Some(backend), Some(engine))
        .map_err(runtime);
    signals.close();
    result
}

/// The lines tests and tools read: `rwsgi: listening on URL` per address
/// (`https://` with TLS), then `rwsgi: serving WHAT`.
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

/// SIGTERM and SIGINT stop the server with its stop timeout; a second one,
/// or SIGQUIT, at once.
fn stop_on_signals(server: WsgiServer) -> std::io::Result<signal_hook::iterator::Handle> {
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
                server.begin_stop(quick.then_some(Duration::ZERO));
            }
        })?;
    Ok(control)
}
