//! # rwsgi-gunicorn
//!
//! gunicorn's process model and operator surface for rwsgi applications: a
//! master that binds, pre-forks N workers sharing the listening sockets,
//! watches their heartbeats and replaces them; gunicorn's flags, config
//! settings, signals and log lines. Each worker serves on whichever backend
//! `--backend`/`--engine` choose, through [`rwsgi_core::Backends`].
//!
//! ```text
//! rwsgi gunicorn -w 4 -b 127.0.0.1:4000 myproject:app
//! ```
//!
//! A program with its own applications gets the same command line:
//!
//! ```no_run
//! use std::process::ExitCode;
//! use rwsgi_gunicorn::{Arbiter, Gunicorn, Hooks, Worker};
//! # fn app(_: &mut rwsgi_core::Environ, _: &rwsgi_core::StartResponse) -> rwsgi_core::Result<rwsgi_core::Body> { todo!() }
//! # struct Compiled;
//! # impl rwsgi_core::Backends for Compiled {
//! #     fn available(&self) -> Vec<(&'static str, &'static [rwsgi_core::Engine])> { vec![] }
//! #     fn serve(&self, _: &str, _: rwsgi_core::Launch) -> std::io::Result<()> { Ok(()) }
//! # }
//!
//! struct MyHooks;
//! impl Hooks for MyHooks {
//!     fn post_fork(&self, _server: &Arbiter, worker: &Worker) {
//!         worker.log.info(format_args!("resetting the pools of worker {}", worker.pid));
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     let registry = rwsgi_core::Registry::new().app("myproject:app", app);
//!     // `myproject -w 4 -b 127.0.0.1:4000 myproject:app`
//!     Gunicorn::new(registry)
//!         .hooks(MyHooks)
//!         .run(&Compiled /* rwsgi::backends::Compiled */, std::env::args_os().collect())
//! }
//! ```
//!
//! See the crate's README for the flags, signals, the TOML config file and
//! every difference from gunicorn.

mod arbiter;
mod daemon;
mod glog;
mod hooks;
mod pidfile;
mod scheme;
pub mod settings;
mod signals;
mod tmp;
mod worker;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use rwsgi_core::{Backends, Registry};

pub use glog::{AccessFormat, Log};
pub use hooks::{Arbiter, DefaultHooks, Hooks, Worker};
pub use settings::{Settings, WorkerClass};

/// Runs the personality's command line; `args[0]` is the program name.
/// This is `rwsgi gunicorn …`.
pub fn main(registry: Registry, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
    Gunicorn::new(registry).run(backends, args)
}

/// The gunicorn personality, with a program's applications and hooks.
pub struct Gunicorn {
    registry: Registry,
    hooks: Option<Arc<dyn Hooks>>,
}

impl Gunicorn {
    /// A personality serving `registry`'s applications.
    pub fn new(registry: Registry) -> Self {
        Gunicorn {
            registry,
            hooks: None,
        }
    }

    /// Installs server hooks (gunicorn's `on_starting`, `post_fork`, …).
    /// With hooks installed, `post_request` runs for every response (an
    /// access-log record is made for each, even without an access log).
    #[must_use]
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// Runs the command line `args` (`args[0]` is the program name) until
    /// the master stops; returns the process's exit status: 0, 1 for a bad
    /// configuration, 2 for a bad command line, 3 when a worker failed to
    /// boot, 4 when the application failed to load.
    pub fn run(self, backends: &dyn Backends, args: Vec<OsString>) -> ExitCode {
        ExitCode::from(self.run_code(backends, args))
    }

    fn run_code(self, backends: &dyn Backends, args: Vec<OsString>) -> u8 {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        let env = arbiter::environment();
        let settings = match settings::load(&args, &|k| std::env::var(k).ok()) {
            Ok(settings) => settings,
            Err(settings::LoadError::Usage(err)) => {
                let _ = err.print();
                return u8::try_from(err.exit_code()).unwrap_or(2);
            }
            Err(settings::LoadError::UsageMessage(message)) => {
                let program = args
                    .first()
                    .map_or_else(|| "gunicorn".into(), |a| a.to_string_lossy().into_owned());
                eprintln!("usage: {program} [OPTIONS] [APP_MODULE]\n{program}: error: {message}");
                return 2;
            }
            Err(settings::LoadError::Config(message)) => {
                eprintln!("\nError: {message}\n");
                return 1;
            }
        };
        if let Err(err) = std::env::set_current_dir(&settings.chdir) {
            eprintln!("\nError: can't chdir to {:?}: {err}\n", settings.chdir);
            return 1;
        }
        let class = match settings.worker_class() {
            Ok(class) => class,
            Err(err) => {
                eprintln!("\nError: {err}\n");
                return 1;
            }
        };
        // The certificate and key are read now, before any fork: a wrong
        // file is an error naming it, not a worker that cannot boot.
        if let Err(err) = settings::check_tls(&settings) {
            eprintln!("\nError: {err}\n");
            return 1;
        }
        let backend = match backends.choose(settings.backend.as_deref(), settings.engine) {
            Ok(backend) => backend,
            Err(err) => {
                eprintln!("\nError: {err}\n");
                return 2;
            }
        };
        let spec = settings.wsgi_app.clone().unwrap_or_default();
        if settings.print_config {
            print!("{}", settings.print());
        }
        if settings.print_config || settings.check_config {
            return match worker::load_app(&self.registry, &spec) {
                Ok(_) => 0,
                Err((_, message)) => {
                    eprintln!("\nError while loading the application:\n\n{message}");
                    1
                }
            };
        }
        if !worker::is_registered(&self.registry, &spec) {
            let (code, message) = worker::unknown_spec(&self.registry, &spec);
            eprintln!("\nError: {message}\n");
            return u8::try_from(code).unwrap_or(1);
        }
        let log = match Log::open(
            glog::parse_level(&settings.loglevel),
            &settings.errorlog,
            settings.accesslog.as_deref(),
            &settings.access_log_format,
        ) {
            Ok(log) => log,
            Err(err) => {
                eprintln!("\nError: {err}\n");
                return 1;
            }
        };
        if threads() > 1 {
            log.warning(format_args!(
                "the process has {} threads before forking workers; only this one will exist in them",
                threads()
            ));
        }
        for entry in &settings.raw_env {
            if let Some((key, value)) = entry.split_once('=') {
                // SAFETY: the master is single-threaded (checked above): no
                // other thread reads the environment while it changes.
                unsafe { std::env::set_var(key, value) };
            }
        }
        if settings.daemon && std::env::var_os("GUNICORN_FD").is_none() {
            if let Err(err) = daemon::daemonize() {
                log.error(format_args!("Cannot daemonize: {err}"));
                return 1;
            }
        }
        let preloaded = if settings.preload_app {
            match worker::load_app(&self.registry, &spec) {
                Ok(app) => Some(app),
                Err((code, message)) => {
                    log.error(format_args!("Exception in loading the application: {message}"));
                    return u8::try_from(code).unwrap_or(1);
                }
            }
        } else {
            None
        };
        let custom_hooks = self.hooks.is_some();
        let start = arbiter::Start {
            args,
            registry: self.registry,
            backends,
            backend,
            hooks: self.hooks.unwrap_or_else(|| Arc::new(DefaultHooks)),
            custom_hooks,
            cwd,
            env,
            preloaded,
        };
        arbiter::Master::new(start, settings, log, class).run()
    }
}

/// Sends `signal` (a name as `kill -l` spells it, with or without `SIG`:
/// `HUP`, `TERM`, `TTIN`, …) to `pid`, or to the process group `-pid` —
/// what `kill -HUP $(cat gunicorn.pid)` does, for programs that control a
/// master (deploy tools, tests).
///
/// # Errors
///
/// An unknown signal name, or what `kill(2)` returns.
pub fn kill(pid: i32, signal: &str) -> std::io::Result<()> {
    let name = signal.trim().to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    let signal: nix::sys::signal::Signal = name.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unknown signal {signal:?}"),
        )
    })?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(std::io::Error::from)
}

/// The number of threads of this process (from `/proc`; 1 if unknown).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, Iterator::count)
}
