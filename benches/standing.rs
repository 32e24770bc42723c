//! `standing`: N standing keep-alive connections on every compiled backend
//! × engine (and on raw hyper, the yardstick); one iteration is one
//! request on every one of them, so criterion's throughput is requests/s.
//!
//! The server is a child process pinned to CPU 1 (one event-loop thread).
//! The connections are held by another child process, `rwsgi bench hold`,
//! pinned to CPU 0: it opens them in setup (each completing one request),
//! and criterion times rounds of requests over them with `iter_custom`,
//! the time taken inside the holder. Neither the client's work nor its
//! memory is the server's, and each process has its own open-file limit
//! (20 000 here), so N may go up to about that limit.
//!
//! criterion's async executors (and the async-std one 0.8 dropped) are not
//! needed: the timed work happens in the holder process, which drives
//! blocking sockets, so `iter_custom` only waits for its answer.
//!
//! ```sh
//! cargo bench --bench standing                          # N = 1000 and 5000
//! RWSGI_STANDING=10000 cargo bench --bench standing     # up to the fd limit
//! ```

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rwsgi::bench::runner::check_file_limit;
use rwsgi::bench::server::START_TIMEOUT;
use rwsgi::bench::{Holder, Server, Spawn, can_pin};

/// N from `RWSGI_STANDING` (comma-separated), 1 000 and 5 000 by default,
/// checked against the open-file limit.
fn counts() -> Vec<usize> {
    let text = std::env::var("RWSGI_STANDING").unwrap_or_else(|_| "1000,5000".into());
    let counts: Vec<usize> = text
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("RWSGI_STANDING: {n:?} is not a number"))
        })
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    let (soft, hard) = rwsgi::bench::process::open_file_limit().expect("the open-file limit");
    if let Err(e) = check_file_limit(max, max as u64 + 128, soft, hard) {
        panic!("RWSGI_STANDING: {e}");
    }
    counts
}

/// Every server: name, program and arguments, for `n` held connections.
fn servers(n: usize) -> Vec<(String, &'static str, Vec<String>)> {
    let common = ["--bind", "127.0.0.1:0", "--io-threads", "1"].map(String::from);
    let mut servers = vec![(
        "raw hyper (yardstick)".to_owned(),
        env!("CARGO_BIN_EXE_rwsgi-raw-hyper"),
        common.to_vec(),
    )];
    for (backend, engine) in rwsgi::cli::combinations() {
        let mut args = common.to_vec();
        args.extend(
            [
                "--backend",
                backend,
                "--engine",
                engine.name(),
                "--keep-alive",
                "3600",
                "--max-connections",
                &(n + 128).to_string(),
                "demo:hello",
            ]
            .map(String::from),
        );
        servers.push((format!("{backend}/{engine}"), env!("CARGO_BIN_EXE_rwsgi"), args));
    }
    servers
}

fn standing(c: &mut Criterion) {
    let pin = can_pin();
    // Ctrl-C ends the servers too (they run in process groups of their own).
    let _ = rwsgi::bench::child::stop_children_on_signals();
    let mut survivors = Vec::new();
    for n in counts() {
        let mut group = c.benchmark_group(format!("standing/{n}"));
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        for (name, program, args) in servers(n) {
            let mut spawn = Spawn::new(program, args);
            spawn.pin = pin.then_some(1);
            let server = Server::start(&name, &spawn, None, START_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
            let mut holder = Holder::spawn(
                env!("CARGO_BIN_EXE_rwsgi").as_ref(),
                server.addr,
                pin.then_some(0),
            )
            .unwrap_or_else(|e| panic!("{name}: the holder: {e}"));
            holder
                .open(n)
                .unwrap_or_else(|e| panic!("{name}: opening {n} standing connections: {e}"));
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let (elapsed, errors) = holder.rounds(iters).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(errors, 0, "{name}: standing connections failed");
                    elapsed
                })
            });
            let open = holder.check().unwrap_or_else(|e| panic!("{name}: {e}"));
            survivors.push((name, n, open));
            drop(holder);
            server.stop();
        }
        group.finish();
    }
    println!("\nstanding connections still open after their bench:\n");
    println!("| server | N | still open |");
    println!("|---|---:|---:|");
    for (name, n, open) in &survivors {
        println!("| {name} | {n} | {open} |");
    }
    let lost: Vec<_> = survivors.iter().filter(|(_, n, open)| open < n).collect();
    assert!(lost.is_empty(), "servers closed standing connections: {lost:?}");
}

criterion_group!(benches, standing);
criterion_main!(benches);
