//! `rwsgi`: serves the demo applications (`demo:hello`, `demo:environ`,
//! `demo:echo`, `demo:stream`, `demo:sleep`). `rwsgi --help` for options.

fn main() -> std::process::ExitCode {
    rwsgi::cli::main(rwsgi::demo::registry())
}
