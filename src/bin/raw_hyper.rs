//! The yardstick: hyper 1 on tokio answering every request with the bytes
//! `demo:hello` sends, and nothing else — no environ, no gateway. Every
//! benchmark figure is also given as a ratio to it, measured in the same
//! run. Prints the same "listening on" lines as `rwsgi`. (`rwsgi bench
//! yardstick` runs the same server.)
//!
//! ```sh
//! rwsgi-raw-hyper --bind 127.0.0.1:0 --io-threads 1
//! ```

use std::net::SocketAddr;

fn main() -> std::io::Result<()> {
    let mut bind: SocketAddr = "127.0.0.1:8000".parse().unwrap();
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--bind", Some(v)) => bind = v.parse().map_err(std::io::Error::other)?,
            ("--io-threads", Some(v)) => threads = v.parse().map_err(std::io::Error::other)?,
            _ => {
                return Err(std::io::Error::other(format!(
                    "usage: rwsgi-raw-hyper [--bind ADDR] [--io-threads N] (got {arg})"
                )));
            }
        }
    }
    rwsgi::bench::yardstick::serve(bind, threads)
}
