//! `hello`: hello-world throughput at 64 keep-alive connections, every
//! compiled backend next to raw hyper on tokio (the yardstick), in one run.
//!
//! Each server is a child process pinned to CPU 1 with one event-loop
//! thread; the load generator runs here, pinned to CPU 0. criterion times
//! requests; then each server gets a fixed 2-second load while its CPU time
//! is read from /proc, and a table of throughput and server CPU time per
//! request — each also as a ratio to the yardstick — is printed.
//!
//! ```sh
//! cargo bench --bench hello
//! RWSGI_BENCH_SECONDS=5 cargo bench --bench hello   # longer CPU runs
//! ```

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rwsgi::bench::{Limit, LoadOptions, Server, Spawn, can_pin, drive, usage};

/// A server under test, as a child process pinned to CPU 1 (where the
/// machine has two).
fn start(name: &str, program: &str, args: &[&str]) -> Server {
    let mut spawn = Spawn::new(program, args.iter().copied());
    spawn.pin = can_pin().then_some(1);
    Server::start(name, &spawn, None, rwsgi::bench::server::START_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn subjects() -> Vec<Server> {
    let common = ["--bind", "127.0.0.1:0", "--io-threads", "1"];
    let mut subjects = vec![start(
        "raw hyper (yardstick)",
        env!("CARGO_BIN_EXE_rwsgi-raw-hyper"),
        &common,
    )];
    for (backend, engine) in rwsgi::cli::combinations() {
        let mut args = common.to_vec();
        args.extend([
            "--backend",
            backend,
            "--engine",
            engine.name(),
            "--keep-alive",
            "60",
            "demo:hello",
        ]);
        subjects.push(start(
            &format!("{backend}/{engine}"),
            env!("CARGO_BIN_EXE_rwsgi"),
            &args,
        ));
    }
    subjects
}

fn pin_client() {
    if let Some(core) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().next()) {
        core_affinity::set_for_current(core);
    }
}

fn hello(c: &mut Criterion) {
    pin_client();
    // Ctrl-C ends the servers too (they run in process groups of their own).
    let _ = rwsgi::bench::child::stop_children_on_signals();
    let subjects = subjects();
    let mut group = c.benchmark_group("hello");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for subject in &subjects {
        group.bench_function(&subject.name, |b| {
            b.iter_custom(|iters| {
                let report = drive(subject.addr, &LoadOptions::hello(64, Limit::Requests(iters))).unwrap();
                assert_eq!(report.errors, 0, "{}: failed connections", subject.name);
                report.elapsed
            })
        });
    }
    group.finish();
    cpu_table(&subjects);
}

/// A fixed load per server with its CPU time read before and after.
fn cpu_table(subjects: &[Server]) {
    let seconds: u64 = std::env::var("RWSGI_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut rows = Vec::new();
    for subject in subjects {
        let before = usage(subject.pid()).unwrap();
        let report = drive(
            subject.addr,
            &LoadOptions::hello(64, Limit::Time(Duration::from_secs(seconds))),
        )
        .unwrap();
        let after = usage(subject.pid()).unwrap();
        let cpu_us = (after.cpu - before.cpu).as_secs_f64() * 1e6 / report.requests.max(1) as f64;
        rows.push((subject.name.clone(), report.rate(), cpu_us));
    }
    let (base_rate, base_cpu) = (rows[0].1, rows[0].2);
    println!("\nhello, 64 connections, {seconds} s each, server on one pinned thread:\n");
    println!("| server | requests/s | × yardstick | server CPU µs/request | × yardstick |");
    println!("|---|---:|---:|---:|---:|");
    for (name, rate, cpu) in &rows {
        println!(
            "| {name} | {rate:.0} | {:.2} | {cpu:.2} | {:.2} |",
            rate / base_rate,
            cpu / base_cpu
        );
    }
}

criterion_group!(benches, hello);
criterion_main!(benches);
