//! The `rwsgi` command line: `rwsgi [OPTIONS] [APP]` serves an application
//! from a [`Registry`]. A program with its own applications calls
//! [`main`] with its own registry and gets the same command line.
//!
//! ```no_run
//! use std::process::ExitCode;
//! # fn app(_: &mut rwsgi::Environ, _: &rwsgi::StartResponse) -> rwsgi::Result<rwsgi::Body> { todo!() }
//! fn main() -> ExitCode {
//!     rwsgi::cli::main(rwsgi::Registry::new().app("myproject:app", app))
//! }
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser};
use rwsgi_core::middleware::{ProxyFix, TrustedPeers};
use rwsgi_core::{
    Addr, Application, Bind, Config, Dispatch, Engine, Registry, Server, ServerHandle, SharedApp,
};

/// Every backend rwsgi has, compiled in or not.
pub const BACKENDS: [&str; 3] = ["tokio", "smol", "async-std"];

/// The backends this binary was built with, in `DefaultServer` order.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "tokio-backend") {
        names.push("tokio");
    }
    if cfg!(feature = "smol-backend") {
        names.push("smol");
    }
    if cfg!(feature = "async-std-backend") {
        names.push("async-std");
    }
    names
}

#[derive(Parser, Debug)]
#[command(
    name = "rwsgi",
    version,
    about = "Serve a WSGI-style Rust application on the runtime of your choice.",
    after_help = "APP is a registered spec such as demo:hello; run with an unknown one to list them."
)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// The options of the plain `rwsgi [OPTIONS] [APP]` form.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N or systemd (repeatable)
    #[arg(short, long = "bind", value_name = "ADDR")]
    pub bind: Vec<Bind>,
    /// The runtime: tokio, smol or async-std (among those compiled in)
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// The HTTP engine: hyper, async-h1 or h1 (among those the backend drives)
    #[arg(long, value_name = "NAME")]
    pub engine: Option<Engine>,
    /// Runtime threads; 1 is a single event loop [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,
    /// Run the application on a pool of N threads instead of the event loop
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Seconds an idle keep-alive connection waits for its next request (0: no keep-alive)
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub keep_alive: f64,
    /// Seconds a request head may take to arrive
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub header_read_timeout: f64,
    /// Seconds one read of a request body may wait
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub body_read_timeout: f64,
    /// Seconds one write may wait for a client that does not read
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub write_timeout: f64,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub graceful_timeout: f64,
    /// Most open connections; accepting pauses at the limit
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Longest request line in bytes (0: no limit)
    #[arg(long, value_name = "BYTES", default_value_t = 4094)]
    pub limit_request_line: usize,
    /// Most header fields (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit_request_fields: usize,
    /// Longest header field in bytes (0: no limit)
    #[arg(long, value_name = "BYTES", default_value_t = 8190)]
    pub limit_request_field_size: usize,
    /// Largest request body in bytes
    #[arg(long, value_name = "BYTES")]
    pub limit_request_body: Option<u64>,
    /// ProxyFix: trusted X-Forwarded-For values
    #[arg(long, value_name = "N")]
    pub x_for: Option<usize>,
    /// ProxyFix: trusted X-Forwarded-Proto values
    #[arg(long, value_name = "N")]
    pub x_proto: Option<usize>,
    /// ProxyFix: trusted X-Forwarded-Host values
    #[arg(long, value_name = "N")]
    pub x_host: Option<usize>,
    /// ProxyFix: trusted X-Forwarded-Port values
    #[arg(long, value_name = "N")]
    pub x_port: Option<usize>,
    /// ProxyFix: trusted X-Forwarded-Prefix values
    #[arg(long, value_name = "N")]
    pub x_prefix: Option<usize>,
    /// ProxyFix: believe forwarding headers only from these peers (IPs, CIDRs or *)
    #[arg(long, value_name = "LIST")]
    pub trusted_peers: Option<TrustedPeers>,
    /// Wrap the application in Lint (wsgiref.validate) and log every breach
    #[arg(long)]
    pub lint: bool,
    /// The application spec
    #[arg(value_name = "APP", default_value = "demo:hello")]
    pub app: String,
}

/// Runs the command line with `registry`'s applications; returns the
/// process's exit status (0, 1 on a run-time failure, 2 on a usage error).
pub fn main(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    match serve(&cli.serve, &registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rwsgi: error: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}

/// A failure with the exit status it warrants.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong, for the operator.
    pub message: String,
    /// The exit status.
    pub code: u8,
}

impl CliError {
    /// A usage error (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }

    fn runtime(err: std::io::Error) -> Self {
        CliError {
            message: err.to_string(),
            code: 1,
        }
    }
}

fn seconds(name: &str, secs: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| CliError::usage(format!("--{name}: {secs} is not a duration in seconds")))
}

/// The [`Config`] these options describe.
///
/// # Errors
///
/// A usage error naming the bad option.
pub fn config(args: &ServeArgs) -> Result<Config, CliError> {
    let mut config = Config::default();
    if !args.bind.is_empty() {
        config.binds = args.bind.clone();
    }
    if let Some(n) = args.io_threads {
        config.io_threads = n;
    }
    if let Some(n) = args.threads {
        config.dispatch = Dispatch::ThreadPool { min: n, max: n };
    }
    config.engine = args.engine;
    config.keep_alive = seconds("keep-alive", args.keep_alive)?;
    config.header_read_timeout = Some(seconds("header-read-timeout", args.header_read_timeout)?);
    config.body_read_timeout = Some(seconds("body-read-timeout", args.body_read_timeout)?);
    config.write_timeout = Some(seconds("write-timeout", args.write_timeout)?);
    config.max_connections = args.max_connections;
    config.limit_request_line = args.limit_request_line;
    config.limit_request_fields = args.limit_request_fields;
    config.limit_request_field_size = args.limit_request_field_size;
    config.limit_request_body = args.limit_request_body;
    config.validate().map_err(CliError::usage)?;
    Ok(config)
}

/// The application these options describe: the registry's, wrapped in
/// ProxyFix and Lint as asked.
///
/// # Errors
///
/// A usage error for an unknown spec (listing the known ones); exit status
/// 4 (gunicorn's "app failed to load") when a factory fails.
pub fn application(args: &ServeArgs, registry: &Registry) -> Result<SharedApp, CliError> {
    let app = registry.resolve(&args.app).map_err(|err| match err {
        rwsgi_core::RegistryError::Failed { .. } => CliError {
            message: err.to_string(),
            code: 4,
        },
        _ => CliError::usage(err.to_string()),
    })?;
    let proxied = [args.x_for, args.x_proto, args.x_host, args.x_port, args.x_prefix]
        .iter()
        .any(Option::is_some)
        || args.trusted_peers.is_some();
    let app = if proxied {
        let mut fix = ProxyFix::new(app)
            .x_for(args.x_for.unwrap_or(1))
            .x_proto(args.x_proto.unwrap_or(1))
            .x_host(args.x_host.unwrap_or(0))
            .x_port(args.x_port.unwrap_or(0))
            .x_prefix(args.x_prefix.unwrap_or(0));
        if let Some(peers) = &args.trusted_peers {
            fix = fix.trusted_peers(peers.clone());
        }
        SharedApp::new(fix)
    } else {
        app
    };
    Ok(if args.lint {
        SharedApp::new(rwsgi_core::middleware::Lint::new(app))
    } else {
        app
    })
}

/// Serves as the options say, until SIGTERM/SIGINT (graceful) or SIGQUIT
/// (quick).
///
/// # Errors
///
/// Usage errors (exit 2), a failing factory (4), bind or runtime failures
/// (1).
pub fn serve(args: &ServeArgs, registry: &Registry) -> Result<(), CliError> {
    let config = config(args)?;
    let app = application(args, registry)?;
    let graceful = seconds("graceful-timeout", args.graceful_timeout)?;
    let compiled = compiled_backends();
    // Without --backend: the first compiled backend that drives the engine
    // asked for (so `--engine async-h1` alone picks smol or async-std).
    let backend = args.backend.as_deref().unwrap_or_else(|| {
        combinations()
            .into_iter()
            .find(|(_, engine)| args.engine.is_none_or(|e| e == *engine))
            .map_or(compiled[0], |(backend, _)| backend)
    });
    let launch = Launch {
        label: &args.app,
        graceful,
    };
    match backend {
        #[cfg(feature = "tokio-backend")]
        "tokio" => launch.run::<rwsgi_tokio::TokioServer>(config, app),
        #[cfg(feature = "smol-backend")]
        "smol" => launch.run::<rwsgi_smol::SmolServer>(config, app),
        #[cfg(feature = "async-std-backend")]
        "async-std" => launch.run::<rwsgi_async_std::AsyncStdServer>(config, app),
        known if BACKENDS.contains(&known) => Err(CliError::usage(format!(
            "the {known} backend is not compiled into this binary; rebuild with `--features {known}-backend` (compiled in: {})",
            compiled.join(", ")
        ))),
        unknown => Err(CliError::usage(format!(
            "unknown backend {unknown:?}; backends: {} (compiled in: {})",
            BACKENDS.join(", "),
            compiled.join(", ")
        ))),
    }
}

struct Launch<'a> {
    label: &'a str,
    graceful: Duration,
}

impl Launch<'_> {
    fn run<S: Server>(&self, config: Config, app: impl Application) -> Result<(), CliError> {
        let engine = config.engine.unwrap_or(S::ENGINES[0]);
        if !S::ENGINES.contains(&engine) {
            return Err(CliError::usage(
                rwsgi_core::unsupported_engine(S::NAME, engine, S::ENGINES).to_string(),
            ));
        }
        let server = S::bind(config).map_err(CliError::runtime)?;
        let mut out = std::io::stdout().lock();
        for addr in server.local_addrs() {
            let _ = writeln!(out, "rwsgi: listening on {}", url(&addr));
        }
        let _ = writeln!(
            out,
            "rwsgi: serving {} (backend {}, engine {engine}); Ctrl-C to stop",
            self.label,
            S::NAME
        );
        let _ = out.flush();
        drop(out);
        let signals = stop_on_signals(server.handle(), self.graceful).map_err(CliError::runtime)?;
        let result = server.run(app).map_err(CliError::runtime);
        signals.close();
        result
    }
}

/// The URL a client uses for `addr`.
pub fn url(addr: &Addr) -> String {
    match addr {
        Addr::Tcp(a) => format!("http://{a}"),
        Addr::Unix(_) => addr.to_string(),
    }
}

/// Stops the server on signals, from a thread of its own (a signal handler
/// only queues; the thread acts): SIGTERM and SIGINT shut down gracefully
/// within `graceful`, a second one or SIGQUIT at once.
///
/// # Errors
///
/// When the handlers cannot be installed.
pub fn stop_on_signals(
    handle: ServerHandle,
    graceful: Duration,
) -> std::io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGQUIT])?;
    let control = signals.handle();
    std::thread::Builder::new()
        .name("rwsgi-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let quick = signal == SIGQUIT || handle.is_shutting_down();
                handle.shutdown(if quick { Duration::ZERO } else { graceful });
            }
        })?;
    Ok(control)
}

/// Every backend × engine pair compiled into this binary, as `--backend`
/// and `--engine` name them, in `DefaultServer` order.
pub fn combinations() -> Vec<(&'static str, Engine)> {
    let mut pairs = Vec::new();
    #[cfg(feature = "tokio-backend")]
    pairs.extend(rwsgi_tokio::TokioServer::ENGINES.iter().map(|e| ("tokio", *e)));
    #[cfg(feature = "smol-backend")]
    pairs.extend(rwsgi_smol::SmolServer::ENGINES.iter().map(|e| ("smol", *e)));
    #[cfg(feature = "async-std-backend")]
    pairs.extend(
        rwsgi_async_std::AsyncStdServer::ENGINES
            .iter()
            .map(|e| ("async-std", *e)),
    );
    pairs
}
