//! `rwsgi bench`: the comparison runner's command line.
//!
//! ```sh
//! rwsgi bench                                  # every compiled backend × engine, N = 1000,5000
//! rwsgi bench --duration 5 -n 1000,5000,10000 --peers
//! rwsgi bench --backends smol --engines h1,hyper --out /tmp/results
//! rwsgi bench verify bench-results             # CI: the table parses, a row per backend × engine
//! ```
//!
//! `hold`, `control` and `yardstick` are the runner's own child processes
//! (hidden from `--help`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rwsgi_core::{Backends, Engine, Registry};

use super::process::Settle;
use super::report::{self, Context};
use super::runner::{
    self, CONTROL_BYTES, Group, Options, PEERS, PERSONALITIES, RWSGI_TEMPLATE, Subject, YARDSTICK,
};

#[derive(Parser, Debug)]
#[command(
    name = "rwsgi bench",
    about = "Compare every compiled backend × engine (and personality) as child processes: throughput, latency, \
             CPU per request, pipelining, and memory per idle connection.",
    args_conflicts_with_subcommands = true,
    after_help = "Writes table.md, results.json and chart.svg into --out and prints the table. \
                  See BENCHMARKS.md for what each figure means."
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Check a results folder: its table parses and has a row per compiled backend × engine
    Verify {
        /// The folder `rwsgi bench --out` wrote
        dir: PathBuf,
    },
    /// (the runner's child) hold standing connections; commands on stdin
    #[command(hide = true)]
    Hold {
        #[arg(long)]
        addr: SocketAddr,
    },
    /// (the runner's child) the control server: no parsing, B bytes held per connection
    #[command(hide = true)]
    Control {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
        #[arg(long, default_value_t = 0)]
        hold_bytes: usize,
    },
    /// (the runner's child) raw hyper on tokio, the yardstick
    #[command(hide = true)]
    Yardstick {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
        #[arg(long, default_value_t = 1)]
        io_threads: usize,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Seconds each load runs (a configuration takes about 4 loads plus settling)
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    duration: f64,
    /// Idle connections to hold, comma-separated (each measured in turn; 0 or empty: none)
    #[arg(
        short = 'n',
        long = "idle",
        value_name = "N,…",
        value_delimiter = ',',
        default_value = "1000,5000"
    )]
    idle: Vec<usize>,
    /// Backends to run, comma-separated [default: every one compiled in]
    #[arg(long, value_name = "NAME,…", value_delimiter = ',')]
    backends: Vec<String>,
    /// Engines to run, comma-separated [default: every one each backend drives]
    #[arg(long, value_name = "NAME,…", value_delimiter = ',')]
    engines: Vec<String>,
    /// Personalities: all (those whose subcommand is available), none, or names, comma-separated
    #[arg(long, value_name = "NAME,…", value_delimiter = ',', default_value = "all")]
    personalities: Vec<String>,
    /// Where personalities run: `default` (the first selected backend and its default engine) or `all` (every selected pair)
    #[arg(long, value_name = "WHICH", default_value = "default")]
    personality_on: String,
    /// Also run the peers, raw hyper and actix-web, from bench-peers (built with cargo on first use)
    #[arg(long)]
    peers: bool,
    /// The peers' Cargo.toml
    #[arg(long, value_name = "PATH", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/bench-peers/Cargo.toml"))]
    peers_manifest: PathBuf,
    /// Leave out the control servers (the load generator's ceiling and the memory method's check)
    #[arg(long)]
    no_control: bool,
    /// The results folder
    #[arg(long, value_name = "DIR", default_value = "bench-results")]
    out: PathBuf,
    /// Run each timed load K times and keep the best run (for a shared, noisy machine)
    #[arg(long, value_name = "K", default_value_t = 1)]
    repeat: usize,
    /// Active connections of each load
    #[arg(long, value_name = "N", default_value_t = 64)]
    connections: usize,
    /// Requests in flight per connection in the pipelined load
    #[arg(long, value_name = "N", default_value_t = 16)]
    depth: usize,
    /// Server event-loop threads
    #[arg(long, value_name = "N", default_value_t = 1)]
    io_threads: usize,
    /// Do not pin servers to CPU 1 and the client side to CPU 0
    #[arg(long)]
    no_pin: bool,
    /// Leave out the TLS loads (handshake rate, keep-alive load over TLS)
    #[arg(long)]
    no_tls: bool,
}

/// Runs `rwsgi bench`; `args[0]` is the program name.
pub fn main(_registry: Registry, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.mode {
        Some(Mode::Hold { addr }) => super::hold::main(addr),
        Some(Mode::Control { bind, hold_bytes }) => served(super::control::serve(bind, hold_bytes)),
        Some(Mode::Yardstick { bind, io_threads }) => served(super::yardstick::serve(bind, io_threads)),
        Some(Mode::Verify { dir }) => verify(backends, &dir),
        None => match run(backends, &cli.run) {
            Ok(()) => ExitCode::SUCCESS,
            Err((code, message)) => {
                eprintln!("rwsgi bench: error: {message}");
                ExitCode::from(code)
            }
        },
    }
}

fn served(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rwsgi bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The rows a report from this binary must have: one per compiled
/// backend × engine.
fn expected_rows(backends: &dyn Backends) -> Vec<String> {
    pairs(backends)
        .into_iter()
        .map(|(b, e)| format!("{b}/{e}"))
        .collect()
}

fn pairs(backends: &dyn Backends) -> Vec<(&'static str, Engine)> {
    backends
        .available()
        .into_iter()
        .flat_map(|(name, engines)| engines.iter().map(move |e| (name, *e)))
        .collect()
}

fn verify(backends: &dyn Backends, dir: &std::path::Path) -> ExitCode {
    let path = dir.join("table.md");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rwsgi bench verify: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let tls = cfg!(feature = "tls");
    match report::verify(&text, &expected_rows(backends), tls) {
        Ok(rows) => {
            println!(
                "rwsgi bench verify: {} parses; {rows} rows, one for each of {}{}",
                path.display(),
                expected_rows(backends).join(", "),
                if tls {
                    "; and the TLS table has each of them"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rwsgi bench verify: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The backend × engine pairs `args` selects.
///
/// # Errors
///
/// A usage message for an unknown or uncompiled backend, an unknown
/// engine, or an engine no selected backend drives.
fn select(backends: &dyn Backends, args: &RunArgs) -> Result<Vec<(&'static str, Engine)>, String> {
    let available = backends.available();
    let compiled: Vec<&str> = available.iter().map(|(n, _)| *n).collect();
    for name in &args.backends {
        if !compiled.contains(&name.as_str()) {
            return Err(if crate::backends::ALL.contains(&name.as_str()) {
                format!(
                    "--backends: the {name} backend is not compiled into this binary; rebuild with \
                     `--features {name}-backend` (compiled in: {})",
                    compiled.join(", ")
                )
            } else {
                format!(
                    "--backends: unknown backend {name:?} (backends: {}; compiled in: {})",
                    crate::backends::ALL.join(", "),
                    compiled.join(", ")
                )
            });
        }
    }
    let engines = args
        .engines
        .iter()
        .map(|e| e.parse::<Engine>().map_err(|err| format!("--engines: {err}")))
        .collect::<Result<Vec<_>, _>>()?;
    let chosen: Vec<(&'static str, Engine)> = pairs(backends)
        .into_iter()
        .filter(|(b, _)| args.backends.is_empty() || args.backends.iter().any(|n| n == b))
        .filter(|(_, e)| engines.is_empty() || engines.contains(e))
        .collect();
    for engine in &engines {
        if !chosen.iter().any(|(_, e)| e == engine) {
            let drives: Vec<String> = available
                .iter()
                .filter(|(b, _)| args.backends.is_empty() || args.backends.iter().any(|n| n == b))
                .map(|(b, es)| {
                    format!(
                        "{b}: {}",
                        es.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            return Err(format!(
                "--engines: no selected backend drives {engine} ({})",
                drives.join("; ")
            ));
        }
    }
    if chosen.is_empty() {
        return Err("nothing to run: no backend × engine pair is selected".into());
    }
    Ok(chosen)
}

fn run(backends: &dyn Backends, args: &RunArgs) -> Result<(), (u8, String)> {
    let usage = |m: String| (2u8, m);
    let failure = |m: String| (1u8, m);
    let duration = Duration::try_from_secs_f64(args.duration)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            usage(format!(
                "--duration: {} is not a positive number of seconds",
                args.duration
            ))
        })?;
    if args.connections == 0 || args.depth == 0 || args.io_threads == 0 || args.repeat == 0 {
        return Err(usage(
            "--connections, --depth, --io-threads and --repeat must be at least 1".into(),
        ));
    }
    let pairs = select(backends, args).map_err(usage)?;
    let exe = std::env::current_exe().map_err(|e| failure(format!("cannot find this program: {e}")))?;
    // The binary under test stays the same for the whole run, even if
    // `cargo build` replaces this one meanwhile.
    let private = Private::copy(&exe).map_err(|e| {
        failure(format!(
            "cannot copy {} to a temporary folder: {e}",
            exe.display()
        ))
    })?;
    let program = private.program.clone();
    let mut idle: Vec<usize> = args.idle.iter().copied().filter(|n| *n > 0).collect();
    idle.sort_unstable();
    idle.dedup();
    let pin = !args.no_pin && super::child::can_pin();
    // Made afresh for every run, beside the program copy (and removed with it).
    let tls = if cfg!(feature = "tls") && !args.no_tls {
        let setup = super::tls::Setup::generate(&private.dir).map_err(|e| {
            failure(format!(
                "cannot make the TLS certificate in {}: {e}",
                private.dir.display()
            ))
        })?;
        Some(setup)
    } else {
        None
    };
    let options = Options {
        duration,
        idle,
        connections: args.connections,
        depth: args.depth,
        repeat: args.repeat,
        io_threads: args.io_threads,
        pin,
        program: program.clone(),
        settle: Settle::default(),
        tls,
    };
    runner::check_limits(&options).map_err(usage)?;

    // The configurations, yardstick first.
    let mut subjects = vec![Subject {
        name: YARDSTICK.to_owned(),
        group: Group::Yardstick,
        program: program.clone(),
        template: "bench yardstick --bind {host}:{port} --io-threads {io_threads}".into(),
        loads: true,
        tls: false,
    }];
    for (backend, engine) in &pairs {
        subjects.push(Subject {
            name: format!("{backend}/{engine}"),
            group: Group::Backend {
                backend,
                engine: *engine,
            },
            program: program.clone(),
            template: RWSGI_TEMPLATE.into(),
            loads: true,
            tls: true,
        });
    }
    let (personalities, personality_note) = personalities(&program, args).map_err(usage)?;
    let on: Vec<(&'static str, Engine)> = match args.personality_on.as_str() {
        "all" => pairs.clone(),
        "default" => {
            // The first selected backend, on its default engine if selected.
            let backend = pairs[0].0;
            let default = backends
                .available()
                .into_iter()
                .find(|(b, _)| *b == backend)
                .map(|(_, es)| es[0]);
            vec![
                pairs
                    .iter()
                    .copied()
                    .find(|(b, e)| *b == backend && Some(*e) == default)
                    .unwrap_or(pairs[0]),
            ]
        }
        other => {
            return Err(usage(format!(
                "--personality-on: {other:?} is neither `default` nor `all`"
            )));
        }
    };
    for p in &personalities {
        for (backend, engine) in &on {
            subjects.push(Subject {
                name: format!("{} ({backend}/{engine})", p.name),
                group: Group::Personality {
                    name: p.name,
                    backend,
                    engine: *engine,
                },
                program: program.clone(),
                template: format!("{} {}", p.subcommand, p.template),
                loads: true,
                tls: false,
            });
        }
    }
    if args.peers {
        eprintln!(
            "rwsgi bench: building the peers (cargo build --release --manifest-path {})…",
            args.peers_manifest.display()
        );
        let dir = runner::build_peers(&args.peers_manifest).map_err(|e| failure(e.0))?;
        for (bin, name) in PEERS {
            subjects.push(Subject {
                name: (*name).to_owned(),
                group: Group::Peer,
                program: dir.join(bin),
                template: "--bind {host}:{port} --io-threads {io_threads}".into(),
                loads: true,
                tls: false,
            });
        }
    }
    if !args.no_control {
        for (bytes, loads) in [(0, true), (CONTROL_BYTES, false)] {
            subjects.push(Subject {
                name: format!("control, {} KiB held", bytes / 1024),
                group: Group::Control { bytes },
                program: program.clone(),
                template: format!("bench control --bind {{host}}:{{port}} --hold-bytes {bytes}"),
                loads,
                tls: false,
            });
        }
    }

    // Before pinning: pinned, this process sees one CPU.
    let machine = machine();
    super::child::stop_children_on_signals()
        .map_err(|e| failure(format!("cannot install signal handlers: {e}")))?;
    std::fs::create_dir_all(&args.out).map_err(|e| {
        failure(format!(
            "cannot create the results folder {}: {e}",
            args.out.display()
        ))
    })?;
    if pin {
        super::child::pin_self(0).map_err(|e| failure(e.to_string()))?;
    }
    // Every server starts before any is measured: a bad command line fails
    // the run in seconds, not after minutes of measuring.
    let mut progress = runner::Progress::new(subjects.len());
    for subject in &subjects {
        progress.subject(&subject.name);
        progress.stage("does it start?");
        if let Err(e) = starts(subject, &options) {
            progress.done();
            return Err(failure(e.0));
        }
    }
    let mut progress = runner::Progress::new(subjects.len());
    let mut figures = Vec::new();
    for subject in &subjects {
        progress.subject(&subject.name);
        match runner::measure(subject, &options, &progress) {
            Ok(f) => figures.push(f),
            Err(e) => {
                progress.done();
                return Err(failure(e.0));
            }
        }
    }
    progress.done();

    let context = Context {
        date: utc_now(),
        machine,
        personalities: personality_note,
    };
    let table = report::markdown(&figures, &options, &context);
    let json = report::json(&figures, &options, &context);
    let write = |name: &str, text: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| failure(format!("cannot write {}: {e}", path.display())))
    };
    write("table.md", &table)?;
    write(
        "results.json",
        &(serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"),
    )?;
    super::chart::write(&args.out.join("chart.svg"), &figures, &options).map_err(failure)?;
    println!("{table}");
    println!(
        "Written: {0}/table.md, {0}/results.json, {0}/chart.svg",
        args.out.display()
    );
    Ok(())
}

/// Starts `subject` and stops it again; with TLS too if it is measured so.
fn starts(subject: &Subject, options: &Options) -> Result<(), runner::RunError> {
    runner::start(subject, options)?.0.stop();
    if let (true, Some(setup)) = (subject.tls, &options.tls) {
        runner::start_tls(subject, options, setup)?.0.stop();
    }
    Ok(())
}

/// A copy of this program in a temporary folder, removed on drop.
struct Private {
    dir: PathBuf,
    program: PathBuf,
}

impl Private {
    fn copy(exe: &std::path::Path) -> std::io::Result<Private> {
        let dir = std::env::temp_dir().join(format!("rwsgi-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let program = dir.join("rwsgi");
        std::fs::copy(exe, &program)?;
        Ok(Private { dir, program })
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The personalities to run, and a sentence on which were left out.
fn personalities(
    program: &std::path::Path,
    args: &RunArgs,
) -> Result<(Vec<runner::Personality>, String), String> {
    let asked: Vec<&str> = args.personalities.iter().map(String::as_str).collect();
    let (all, names): (bool, Vec<&str>) = match asked.as_slice() {
        ["all"] => (true, PERSONALITIES.iter().map(|p| p.name).collect()),
        ["none"] | [] => (false, Vec::new()),
        names => (false, names.to_vec()),
    };
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let p = PERSONALITIES
            .iter()
            .find(|p| p.name == name || p.subcommand == name)
            .ok_or_else(|| {
                format!(
                    "--personalities: unknown personality {name:?} (personalities: {}; or all, none)",
                    PERSONALITIES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        match runner::available(program, p.subcommand) {
            Ok(()) => chosen.push(*p),
            Err(_) if all => missing.push(p.name),
            Err(why) => {
                return Err(format!(
                    "--personalities: the {} personality is not available in this binary: {why}",
                    p.name
                ));
            }
        }
    }
    let note = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "Personalities not available in this binary yet (their `--help` does not exit 0), so not run: {}.",
            missing.join(", ")
        )
    };
    Ok((chosen, note))
}

/// CPUs, CPU model and kernel.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |k| k.trim().to_owned());
    format!(
        "{cpus} CPU{} ({model}), Linux {kernel}",
        if cpus == 1 { "" } else { "s" }
    )
}

/// The time now, UTC, as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Backends for Fake {
        fn available(&self) -> Vec<(&'static str, &'static [Engine])> {
            vec![
                ("tokio", &[Engine::Hyper, Engine::H1]),
                ("smol", &[Engine::Hyper, Engine::AsyncH1, Engine::H1]),
            ]
        }

        fn serve(&self, _: &str, _: rwsgi_core::Launch) -> std::io::Result<()> {
            unreachable!()
        }
    }

    fn args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["rwsgi bench"];
        argv.extend(extra);
        Cli::try_parse_from(argv).unwrap().run
    }

    #[test]
    fn selects_pairs_and_refuses_what_is_not_there() {
        assert_eq!(select(&Fake, &args(&[])).unwrap().len(), 5);
        assert_eq!(
            select(&Fake, &args(&["--engines", "h1"])).unwrap(),
            [("tokio", Engine::H1), ("smol", Engine::H1)]
        );
        assert_eq!(
            select(
                &Fake,
                &args(&["--backends", "smol", "--engines", "async-h1,hyper"])
            )
            .unwrap(),
            [("smol", Engine::Hyper), ("smol", Engine::AsyncH1)]
        );
        let uncompiled = select(&Fake, &args(&["--backends", "async-std"])).unwrap_err();
        assert!(
            uncompiled.contains("not compiled") && uncompiled.contains("--features async-std-backend"),
            "{uncompiled}"
        );
        assert!(
            select(&Fake, &args(&["--backends", "glommio"]))
                .unwrap_err()
                .contains("unknown backend")
        );
        let undriven = select(&Fake, &args(&["--backends", "tokio", "--engines", "async-h1"])).unwrap_err();
        assert!(
            undriven.contains("no selected backend drives async-h1"),
            "{undriven}"
        );
        assert!(select(&Fake, &args(&["--engines", "h3"])).is_err());
    }

    #[test]
    fn the_date_is_civil() {
        let now = utc_now();
        assert!(
            now.len() == "2026-11-20 23:36 UTC".len() && now.ends_with(" UTC"),
            "{now}"
        );
        assert!(now.starts_with("20"), "{now}");
    }
}
