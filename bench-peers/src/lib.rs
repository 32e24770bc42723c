//! What both peers share: their command line (`--bind ADDR --io-threads N`,
//! as `rwsgi-raw-hyper` takes) and the lines `rwsgi bench` reads.

use std::net::SocketAddr;

/// The peer's options.
pub struct Options {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Event-loop threads (actix: workers).
    pub io_threads: usize,
}

/// Parses `--bind ADDR --io-threads N`.
pub fn options(program: &str) -> Result<Options, String> {
    let mut options = Options {
        bind: "127.0.0.1:8000".parse().expect("a literal address"),
        io_threads: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--bind", Some(v)) => options.bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?,
            ("--io-threads", Some(v)) => {
                options.io_threads = v.parse().map_err(|e| format!("--io-threads {v}: {e}"))?
            }
            _ => {
                return Err(format!(
                    "usage: {program} [--bind ADDR] [--io-threads N] (got {arg})"
                ));
            }
        }
    }
    Ok(options)
}

/// The lines `rwsgi bench` waits for.
pub fn announce(addr: SocketAddr, what: &str) {
    println!("rwsgi: listening on http://{addr}");
    println!("rwsgi: serving {what}");
}

/// demo:hello's body.
pub const BODY: &[u8] = b"Hello, World!\n";
