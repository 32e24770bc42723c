//! `rwsgi bench` (being built).

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs `rwsgi bench`; `args[0]` is the program name.
pub fn main(
    _registry: rwsgi_core::Registry,
    _backends: &dyn rwsgi_core::Backends,
    _args: Vec<OsString>,
) -> ExitCode {
    eprintln!("rwsgi: bench is not built yet");
    ExitCode::from(2)
}
