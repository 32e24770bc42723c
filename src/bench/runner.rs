//! The comparison runner behind `rwsgi bench`: which servers run (one
//! table of command-line templates), and the fixed procedure each one goes
//! through.
//!
//! Per server, in this order:
//!
//! 1. start it (pinned to CPU 1 where there are two CPUs) and wait for a
//!    2xx to `GET /`;
//! 2. its RSS once settled: the baseline, nothing held;
//! 3. for each N (ascending): a holder process (`rwsgi bench hold`, on CPU
//!    0) opens connections up to N, each completing one request; RSS once
//!    settled gives (RSS − baseline) / N per idle connection; then the
//!    64-connection load runs with the N held, and the holder counts how
//!    many the server still holds open;
//! 4. the held connections are closed; a short warm-up; the 64-connection
//!    load (throughput, p50/p99, server CPU per request);
//! 5. the same connections pipelining 16 requests at a time;
//! 6. with TLS (a backend × engine, when TLS is compiled in and not
//!    `--no-tls`): the server is started again with an `https://` bind and
//!    the run's certificate; the rate of fresh connections, each a full
//!    handshake and one request ([`HANDSHAKE_CONNECTIONS`] at once); then the
//!    64-connection load over TLS keep-alive connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rwsgi_core::Engine;

use super::child::{Spawn, run_bounded};
use super::hold::Holder;
use super::load::{Limit, LoadOptions, LoadReport, REQUEST_CLOSE, drive};
use super::process::{Settle, ephemeral_ports, open_file_limit, settled_rss, usage, usage_alone};
use super::server::{START_TIMEOUT, Server, free_port};

/// The `rwsgi` command line for one backend × engine. Placeholders:
/// `{host}`, `{port}`, `{bind}` (`{host}:{port}`, or `https://{host}:{port}`
/// when started with TLS), `{backend}`, `{engine}`, `{io_threads}`,
/// `{keep_alive}` (seconds), `{max_connections}`, `{app}`.
pub const RWSGI_TEMPLATE: &str = "--bind {bind} --backend {backend} --engine {engine} \
     --io-threads {io_threads} --keep-alive {keep_alive} --max-connections {max_connections} {app}";

/// What a start with TLS adds to a subject's arguments. Placeholders:
/// `{certfile}`, `{keyfile}`.
pub const TLS_FLAGS: &str = "--certfile {certfile} --keyfile {keyfile}";

/// Connection loops of the handshake-rate load: enough to keep a server's
/// one event-loop thread busy while the client, on its one CPU, does its
/// half of each handshake.
pub const HANDSHAKE_CONNECTIONS: usize = 16;

/// A personality as the runner starts it: `rwsgi SUBCOMMAND …`.
#[derive(Clone, Copy, Debug)]
pub struct Personality {
    /// Its name in tables.
    pub name: &'static str,
    /// The subcommand; the personality joins a run when `rwsgi SUBCOMMAND
    /// --help` exits 0.
    pub subcommand: &'static str,
    /// Its arguments after the subcommand, with the placeholders of
    /// [`RWSGI_TEMPLATE`]. Each binds with its own flag.
    pub template: &'static str,
}

/// Every personality, as its own flags start it: one worker process and
/// one event loop where it has a choice, keep-alive long enough to hold
/// idle connections through a run. Adjust here as the personalities' flags
/// settle.
pub const PERSONALITIES: &[Personality] = &[
    Personality {
        name: "gunicorn",
        subcommand: "gunicorn",
        // gevent: the app inline on the worker's loop, as the bare server
        // runs it (gunicorn's sync worker does no keep-alive).
        template: "-b {host}:{port} -w 1 -k gevent --backend {backend} --engine {engine} \
                   --keep-alive {keep_alive} --worker-connections {max_connections} {app}",
    },
    Personality {
        name: "tornado",
        subcommand: "tornado",
        template: "--address {host} --port {port} --backend {backend} --engine {engine} \
                   --idle-connection-timeout {keep_alive} --logging none {app}",
    },
    Personality {
        name: "gevent",
        subcommand: "gevent",
        template: "--bind {host}:{port} --backend {backend} --engine {engine} --no-log {app}",
    },
    Personality {
        name: "twisted",
        subcommand: "twistd",
        template: "-n --pidfile= --backend {backend} --engine {engine} \
                   web --listen tcp:{port}:interface={host}:backlog=4096 --idle-timeout {keep_alive} \
                   --logfile /dev/null --wsgi {app}",
    },
    Personality {
        name: "uwsgi",
        subcommand: "uwsgi",
        template: "--http {host}:{port} --processes 1 --listen 4096 --backend {backend} --engine {engine} \
                   --http-keepalive={keep_alive} --socket-timeout {keep_alive} --disable-logging --wsgi {app}",
    },
];

/// The peers in `bench-peers`: binary name and table name. Their command
/// line is `--bind {host}:{port} --io-threads {io_threads}`.
pub const PEERS: &[(&str, &str)] = &[
    ("peer-hyper", "hyper, defaults (peer)"),
    ("peer-actix", "actix-web (peer)"),
];

/// The yardstick's name in tables.
pub const YARDSTICK: &str = "raw hyper (yardstick)";

/// Bytes each connection of the second control server holds.
pub const CONTROL_BYTES: usize = 16 * 1024;

/// What kind of server a subject is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// Raw hyper on tokio.
    Yardstick,
    /// `rwsgi` on a backend × engine.
    Backend {
        /// The backend.
        backend: &'static str,
        /// The engine.
        engine: Engine,
    },
    /// A personality on a backend × engine.
    Personality {
        /// The personality.
        name: &'static str,
        /// The backend.
        backend: &'static str,
        /// The engine.
        engine: Engine,
    },
    /// A peer from `bench-peers`.
    Peer,
    /// The control server, holding this many bytes per connection.
    Control {
        /// Bytes per connection.
        bytes: usize,
    },
}

/// One server to measure.
#[derive(Clone, Debug)]
pub struct Subject {
    /// Its name in tables.
    pub name: String,
    /// What it is.
    pub group: Group,
    /// The program.
    pub program: PathBuf,
    /// Its arguments, with placeholders.
    pub template: String,
    /// Whether loads run on it (the second control server is for memory
    /// only).
    pub loads: bool,
    /// Whether it is also measured with TLS: started again with `{bind}`
    /// as `https://…` and [`TLS_FLAGS`] (when the run has a TLS setup).
    pub tls: bool,
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// Each load's length.
    pub duration: Duration,
    /// Idle connections to hold, ascending.
    pub idle: Vec<usize>,
    /// Active connections of each load.
    pub connections: usize,
    /// Pipelining depth of the pipelined load.
    pub depth: usize,
    /// Each timed load runs this many times; the best run counts.
    pub repeat: usize,
    /// Server event-loop threads.
    pub io_threads: usize,
    /// Pin servers to CPU 1 and the client side to CPU 0.
    pub pin: bool,
    /// The `rwsgi` binary (servers, personalities, the holder).
    pub program: PathBuf,
    /// How RSS readings settle.
    pub settle: Settle,
    /// The certificate and client of the TLS loads; `None`: no TLS loads.
    pub tls: Option<super::tls::Setup>,
}

impl Options {
    /// Largest N.
    pub fn max_idle(&self) -> usize {
        self.idle.iter().copied().max().unwrap_or(0)
    }

    /// The open files a server needs: the held connections, the load's,
    /// and room for its listener, runtime and logs.
    pub fn files_needed(&self) -> u64 {
        (self.max_idle() + self.connections + 64) as u64
    }

    fn server_cpu(&self) -> Option<usize> {
        self.pin.then_some(1)
    }

    fn client_cpu(&self) -> Option<usize> {
        self.pin.then_some(0)
    }
}

/// Checks that this process's open-file limit (which every server and the
/// holder inherit) and the kernel's ephemeral ports cover `options`.
///
/// # Errors
///
/// A message naming the limit and how to raise it.
pub fn check_limits(options: &Options) -> Result<(), String> {
    let (soft, hard) = open_file_limit().map_err(|e| format!("cannot read the open-file limit: {e}"))?;
    check_file_limit(options.max_idle(), options.files_needed(), soft, hard)?;
    if let Some(ports) = ephemeral_ports() {
        let wanted = (options.max_idle() + options.connections) as u64;
        if wanted > ports {
            return Err(format!(
                "N = {} idle connections plus {} active ones need {wanted} local ports, but the kernel hands out \
                 {ports} (net.ipv4.ip_local_port_range); widen it with `sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"` \
                 (as root) or lower N",
                options.max_idle(),
                options.connections
            ));
        }
    }
    Ok(())
}

/// The open-file check of [`check_limits`], on given limits.
///
/// # Errors
///
/// A message naming the limit and how to raise it.
pub fn check_file_limit(n: usize, needed: u64, soft: Option<u64>, hard: Option<u64>) -> Result<(), String> {
    let Some(soft) = soft else { return Ok(()) };
    if needed <= soft {
        return Ok(());
    }
    let hard_text = hard.map_or("unlimited".to_owned(), |h| h.to_string());
    let how = if hard.is_none_or(|h| needed <= h) {
        format!(
            "raise the soft limit in this shell with `ulimit -n {needed}` (the hard limit, {hard_text}, allows it) and run again"
        )
    } else {
        format!(
            "the hard limit is {hard_text} too: raise it as root (`ulimit -Hn {needed}`, or LimitNOFILE= in a systemd unit, \
             or `nofile` in /etc/security/limits.conf), then `ulimit -n {needed}` — or run with a smaller N"
        )
    };
    Err(format!(
        "N = {n} idle connections need about {needed} open files in the server process (and as many in the holder), \
         but the open-file limit (RLIMIT_NOFILE, `ulimit -n`) is {soft}: {how}"
    ))
}

/// A load's outcome.
#[derive(Clone, Debug)]
pub struct Load {
    /// Responses per second.
    pub rate: f64,
    /// Responses.
    pub requests: u64,
    /// Failed connections.
    pub errors: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl From<&LoadReport> for Load {
    fn from(r: &LoadReport) -> Self {
        Load {
            rate: r.rate(),
            requests: r.requests,
            errors: r.errors,
            p50: r.p50,
            p99: r.p99,
        }
    }
}

/// What holding N idle connections showed.
#[derive(Clone, Debug)]
pub struct Idle {
    /// Connections held.
    pub n: usize,
    /// The server's settled RSS with them held.
    pub rss: u64,
    /// Whether that reading settled before its deadline.
    pub settled: bool,
    /// (RSS − baseline) / N, in bytes.
    pub per_connection: f64,
    /// The 64-connection load with them held.
    pub held: Option<Load>,
    /// How many the server still held open after it.
    pub survived: usize,
}

/// Everything measured on one subject.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The subject's name.
    pub name: String,
    /// What it is.
    pub group: Group,
    /// The command line it ran with.
    pub command: String,
    /// Processes counted.
    pub processes: usize,
    /// Settled RSS before anything was held.
    pub baseline_rss: u64,
    /// Idle-connection figures, one per N.
    pub idle: Vec<Idle>,
    /// The 64-connection load, nothing held.
    pub hello: Option<Load>,
    /// Server CPU time per request during it.
    pub cpu_per_request: Option<Duration>,
    /// Our own CPU time per request during it (the load generator's cost).
    pub client_cpu_per_request: Option<Duration>,
    /// The pipelined load.
    pub pipelined: Option<Load>,
    /// Server CPU time per request during it.
    pub cpu_per_pipelined: Option<Duration>,
    /// Our CPU time per request during it.
    pub client_cpu_per_pipelined: Option<Duration>,
    /// What went wrong along the way.
    pub notes: Vec<String>,
    /// The same server with TLS, when measured so.
    pub tls: Option<TlsFigures>,
}

/// What one server showed with TLS.
#[derive(Clone, Debug, Default)]
pub struct TlsFigures {
    /// The command line it ran with.
    pub command: String,
    /// Protocol version, cipher suite and key exchange the probe
    /// negotiated.
    pub negotiated: String,
    /// Fresh connections, each a full handshake and one request: its rate
    /// is handshakes per second, its latencies those of whole connections.
    pub handshakes: Option<Load>,
    /// Server CPU time per handshake (and its request).
    pub cpu_per_handshake: Option<Duration>,
    /// Our CPU time per handshake.
    pub client_cpu_per_handshake: Option<Duration>,
    /// The 64-connection load over TLS.
    pub hello: Option<Load>,
    /// Server CPU time per request during it.
    pub cpu_per_request: Option<Duration>,
    /// Our CPU time per request during it.
    pub client_cpu_per_request: Option<Duration>,
}

/// A failure that ends the run.
#[derive(Debug)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<io::Error> for RunError {
    fn from(e: io::Error) -> Self {
        RunError(e.to_string())
    }
}

/// Replaces the placeholders in `template` and splits it into arguments.
pub fn expand(template: &str, vars: &[(&str, String)]) -> Vec<String> {
    template
        .split_whitespace()
        .map(|word| {
            vars.iter().fold(word.to_owned(), |w, (name, value)| {
                w.replace(&format!("{{{name}}}"), value)
            })
        })
        .collect()
}

/// Whether `rwsgi SUBCOMMAND --help` exits 0 (within 10 s) with help of
/// its own: where the subcommand is not compiled in, `rwsgi` takes its name
/// for an application spec and prints its own help.
///
/// # Errors
///
/// Why it is not available.
pub fn available(program: &Path, subcommand: &str) -> Result<(), String> {
    let help = |args: &[&str]| match run_bounded(program, args, Duration::from_secs(10)) {
        Ok(Some((status, output))) if status.success() => Ok(output),
        Ok(Some((status, output))) => Err(format!(
            "`rwsgi {}` exited with {status}: {}",
            args.join(" "),
            output
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("its "))
                .unwrap_or("")
        )),
        Ok(None) => Err(format!("`rwsgi {}` did not finish within 10 s", args.join(" "))),
        Err(e) => Err(e.to_string()),
    };
    let own = help(&[subcommand, "--help"])?;
    match help(&["--help"]) {
        Ok(main) if main == own => Err(format!(
            "`rwsgi {subcommand}` is not a subcommand of this binary (its feature is not compiled in)"
        )),
        _ => Ok(()),
    }
}

/// Builds the peers with cargo; the directory their binaries are in.
///
/// # Errors
///
/// A message with cargo's last lines when the build fails.
pub fn build_peers(manifest: &Path) -> Result<PathBuf, RunError> {
    if !manifest.is_file() {
        return Err(RunError(format!(
            "--peers: no bench-peers crate at {} (it lives in the rwsgi source tree; give its Cargo.toml with --peers-manifest)",
            manifest.display()
        )));
    }
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let target = dir.join("target");
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let manifest_arg = manifest.display().to_string();
    let target_arg = target.display().to_string();
    let args = [
        "build",
        "--release",
        "--manifest-path",
        &manifest_arg,
        "--target-dir",
        &target_arg,
    ];
    let command = format!("{} {}", cargo.display(), args.join(" "));
    match run_bounded(&cargo, &args, Duration::from_secs(30 * 60)) {
        Ok(Some((status, _))) if status.success() => Ok(target.join("release")),
        Ok(Some((status, tail))) => Err(RunError(format!(
            "--peers: building bench-peers failed ({status}); run `{command}` to see why, or leave out --peers\n{tail}"
        ))),
        Ok(None) => Err(RunError(format!(
            "--peers: `{command}` took over 30 minutes; stopped it"
        ))),
        Err(e) => Err(RunError(format!(
            "--peers: cannot run `{command}`: {e} (is cargo on PATH?)"
        ))),
    }
}

/// Reports what the runner is doing, on one line of stderr that it
/// rewrites where stderr is a terminal.
pub struct Progress {
    total: usize,
    index: usize,
    name: String,
    tty: bool,
    start: Instant,
}

impl Progress {
    /// For `total` subjects.
    pub fn new(total: usize) -> Self {
        use std::io::IsTerminal as _;
        Progress {
            total,
            index: 0,
            name: String::new(),
            tty: io::stderr().is_terminal(),
            start: Instant::now(),
        }
    }

    /// The next subject begins.
    pub fn subject(&mut self, name: &str) {
        self.index += 1;
        self.name = name.to_owned();
    }

    /// What it is doing now.
    pub fn stage(&self, stage: &str) {
        let line = format!(
            "[{}/{}, {:>4.0} s] {}: {stage}",
            self.index,
            self.total,
            self.start.elapsed().as_secs_f64(),
            self.name
        );
        if self.tty {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    /// Clears the line.
    pub fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

/// Runs the procedure (see the module docs) on `subject`.
///
/// # Errors
///
/// When the server does not start, or the holder cannot be started; what
/// fails later is noted in the figures and the run goes on.
pub fn measure(subject: &Subject, options: &Options, progress: &Progress) -> Result<Figures, RunError> {
    progress.stage("starting");
    let (mut server, command) = start(subject, options)?;
    let mut figures = Figures {
        name: subject.name.clone(),
        group: subject.group.clone(),
        command,
        processes: 0,
        baseline_rss: 0,
        idle: Vec::new(),
        hello: None,
        cpu_per_request: None,
        client_cpu_per_request: None,
        pipelined: None,
        cpu_per_pipelined: None,
        client_cpu_per_pipelined: None,
        notes: Vec::new(),
        tls: None,
    };
    let result = procedure(subject, options, progress, &mut server, &mut figures);
    if let Err(note) = result {
        figures.notes.push(note);
    }
    if let Err(death) = server.check_alive() {
        figures.notes.push(death);
    }
    server.stop();
    if let (true, Some(setup)) = (subject.tls, &options.tls) {
        figures.tls = measure_tls(subject, options, progress, setup, &mut figures.notes);
    }
    Ok(figures)
}

/// Step 6 of the module docs. The plain figures are kept whatever happens
/// here: a failure, even to start, is a note.
fn measure_tls(
    subject: &Subject,
    options: &Options,
    progress: &Progress,
    setup: &super::tls::Setup,
    notes: &mut Vec<String>,
) -> Option<TlsFigures> {
    progress.stage("TLS: starting with https://");
    let (mut server, command) = match start_tls(subject, options, setup) {
        Ok(started) => started,
        Err(e) => {
            notes.push(format!("TLS: {e}"));
            return None;
        }
    };
    let mut tls = TlsFigures {
        command,
        ..TlsFigures::default()
    };
    if let Err(note) = tls_procedure(options, progress, setup, &server, &mut tls) {
        notes.push(format!("TLS: {note}"));
    }
    if let Err(death) = server.check_alive() {
        notes.push(format!("TLS: {death}"));
    }
    server.stop();
    Some(tls)
}

/// Starts `subject` as `options` say; the server and its command line.
///
/// # Errors
///
/// When it does not start, with its stderr.
pub fn start(subject: &Subject, options: &Options) -> Result<(Server, String), RunError> {
    let port = free_port()?;
    let spawn = spawn(subject, options, port, "");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server::start(&subject.name, &spawn, Some(addr), START_TIMEOUT)
        .map_err(|e| RunError(e.to_string()))?;
    Ok((server, spawn.command_line()))
}

/// Starts `subject` with TLS (an `https://` bind and `setup`'s
/// certificate), waiting for a 2xx answer over TLS; the server and its
/// command line.
///
/// # Errors
///
/// When it does not start, with its stderr.
pub fn start_tls(
    subject: &Subject,
    options: &Options,
    setup: &super::tls::Setup,
) -> Result<(Server, String), RunError> {
    let port = free_port()?;
    let mut spawn = spawn(subject, options, port, "https://");
    let files = [
        ("certfile", setup.cert_file().display().to_string()),
        ("keyfile", setup.key_file().display().to_string()),
    ];
    spawn.args.extend(expand(TLS_FLAGS, &files));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let name = format!("{} (TLS)", subject.name);
    let probe = |at| setup.probe(at).map(drop);
    let server = Server::start_probed(&name, &spawn, Some(addr), START_TIMEOUT, &probe)
        .map_err(|e| RunError(e.to_string()))?;
    Ok((server, spawn.command_line()))
}

/// `subject`'s command line as `options` say, binding `{scheme}127.0.0.1:port`.
fn spawn(subject: &Subject, options: &Options, port: u16, scheme: &str) -> Spawn {
    let (backend, engine) = match &subject.group {
        Group::Backend { backend, engine } | Group::Personality { backend, engine, .. } => {
            (*backend, engine.name())
        }
        _ => ("tokio", "hyper"),
    };
    let vars = [
        ("host", "127.0.0.1".to_owned()),
        ("port", port.to_string()),
        ("bind", format!("{scheme}127.0.0.1:{port}")),
        ("backend", backend.to_owned()),
        ("engine", engine.to_owned()),
        ("io_threads", options.io_threads.to_string()),
        ("keep_alive", "3600".to_owned()),
        ("max_connections", options.files_needed().to_string()),
        ("app", "demo:hello".to_owned()),
    ];
    let mut spawn = Spawn::new(&subject.program, expand(&subject.template, &vars));
    spawn.pin = options.server_cpu();
    spawn
}

fn procedure(
    subject: &Subject,
    options: &Options,
    progress: &Progress,
    server: &mut Server,
    figures: &mut Figures,
) -> Result<(), String> {
    let pid = server.pid();
    let gone = |e: io::Error| format!("{}: {e}", subject.name);
    progress.stage("baseline RSS");
    let baseline = settled_rss(pid, options.settle).map_err(gone)?;
    figures.baseline_rss = baseline.rss;
    figures.processes = usage(pid).map_err(gone)?.processes;
    if !baseline.settled {
        figures.notes.push("the baseline RSS did not settle".into());
    }
    let load = |depth| keep_alive(options, depth);
    if !options.idle.is_empty() {
        // A server that cannot hold (or serve beside) the idle connections
        // still gets its loads below: the failure is a note in the report.
        if let Err(note) = idle_phase(subject, options, progress, server, figures, baseline.rss) {
            figures.notes.push(note);
        }
        progress.stage("closing the idle connections");
    }
    if !subject.loads {
        return Ok(());
    }
    progress.stage("warm-up");
    let mut warm = load(1);
    warm.limit = Limit::Time((options.duration / 4).min(Duration::from_millis(500)));
    drive(server.addr, &warm).map_err(|e| format!("warm-up: {e}"))?;

    progress.stage(&format!("load at {} connections", options.connections));
    let best = best_of(server, options.repeat, || drive(server.addr, &load(1)))?;
    figures.cpu_per_request = Some(best.server_cpu);
    figures.client_cpu_per_request = Some(best.client_cpu);
    figures.hello = Some(best.load);

    progress.stage(&format!("pipelined load, depth {}", options.depth));
    let best = best_of(server, options.repeat, || {
        drive(server.addr, &load(options.depth))
    })?;
    figures.cpu_per_pipelined = Some(best.server_cpu);
    figures.client_cpu_per_pipelined = Some(best.client_cpu);
    figures.pipelined = Some(best.load);
    Ok(())
}

/// The timed keep-alive load: `--connections` connections, `depth`
/// requests in flight on each, for `--duration`.
fn keep_alive(options: &Options, depth: usize) -> LoadOptions {
    LoadOptions {
        connections: options.connections,
        depth,
        limit: Limit::Time(options.duration),
        threads: 1,
        request: super::hold::REQUEST.to_vec(),
    }
}

/// Holds N idle connections for each N in turn (see the module docs).
fn idle_phase(
    subject: &Subject,
    options: &Options,
    progress: &Progress,
    server: &Server,
    figures: &mut Figures,
    baseline: u64,
) -> Result<(), String> {
    let pid = server.pid();
    let mut holder = Holder::spawn(&options.program, server.addr, options.client_cpu())
        .map_err(|e| format!("the holder: {e}"))?;
    for &n in &options.idle {
        progress.stage(&format!("opening {n} idle connections"));
        holder
            .open(n.saturating_sub(holder.held()))
            .map_err(|e| format!("holding {n} idle connections: {e}"))?;
        progress.stage(&format!("{n} idle: waiting for RSS to settle"));
        let held = settled_rss(pid, options.settle).map_err(|e| format!("{}: {e}", subject.name))?;
        figures.idle.push(Idle {
            n,
            rss: held.rss,
            settled: held.settled,
            per_connection: (held.rss as f64 - baseline as f64) / n as f64,
            held: None,
            survived: 0,
        });
        let idle = figures.idle.last_mut().expect("just pushed");
        if subject.loads {
            progress.stage(&format!("{n} idle: load at {} connections", options.connections));
            let load = keep_alive(options, 1);
            let loaded = best_of(server, options.repeat, || drive(server.addr, &load));
            // Survivors are counted even after a failed load.
            idle.survived = holder
                .check()
                .map_err(|e| format!("counting survivors at {n}: {e}"))?;
            idle.held = Some(loaded.map_err(|e| format!("the load with {n} held: {e}"))?.load);
        } else {
            idle.survived = holder
                .check()
                .map_err(|e| format!("counting survivors at {n}: {e}"))?;
        }
    }
    Ok(())
}

/// The loads of step 6, on `server` started with TLS.
fn tls_procedure(
    options: &Options,
    progress: &Progress,
    setup: &super::tls::Setup,
    server: &Server,
    tls: &mut TlsFigures,
) -> Result<(), String> {
    tls.negotiated = setup.probe(server.addr).map_err(|e| format!("probe: {e}"))?;
    let handshakes = |time| LoadOptions {
        connections: HANDSHAKE_CONNECTIONS,
        depth: 1,
        limit: Limit::Either(handshake_cap(), time),
        threads: 1,
        request: REQUEST_CLOSE.to_vec(),
    };
    progress.stage("TLS: warm-up");
    let warm = handshakes((options.duration / 4).min(Duration::from_millis(500)));
    setup
        .handshakes(server.addr, &warm)
        .map_err(|e| format!("warm-up: {e}"))?;
    let handshakes = handshakes(options.duration);
    progress.stage(&format!(
        "TLS: handshake rate, {HANDSHAKE_CONNECTIONS} connections at once"
    ));
    let best = best_of(server, options.repeat, || {
        setup.handshakes(server.addr, &handshakes)
    })
    .map_err(|e| format!("handshakes: {e}"))?;
    tls.cpu_per_handshake = Some(best.server_cpu);
    tls.client_cpu_per_handshake = Some(best.client_cpu);
    tls.handshakes = Some(best.load);

    let hello = keep_alive(options, 1);
    progress.stage(&format!("TLS: load at {} connections", options.connections));
    let best = best_of(server, options.repeat, || setup.load(server.addr, &hello))?;
    tls.cpu_per_request = Some(best.server_cpu);
    tls.client_cpu_per_request = Some(best.client_cpu);
    tls.hello = Some(best.load);
    Ok(())
}

/// The most fresh connections one handshake load opens: no more than the
/// kernel has ephemeral ports, so that even where the client's side of a
/// connection lingers in `TIME_WAIT` the ports are never used up.
fn handshake_cap() -> u64 {
    ephemeral_ports().unwrap_or(28_232)
}

/// The best of repeated loads: the run with the highest throughput (its
/// latencies with it), the least CPU per request of any run, and the
/// failed connections of every run. A shared machine only ever slows a
/// run down, so the best is the least disturbed.
struct Best {
    load: Load,
    /// Server CPU time per request.
    server_cpu: Duration,
    /// Our CPU time per request.
    client_cpu: Duration,
}

fn best_of(
    server: &Server,
    repeat: usize,
    load: impl Fn() -> io::Result<LoadReport>,
) -> Result<Best, String> {
    let mut best: Option<Best> = None;
    for _ in 0..repeat.max(1) {
        let (report, server_cpu, client_cpu) = timed(server, &load)?;
        let requests = report.requests.max(1) as f64;
        let run = Best {
            load: Load::from(&report),
            server_cpu: server_cpu.div_f64(requests),
            client_cpu: client_cpu.div_f64(requests),
        };
        best = Some(match best {
            None => run,
            Some(b) => {
                let errors = b.load.errors + run.load.errors;
                let mut load = if run.load.rate > b.load.rate {
                    run.load
                } else {
                    b.load
                };
                load.errors = errors;
                Best {
                    load,
                    server_cpu: b.server_cpu.min(run.server_cpu),
                    client_cpu: b.client_cpu.min(run.client_cpu),
                }
            }
        });
    }
    best.ok_or_else(|| "no load ran".to_owned())
}

/// Runs a load and reads the server's and our own CPU time around it.
fn timed(
    server: &Server,
    load: impl FnOnce() -> io::Result<LoadReport>,
) -> Result<(LoadReport, Duration, Duration), String> {
    // Only this process: the servers and the holder are its children.
    let me = std::process::id();
    let before = (server.usage(), usage_alone(me));
    let report = load().map_err(|e| format!("load: {e}"))?;
    let after = (server.usage(), usage_alone(me));
    match (before, after) {
        ((Ok(s0), Ok(c0)), (Ok(s1), Ok(c1))) => Ok((
            report,
            s1.cpu.saturating_sub(s0.cpu),
            c1.cpu.saturating_sub(c0.cpu),
        )),
        _ => Err(format!("{}: the server went away during the load", server.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand() {
        let vars = [
            ("host", "127.0.0.1".to_owned()),
            ("port", "9000".to_owned()),
            ("app", "demo:hello".to_owned()),
        ];
        assert_eq!(
            expand("--listen tcp:{port}:interface={host}  {app}", &vars),
            ["--listen", "tcp:9000:interface=127.0.0.1", "demo:hello"]
        );
        // Every template uses only known placeholders.
        let known = [
            "host",
            "port",
            "bind",
            "certfile",
            "keyfile",
            "backend",
            "engine",
            "io_threads",
            "keep_alive",
            "max_connections",
            "app",
        ];
        let all = known.iter().map(|k| (*k, "x".to_owned())).collect::<Vec<_>>();
        for template in PERSONALITIES
            .iter()
            .map(|p| p.template)
            .chain([RWSGI_TEMPLATE, TLS_FLAGS])
        {
            for word in expand(template, &all) {
                assert!(!word.contains('{') && !word.contains('}'), "{template}: {word}");
            }
        }
    }

    #[test]
    fn the_file_limit_check_names_the_limit_and_the_fix() {
        assert!(check_file_limit(5_000, 5_128, Some(20_000), Some(20_000)).is_ok());
        assert!(check_file_limit(5_000, 5_128, None, None).is_ok());
        let soft = check_file_limit(5_000, 5_128, Some(1_024), Some(20_000)).unwrap_err();
        assert!(
            soft.contains("RLIMIT_NOFILE") && soft.contains("ulimit -n 5128"),
            "{soft}"
        );
        let hard = check_file_limit(30_000, 30_128, Some(20_000), Some(20_000)).unwrap_err();
        assert!(
            hard.contains("hard limit is 20000") && hard.contains("smaller N"),
            "{hard}"
        );
    }
}
