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

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser};
use rwsgi_core::middleware::{ProxyFix, TrustedPeers};
use rwsgi_core::proxy_protocol::ProxyProtocol;
use rwsgi_core::tls::ClientAuth;
use rwsgi_core::{
    Addr, Backends, BindParseError, Config, Dispatch, Engine, Launch, Registry, Scheme, ServerHandle,
    SharedApp,
};

#[derive(Parser, Debug)]
#[command(
    name = "rwsgi",
    version,
    about = "Serve a WSGI-style Rust application on the runtime of your choice.",
    after_help = "APP is a registered spec such as demo:hello; run with an unknown one to list them.\n\n\
                  Subcommands (rwsgi NAME --help): bench, gunicorn, tornado, gevent, twistd, uwsgi."
)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// The options of the plain `rwsgi [OPTIONS] [APP]` form.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N or systemd; https://ADDR for TLS (repeatable)
    #[arg(short, long = "bind", value_name = "ADDR")]
    pub bind: Vec<String>,
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
    /// Every connection starts with HAProxy's PROXY protocol header (v1 or v2), which gives REMOTE_ADDR
    #[arg(long)]
    pub proxy_protocol: bool,
    /// PROXY protocol: accept a header only from these peers (IPs, CIDRs or *); others are closed
    #[arg(long, value_name = "LIST", requires = "proxy_protocol")]
    pub proxy_allow_from: Option<TrustedPeers>,
    /// TLS: the certificate chain (PEM); every bind speaks TLS unless some are https://
    #[arg(long, value_name = "FILE")]
    pub certfile: Option<PathBuf>,
    /// TLS: the private key (PEM)
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
    /// TLS: CA certificates (PEM) client certificates must chain to
    #[arg(long, value_name = "FILE")]
    pub ca_certs: Option<PathBuf>,
    /// TLS: client certificates: 0 not asked for, 1 optional, 2 required
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub cert_reqs: u8,
    /// Wrap the application in Lint (wsgiref.validate) and log every breach
    #[arg(long)]
    pub lint: bool,
    /// The application spec
    #[arg(value_name = "APP", default_value = "demo:hello")]
    pub app: String,
}

/// Runs the command line with `registry`'s applications; returns the
/// process's exit status (0, 1 on a run-time failure, 2 on a usage error).
///
/// `rwsgi [OPTIONS] [APP]` serves; `rwsgi SUBCOMMAND …` hands the rest of
/// the command line to a personality (`gunicorn`, `tornado`, `gevent`,
/// `twistd`, `uwsgi`) or to `bench`, among those compiled in.
pub fn main(registry: Registry) -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if let Some(run) = args.get(1).and_then(|a| a.to_str()).and_then(subcommand) {
        // The subcommand sees itself as the program: `rwsgi gunicorn`.
        let program = format!("rwsgi {}", args[1].to_string_lossy());
        args.splice(0..2, [OsString::from(program)]);
        return run(registry, &crate::backends::Compiled, args);
    }
    let cli = Cli::parse_from(args);
    match serve(&cli.serve, &registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rwsgi: error: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}

/// A subcommand: the registry, the backends, and its own command line
/// (`args[0]` is its name).
type Subcommand = fn(Registry, &dyn Backends, Vec<OsString>) -> ExitCode;

/// The subcommands compiled in, by the name typed after `rwsgi`.
fn subcommand(name: &str) -> Option<Subcommand> {
    let run: Subcommand = match name {
        #[cfg(feature = "bench")]
        "bench" => crate::bench::cli::main,
        #[cfg(feature = "gunicorn")]
        "gunicorn" => rwsgi_gunicorn::main,
        #[cfg(feature = "tornado")]
        "tornado" => rwsgi_tornado::main,
        #[cfg(feature = "gevent")]
        "gevent" => rwsgi_gevent::main,
        #[cfg(feature = "twisted")]
        "twistd" => rwsgi_twisted::main,
        #[cfg(feature = "uwsgi")]
        "uwsgi" => rwsgi_uwsgi::main,
        _ => return None,
    };
    Some(run)
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
    let binds: Vec<&str> = args.bind.iter().map(String::as_str).collect();
    let client_auth = ClientAuth::from_cert_reqs(args.cert_reqs).map_err(CliError::usage)?;
    let (binds, tls) = rwsgi_core::tls::from_flags(
        &binds,
        args.certfile.as_deref(),
        args.keyfile.as_deref(),
        args.ca_certs.as_deref(),
        client_auth,
    )
    .map_err(CliError::usage)?;
    if !binds.is_empty() {
        config.binds = binds
            .into_iter()
            .map(str::parse)
            .collect::<Result<_, BindParseError>>()
            .map_err(|e| CliError::usage(e.to_string()))?;
    }
    config.tls = tls;
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
    if args.proxy_protocol {
        config.proxy_protocol = ProxyProtocol::All;
        config.proxy_policy.allow_from = args.proxy_allow_from.clone();
    }
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
    let backends = crate::backends::Compiled;
    let backend = backends
        .choose(args.backend.as_deref(), args.engine)
        .map_err(CliError::usage)?;
    let engine = config
        .engine
        .or_else(|| {
            backends
                .available()
                .into_iter()
                .find(|(n, _)| *n == backend)
                .map(|(_, e)| e[0])
        })
        .expect("a chosen backend has an engine");
    let label = args.app.clone();
    let signals = std::sync::Arc::new(std::sync::Mutex::new(None));
    let installed = std::sync::Arc::clone(&signals);
    let schemes: Vec<Scheme> = (0..config.binds.len().max(1))
        .map(|i| rwsgi_core::tls::scheme(&config, i))
        .collect();
    let mut launch = Launch::new(config, app);
    launch.ready = Some(Box::new(move |handle: &ServerHandle, addrs: &[Addr]| {
        // systemd may pass several sockets for one bind: they share its scheme.
        let scheme = |i: usize| schemes[i.min(schemes.len() - 1)];
        rwsgi_core::announce(
            addrs.iter().enumerate().map(|(i, a)| (a, scheme(i))),
            &format!("{label} (backend {backend}, engine {engine}); Ctrl-C to stop"),
        );
        *installed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((handle.clone(), stop_on_signals(handle.clone(), graceful)));
    }));
    let result = backends.serve(backend, launch).map_err(|err| match err.kind() {
        std::io::ErrorKind::InvalidInput => CliError::usage(err.to_string()),
        _ => CliError::runtime(err),
    });
    if let Some((handle, installed)) = signals.lock().unwrap_or_else(|e| e.into_inner()).take() {
        installed.map_err(CliError::runtime)?.close();
        // The count a supervisor or a test checks against what its clients
        // received: every request the server started, answered.
        println!(
            "rwsgi: stopped; {} requests received, {} answered",
            handle.requests_received(),
            handle.requests()
        );
    }
    result
}

/// Stops the server on signals, from a thread of its own (a signal handler
/// only queues; the thread acts): SIGTERM and SIGINT shut down gracefully
/// within `graceful`, a second one or SIGQUIT at once; SIGHUP reloads the
/// TLS certificate.
///
/// # Errors
///
/// When the handlers cannot be installed.
pub fn stop_on_signals(
    handle: ServerHandle,
    graceful: Duration,
) -> std::io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGHUP])?;
    let control = signals.handle();
    std::thread::Builder::new()
        .name("rwsgi-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    // One process, nothing to re-fork: re-read what can be
                    // re-read in place (the TLS certificate).
                    handle.reload();
                    continue;
                }
                let quick = signal == SIGQUIT || handle.is_shutting_down();
                handle.shutdown(if quick { Duration::ZERO } else { graceful });
            }
        })?;
    Ok(control)
}

pub use crate::backends::combinations;
