//! What `rwsgi bench` writes: a markdown report (the results table first,
//! every figure with its ratio to the yardstick; then standing connections
//! and TLS), the same figures as JSON, and the check CI runs on the
//! tables.

use std::fmt::Write as _;
use std::time::Duration;

use super::runner::{CONTROL_BYTES, Figures, Group, HANDSHAKE_CONNECTIONS, Load, Options, TlsFigures};

/// The results table's columns, after the configuration's name.
pub const COLUMNS: [&str; 9] = [
    "req/s @64",
    "p50 ms",
    "p99 ms",
    "server CPU µs/req",
    "pipelined req/s",
    "pipelined CPU µs/req",
    "req/s, N held",
    "KiB/idle conn",
    "survived",
];

/// The heading the results table follows.
pub const RESULTS_HEADING: &str = "## Results";

/// The TLS table's columns, after the configuration's name.
pub const TLS_COLUMNS: [&str; 6] = [
    "handshakes/s",
    "server CPU µs/handshake",
    "TLS req/s @64",
    "p99 ms",
    "server CPU µs/req",
    "TLS ÷ plain",
];

/// The heading the TLS table follows.
pub const TLS_HEADING: &str = "## TLS";

/// Facts about the run, for the report's head.
#[derive(Clone, Debug)]
pub struct Context {
    /// When (UTC).
    pub date: String,
    /// CPUs, model, kernel.
    pub machine: String,
    /// Personalities found available (and those not).
    pub personalities: String,
}

/// The markdown report.
pub fn markdown(figures: &[Figures], options: &Options, context: &Context) -> String {
    let base = figures.iter().find(|f| f.group == Group::Yardstick);
    let max_n = options.max_idle();
    let mut out = String::new();
    let _ = writeln!(out, "# rwsgi bench, {}\n", context.date);
    let _ = writeln!(
        out,
        "Machine: {}. {}Each load ran {:.1} s{} on {} keep-alive connections (pipelined: {} requests at a time on \
         each), idle connections held: {}. Servers: `--io-threads {}`. Ratios (×) are to the yardstick, raw hyper on tokio \
         (`rwsgi bench yardstick`), measured in this run. {}\n",
        context.machine,
        if options.pin {
            "Servers pinned to CPU 1; the load generator and the holder of idle connections to CPU 0. "
        } else {
            "Nothing pinned. "
        },
        options.duration.as_secs_f64(),
        if options.repeat > 1 {
            format!(
                " (best of {} runs: the highest throughput, the least CPU per request)",
                options.repeat
            )
        } else {
            String::new()
        },
        options.connections,
        options.depth,
        if options.idle.is_empty() {
            "none".to_owned()
        } else {
            options
                .idle
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
        options.io_threads,
        context.personalities,
    );

    let _ = writeln!(out, "{RESULTS_HEADING}\n");
    let _ = writeln!(
        out,
        "N = {max_n}. p50/p99: time from writing a request to its answer at {} connections. \
         Server CPU: user + system time of the server's processes per request (pipelined: the same \
         during the pipelined load). KiB/idle conn: (RSS with N held − RSS with none) / N.\n",
        options.connections
    );
    let _ = writeln!(out, "| configuration | {} |", COLUMNS.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(COLUMNS.len()));
    for f in figures
        .iter()
        .filter(|f| !matches!(f.group, Group::Control { .. }))
    {
        let idle = f.idle.iter().find(|i| i.n == max_n);
        let base_idle = base.and_then(|b| b.idle.iter().find(|i| i.n == max_n));
        let cells = [
            cell(rate(&f.hello), base.and_then(|b| rate(&b.hello)), 0),
            cell(
                ms(&f.hello, |l| l.p50),
                base.and_then(|b| ms(&b.hello, |l| l.p50)),
                3,
            ),
            cell(
                ms(&f.hello, |l| l.p99),
                base.and_then(|b| ms(&b.hello, |l| l.p99)),
                3,
            ),
            cell(us(f.cpu_per_request), base.and_then(|b| us(b.cpu_per_request)), 2),
            cell(rate(&f.pipelined), base.and_then(|b| rate(&b.pipelined)), 0),
            cell(
                us(f.cpu_per_pipelined),
                base.and_then(|b| us(b.cpu_per_pipelined)),
                2,
            ),
            cell(
                idle.and_then(|i| rate(&i.held)),
                base_idle.and_then(|i| rate(&i.held)),
                0,
            ),
            cell(
                idle.map(|i| i.per_connection / 1024.0),
                base_idle.map(|i| i.per_connection / 1024.0),
                2,
            ),
            idle.map_or("—".to_owned(), |i| format!("{}/{}", i.survived, i.n)),
        ];
        let _ = writeln!(out, "| {} | {} |", f.name, cells.join(" | "));
    }

    if !options.idle.is_empty() {
        let _ = writeln!(out, "\n## Standing connections\n");
        let _ = writeln!(
            out,
            "Per N: KiB of server RSS per idle connection (× the yardstick's); the {}-connection throughput with N held \
             as a share of the same server's with none held; connections the server still held open after that load.\n",
            options.connections
        );
        let mut head = String::from("| configuration |");
        let mut rule = String::from("|---|");
        for n in &options.idle {
            let _ = write!(head, " KiB/conn @{n} | held ÷ none @{n} | survived @{n} |");
            rule.push_str("---:|---:|---:|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for f in figures {
            let mut row = format!("| {} |", f.name);
            for n in &options.idle {
                let idle = f.idle.iter().find(|i| i.n == *n);
                let base_idle = base.and_then(|b| b.idle.iter().find(|i| i.n == *n));
                let kib = cell(
                    idle.map(|i| i.per_connection / 1024.0),
                    base_idle.map(|i| i.per_connection / 1024.0),
                    2,
                );
                let kib = if idle.is_some_and(|i| !i.settled) {
                    format!("{kib} (unsettled)")
                } else {
                    kib
                };
                let share = match (idle.and_then(|i| rate(&i.held)), rate(&f.hello)) {
                    (Some(held), Some(none)) if none > 0.0 => format!("{:.2}", held / none),
                    _ => "—".to_owned(),
                };
                let survived = idle.map_or("—".to_owned(), |i| format!("{}/{}", i.survived, i.n));
                let _ = write!(row, " {kib} | {share} | {survived} |");
            }
            let _ = writeln!(out, "{row}");
        }
    }

    tls(&mut out, figures, options);
    method(&mut out, figures, options);
    targets(&mut out, figures, options);

    let noted: Vec<_> = figures.iter().filter(|f| !f.notes.is_empty()).collect();
    let errors: Vec<_> = figures
        .iter()
        .filter_map(|f| {
            let mut loads = vec![("64 connections", &f.hello), ("pipelined", &f.pipelined)];
            loads.extend(f.idle.iter().map(|i| ("with idle held", &i.held)));
            if let Some(t) = &f.tls {
                loads.extend([
                    ("TLS handshakes", &t.handshakes),
                    ("TLS, 64 connections", &t.hello),
                ]);
            }
            let failed: Vec<_> = loads
                .into_iter()
                .filter_map(|(what, l)| {
                    l.as_ref()
                        .filter(|l| l.errors > 0)
                        .map(|l| format!("{what}: {} failed connections", l.errors))
                })
                .collect();
            (!failed.is_empty()).then(|| format!("{}: {}", f.name, failed.join("; ")))
        })
        .collect();
    if !noted.is_empty() || !errors.is_empty() {
        let _ = writeln!(out, "\n## Problems\n");
        for f in noted {
            for note in &f.notes {
                let _ = writeln!(out, "- {}: {}", f.name, note.replace('\n', " "));
            }
        }
        for e in errors {
            let _ = writeln!(out, "- {e}");
        }
    }
    let _ = writeln!(out, "\n## Command lines\n");
    for f in figures {
        let _ = writeln!(
            out,
            "- {}: `{}` ({} process{})",
            f.name,
            f.command,
            f.processes,
            if f.processes == 1 { "" } else { "es" }
        );
        if let Some(t) = &f.tls {
            let _ = writeln!(out, "- {} (TLS): `{}`", f.name, t.command);
        }
    }
    out
}

/// The TLS table: each server that was measured with TLS, ratios to the
/// first such (the yardstick has no TLS).
fn tls(out: &mut String, figures: &[Figures], options: &Options) {
    let rows: Vec<(&Figures, &TlsFigures)> = figures
        .iter()
        .filter_map(|f| f.tls.as_ref().map(|t| (f, t)))
        .collect();
    let Some(&(_, base)) = rows.first() else {
        return;
    };
    let mut negotiated: Vec<&str> = rows
        .iter()
        .map(|(_, t)| t.negotiated.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    negotiated.dedup();
    let _ = writeln!(out, "\n{TLS_HEADING}\n");
    let _ = writeln!(
        out,
        "Each backend × engine started again with `--bind https://…` and a {}; the client is rustls on ring \
         (tokio-rustls), trusting that certificate only, with SNI `{}` and ALPN `http/1.1`. Negotiated: {}. \
         Handshakes/s: {HANDSHAKE_CONNECTIONS} connections at once, each a full handshake (the client keeps no \
         sessions and checks that none was resumed), one `GET /` with `Connection: close`, its answer and the \
         server's close; server CPU µs/handshake includes that request. TLS req/s, p99, server CPU µs/req: the \
         {}-connection load over TLS keep-alive connections (their handshakes done before the clock starts). Ratios \
         (×) are to the first row. TLS ÷ plain: TLS req/s over the same server's req/s @{} in the results table.\n",
        super::tls::CERTIFICATE,
        super::tls::SERVER_NAME,
        if negotiated.is_empty() {
            "—".to_owned()
        } else {
            negotiated.join("; ")
        },
        options.connections,
        options.connections,
    );
    let _ = writeln!(out, "| configuration | {} |", TLS_COLUMNS.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(TLS_COLUMNS.len()));
    for (f, t) in rows {
        let p99 = |t: &TlsFigures| ms(&t.hello, |l| l.p99);
        let share = match (rate(&t.hello), rate(&f.hello)) {
            (Some(tls), Some(plain)) if plain > 0.0 => format!("{:.2}", tls / plain),
            _ => "—".to_owned(),
        };
        let cells = [
            cell(rate(&t.handshakes), rate(&base.handshakes), 0),
            cell(us(t.cpu_per_handshake), us(base.cpu_per_handshake), 1),
            cell(rate(&t.hello), rate(&base.hello), 0),
            cell(p99(t), p99(base), 3),
            cell(us(t.cpu_per_request), us(base.cpu_per_request), 2),
            share,
        ];
        let _ = writeln!(out, "| {} | {} |", f.name, cells.join(" | "));
    }
}

/// The control servers and the load generator's own cost.
fn method(out: &mut String, figures: &[Figures], options: &Options) {
    let zero = figures.iter().find(|f| f.group == Group::Control { bytes: 0 });
    let held = figures
        .iter()
        .find(|f| f.group == Group::Control { bytes: CONTROL_BYTES });
    if zero.is_none() && held.is_none() {
        return;
    }
    let _ = writeln!(out, "\n## The method and the load generator\n");
    if let (Some(zero), Some(held)) = (zero, held) {
        let _ = writeln!(
            out,
            "RSS per idle connection, checked on the control server (`rwsgi bench control`: no HTTP parsing; each \
             connection is a tokio task with a 4 KiB read buffer, and in the second run {} KiB more, written so it is \
             resident). The difference should recover {} KiB:\n",
            CONTROL_BYTES / 1024,
            CONTROL_BYTES / 1024
        );
        let _ = writeln!(
            out,
            "| N | control, 0 KiB held | control, {} KiB held | difference | recovered |",
            CONTROL_BYTES / 1024
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
        for n in &options.idle {
            let a = zero.idle.iter().find(|i| i.n == *n);
            let b = held.idle.iter().find(|i| i.n == *n);
            if let (Some(a), Some(b)) = (a, b) {
                let diff = (b.per_connection - a.per_connection) / 1024.0;
                let _ = writeln!(
                    out,
                    "| {n} | {:.2} KiB | {:.2} KiB | {diff:.2} KiB | {:.1} % |",
                    a.per_connection / 1024.0,
                    b.per_connection / 1024.0,
                    diff * 1024.0 / CONTROL_BYTES as f64 * 100.0
                );
            }
        }
    }
    if let Some(zero) = zero {
        let _ = writeln!(
            out,
            "\nThe load generator against the control server (which does no parsing, so this is the generator's ceiling \
             on this machine; its CPU time is its cost per request):\n"
        );
        let _ = writeln!(
            out,
            "| load | req/s | load generator CPU µs/req | control server CPU µs/req |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let fmt_us =
            |d: Option<Duration>| d.map_or("—".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1e6));
        let _ = writeln!(
            out,
            "| {} connections | {} | {} | {} |",
            options.connections,
            rate(&zero.hello).map_or("—".to_owned(), |r| format!("{r:.0}")),
            fmt_us(zero.client_cpu_per_request),
            fmt_us(zero.cpu_per_request)
        );
        let _ = writeln!(
            out,
            "| {} connections × depth {} | {} | {} | — |",
            options.connections,
            options.depth,
            rate(&zero.pipelined).map_or("—".to_owned(), |r| format!("{r:.0}")),
            fmt_us(zero.client_cpu_per_pipelined),
        );
    }
}

/// The performance targets, met or not, in this run.
fn targets(out: &mut String, figures: &[Figures], options: &Options) {
    let Some(base) = figures.iter().find(|f| f.group == Group::Yardstick) else {
        return;
    };
    let _ = writeln!(out, "\n## Targets\n");
    for f in figures {
        let Group::Backend { engine, .. } = &f.group else {
            continue;
        };
        if *engine == rwsgi_core::Engine::Hyper {
            if let (Some(cpu), Some(base_cpu), Some(r), Some(base_r)) = (
                us(f.cpu_per_request),
                us(base.cpu_per_request),
                rate(&f.hello),
                rate(&base.hello),
            ) {
                let ok = cpu <= 1.1 * base_cpu && r >= 0.9 * base_r;
                let _ = writeln!(
                    out,
                    "- hello, {}: CPU/request {:.2}× (≤ 1.1), throughput {:.2}× (≥ 0.9): {}",
                    f.name,
                    cpu / base_cpu,
                    r / base_r,
                    if ok { "met" } else { "**not met**" }
                );
            }
        }
    }
    let n = options
        .idle
        .iter()
        .copied()
        .filter(|n| *n >= 5_000)
        .min()
        .unwrap_or(options.max_idle());
    if n == 0 {
        return;
    }
    for f in figures
        .iter()
        .filter(|f| !matches!(f.group, Group::Control { .. }))
    {
        let Some(idle) = f.idle.iter().find(|i| i.n == n) else {
            continue;
        };
        if let (Some(held), Some(none)) = (rate(&idle.held), rate(&f.hello)) {
            let ok = held >= 0.8 * none && idle.survived == n;
            let _ = writeln!(
                out,
                "- standing, {}: {n} held: {:.2}× the throughput with none (≥ 0.8), {}/{n} still open: {}",
                f.name,
                held / none,
                idle.survived,
                if ok { "met" } else { "**not met**" }
            );
        }
    }
    for f in figures {
        if let Group::Backend {
            engine: rwsgi_core::Engine::H1,
            ..
        } = f.group
        {
            for i in f.idle.iter().filter(|i| i.n >= 5_000) {
                let kib = i.per_connection / 1024.0;
                let _ = writeln!(
                    out,
                    "- rwsgi-h1 memory, {}: {kib:.2} KiB per idle connection at {} (≤ 2): {}",
                    f.name,
                    i.n,
                    if kib <= 2.0 { "met" } else { "**not met**" }
                );
            }
        }
    }
}

fn rate(load: &Option<Load>) -> Option<f64> {
    load.as_ref().map(|l| l.rate)
}

fn ms(load: &Option<Load>, pick: impl Fn(&Load) -> Duration) -> Option<f64> {
    load.as_ref().map(|l| pick(l).as_secs_f64() * 1e3)
}

fn us(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e6)
}

/// `value (ratio×)`, or `—`.
fn cell(value: Option<f64>, base: Option<f64>, decimals: usize) -> String {
    match (value, base) {
        (Some(v), Some(b)) if b.abs() > f64::EPSILON => format!("{v:.decimals$} ({:.2}×)", v / b),
        (Some(v), _) => format!("{v:.decimals$}"),
        (None, _) => "—".to_owned(),
    }
}

/// The figures as JSON.
pub fn json(figures: &[Figures], options: &Options, context: &Context) -> serde_json::Value {
    use serde_json::json;
    let load = |l: &Option<Load>| {
        l.as_ref().map(|l| {
            json!({
                "rate": l.rate, "requests": l.requests, "errors": l.errors,
                "p50_ms": l.p50.as_secs_f64() * 1e3, "p99_ms": l.p99.as_secs_f64() * 1e3,
            })
        })
    };
    let us = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
    let tls = |t: &TlsFigures, plain: &Option<Load>| {
        json!({
            "command": t.command,
            "negotiated": t.negotiated,
            "handshakes": load(&t.handshakes),
            "server_cpu_us_per_handshake": us(t.cpu_per_handshake),
            "client_cpu_us_per_handshake": us(t.client_cpu_per_handshake),
            "hello": load(&t.hello),
            "server_cpu_us_per_request": us(t.cpu_per_request),
            "client_cpu_us_per_request": us(t.client_cpu_per_request),
            "tls_over_plain": rate(&t.hello).zip(rate(plain)).map(|(t, p)| t / p),
        })
    };
    json!({
        "date": context.date,
        "machine": context.machine,
        "duration_s": options.duration.as_secs_f64(),
        "connections": options.connections,
        "depth": options.depth,
        "idle": options.idle,
        "pinned": options.pin,
        "tls": options.tls.as_ref().map(|_| json!({
            "certificate": super::tls::CERTIFICATE,
            "provider": "ring",
            "client": "tokio-rustls; session resumption off, every handshake checked to be full",
            "handshake_connections": HANDSHAKE_CONNECTIONS,
        })),
        "configurations": figures.iter().map(|f| json!({
            "name": f.name,
            "kind": format!("{:?}", f.group),
            "command": f.command,
            "processes": f.processes,
            "baseline_rss": f.baseline_rss,
            "hello": load(&f.hello),
            "server_cpu_us_per_request": us(f.cpu_per_request),
            "client_cpu_us_per_request": us(f.client_cpu_per_request),
            "pipelined": load(&f.pipelined),
            "server_cpu_us_per_pipelined_request": us(f.cpu_per_pipelined),
            "client_cpu_us_per_pipelined_request": us(f.client_cpu_per_pipelined),
            "idle": f.idle.iter().map(|i| json!({
                "n": i.n, "rss": i.rss, "settled": i.settled,
                "bytes_per_connection": i.per_connection,
                "held": load(&i.held), "survived": i.survived,
            })).collect::<Vec<_>>(),
            "notes": f.notes,
            "tls": f.tls.as_ref().map(|t| tls(t, &f.hello)),
        })).collect::<Vec<_>>(),
    })
}

/// The rows of the results table in a report: each configuration's name
/// and its cells.
///
/// # Errors
///
/// When there is no results table, its header is not the expected one, a
/// row has the wrong number of cells, or a cell is not a figure (a number,
/// optionally with `(R×)`, or `A/B`).
pub fn parse_results(markdown: &str) -> Result<Vec<(String, Vec<f64>)>, String> {
    parse_table(markdown, RESULTS_HEADING, &COLUMNS)
}

/// The rows of the TLS table, as [`parse_results`] reads the results
/// table.
///
/// # Errors
///
/// As [`parse_results`].
pub fn parse_tls(markdown: &str) -> Result<Vec<(String, Vec<f64>)>, String> {
    parse_table(markdown, TLS_HEADING, &TLS_COLUMNS)
}

/// The rows of the table that follows `heading`, whose columns after the
/// configuration's are `columns`.
fn parse_table(markdown: &str, heading: &str, columns: &[&str]) -> Result<Vec<(String, Vec<f64>)>, String> {
    let what = format!("the table under {heading:?}");
    let mut lines = markdown
        .lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with('|') && !l.starts_with("## "));
    let header = lines
        .next()
        .filter(|l| l.trim_start().starts_with('|'))
        .ok_or_else(|| format!("no table after {heading:?}"))?;
    let header = cells(header);
    let expected: Vec<&str> = std::iter::once("configuration")
        .chain(columns.iter().copied())
        .collect();
    if header != expected {
        return Err(format!("{what}: its header is {header:?}, expected {expected:?}"));
    }
    let rule = lines
        .next()
        .ok_or_else(|| format!("{what} has no rule under its header"))?;
    if cells(rule).len() != expected.len()
        || !cells(rule)
            .iter()
            .all(|c| c.trim_matches(':').chars().all(|ch| ch == '-') && c.len() >= 3)
    {
        return Err(format!("{what}: not a table rule: {rule:?}"));
    }
    let mut rows = Vec::new();
    for line in lines.take_while(|l| l.trim_start().starts_with('|')) {
        let row = cells(line);
        if row.len() != expected.len() {
            return Err(format!(
                "{what}: a row with {} cells, expected {}: {line:?}",
                row.len(),
                expected.len()
            ));
        }
        let values = row[1..]
            .iter()
            .map(|c| figure(c).ok_or_else(|| format!("{what}: {}: {c:?} is not a figure", row[0])))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((row[0].to_owned(), values));
    }
    if rows.is_empty() {
        return Err(format!("{what} has no rows"));
    }
    Ok(rows)
}

fn cells(line: &str) -> Vec<&str> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    line.split('|').map(str::trim).collect()
}

/// A cell's value: `123.4`, `123.4 (0.98×)`, or `99/100` (as its share).
fn figure(cell: &str) -> Option<f64> {
    if let Some((a, b)) = cell.split_once('/') {
        let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (b > 0.0 && a <= b).then_some(a / b);
    }
    let (value, ratio) = match cell.split_once(" (") {
        Some((v, r)) => (v, Some(r)),
        None => (cell, None),
    };
    if let Some(r) = ratio {
        r.strip_suffix("×)")?
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())?;
    }
    value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Checks a report: the results table parses, has a row for each of
/// `expected`, and each served requests; with `tls`, so does the TLS table,
/// each row with handshakes and TLS requests.
///
/// # Errors
///
/// What is wrong.
pub fn verify(markdown: &str, expected: &[String], tls: bool) -> Result<usize, String> {
    let rows = parse_results(markdown)?;
    every_row(&rows, expected, "the results table", &[(0, "no requests served")])?;
    if tls {
        let tls_rows = parse_tls(markdown)
            .map_err(|e| format!("{e} (this binary has TLS, so a run without --no-tls has a TLS table)"))?;
        every_row(
            &tls_rows,
            expected,
            "the TLS table",
            &[(0, "no TLS handshakes"), (2, "no requests served over TLS")],
        )?;
    }
    Ok(rows.len())
}

/// Checks that `rows` has a row for each of `expected`, and that in every
/// row each of `positive` (a column index and what zero means) is above 0.
fn every_row(
    rows: &[(String, Vec<f64>)],
    expected: &[String],
    table: &str,
    positive: &[(usize, &str)],
) -> Result<(), String> {
    let missing: Vec<_> = expected
        .iter()
        .filter(|name| !rows.iter().any(|(row, _)| row == *name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(format!("no row for {} in {table}", missing.join(", ")));
    }
    for (name, values) in rows {
        for &(column, zero) in positive {
            if values[column] <= 0.0 {
                return Err(format!("{table}: {name}: {zero}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# rwsgi bench\n\nintro\n\n## Results\n\nN = 100.\n\n\
        | configuration | req/s @64 | p50 ms | p99 ms | server CPU µs/req | pipelined req/s | pipelined CPU µs/req | req/s, N held | KiB/idle conn | survived |\n\
        |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
        | raw hyper (yardstick) | 1000 (1.00×) | 0.100 (1.00×) | 0.200 (1.00×) | 5.00 (1.00×) | 9000 (1.00×) | 1.00 (1.00×) | 990 (1.00×) | 10.50 (1.00×) | 100/100 |\n\
        | tokio/hyper | 900 (0.90×) | 0.110 (1.10×) | 0.210 (1.05×) | 5.50 (1.10×) | 8000 (0.89×) | 1.10 (1.10×) | 880 (0.89×) | -0.25 (-0.02×) | 100/100 |\n\
        \n## Standing connections\n";

    const TLS: &str = "\n## TLS\n\nWhat it means.\n\n\
        | configuration | handshakes/s | server CPU µs/handshake | TLS req/s @64 | p99 ms | server CPU µs/req | TLS ÷ plain |\n\
        |---|---:|---:|---:|---:|---:|---:|\n\
        | tokio/hyper | 2000 (1.00×) | 150.0 (1.00×) | 700 (1.00×) | 0.300 (1.00×) | 7.00 (1.00×) | 0.78 |\n\
        | smol/h1 | 1900 (0.95×) | 160.0 (1.07×) | 750 (1.07×) | 0.280 (0.93×) | 6.50 (0.93×) | 0.80 |\n\
        \n## Problems\n";

    fn with_tls() -> String {
        GOOD.replace(
            "\n## Standing connections\n",
            &format!("{TLS}\n## Standing connections\n"),
        )
    }

    #[test]
    fn a_good_table_parses_and_verifies() {
        let rows = parse_results(GOOD).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0, "tokio/hyper");
        assert_eq!(rows[1].1.len(), COLUMNS.len());
        assert_eq!(rows[1].1[8], 1.0);
        assert_eq!(verify(GOOD, &["tokio/hyper".into()], false).unwrap(), 2);
        let tls = parse_tls(&with_tls()).unwrap();
        assert_eq!(tls.len(), 2);
        assert_eq!(
            tls[1],
            ("smol/h1".to_owned(), vec![1900.0, 160.0, 750.0, 0.28, 6.5, 0.8])
        );
        assert_eq!(verify(&with_tls(), &["tokio/hyper".into()], true).unwrap(), 2);
    }

    #[test]
    fn a_missing_or_empty_tls_table_fails_when_tls_is_compiled_in() {
        let none = verify(GOOD, &["tokio/hyper".into()], true).unwrap_err();
        assert!(
            none.contains("no table after \"## TLS\"") && none.contains("--no-tls"),
            "{none}"
        );
        let renamed = with_tls().replace("| tokio/hyper | 2000", "| tokio/h1 | 2000");
        let missing = verify(&renamed, &["tokio/hyper".into()], true).unwrap_err();
        assert!(
            missing.contains("no row for tokio/hyper in the TLS table"),
            "{missing}"
        );
        let no_handshakes = with_tls().replace("| 1900 (0.95×) |", "| 0 (0.00×) |");
        let zero = verify(&no_handshakes, &[], true).unwrap_err();
        assert!(zero.contains("smol/h1: no TLS handshakes"), "{zero}");
        let no_requests = with_tls().replace("| 750 (1.07×) |", "| 0 (0.00×) |");
        assert!(
            verify(&no_requests, &[], true)
                .unwrap_err()
                .contains("no requests served over TLS")
        );
        let failed = with_tls().replace("| 0.80 |", "| — |");
        assert!(
            verify(&failed, &[], true)
                .unwrap_err()
                .contains("is not a figure")
        );
        let headless = with_tls().replace(
            "| configuration | handshakes/s |",
            "| configuration | handshakes |",
        );
        assert!(verify(&headless, &[], true).unwrap_err().contains("header"));
        // A TLS heading with no table under it is not saved by a later table.
        let empty = GOOD.replace(
            "\n## Standing connections\n",
            "\n## TLS\n\nnothing\n\n## Standing connections\n\n| a |\n",
        );
        assert!(parse_tls(&empty).unwrap_err().contains("no table"));
    }

    fn load(rate: f64) -> Option<Load> {
        Some(Load {
            rate,
            requests: rate as u64,
            errors: 0,
            p50: Duration::from_micros(100),
            p99: Duration::from_micros(300),
        })
    }

    fn measured(name: &str, group: Group, tls: Option<TlsFigures>) -> Figures {
        Figures {
            name: name.into(),
            group,
            command: format!("rwsgi {name}"),
            processes: 1,
            baseline_rss: 1 << 20,
            idle: vec![super::super::runner::Idle {
                n: 100,
                rss: 2 << 20,
                settled: true,
                per_connection: 4096.0,
                held: load(900.0),
                survived: 100,
            }],
            hello: load(1000.0),
            cpu_per_request: Some(Duration::from_micros(5)),
            client_cpu_per_request: Some(Duration::from_micros(4)),
            pipelined: load(9000.0),
            cpu_per_pipelined: Some(Duration::from_micros(1)),
            client_cpu_per_pipelined: Some(Duration::from_micros(1)),
            notes: Vec::new(),
            tls,
        }
    }

    fn tls_figures(handshakes: f64) -> TlsFigures {
        TlsFigures {
            command: "rwsgi --bind https://127.0.0.1:1".into(),
            negotiated: "TLSv1_3, TLS13_AES_256_GCM_SHA384, X25519".into(),
            handshakes: load(handshakes),
            cpu_per_handshake: Some(Duration::from_micros(150)),
            client_cpu_per_handshake: Some(Duration::from_micros(300)),
            hello: load(800.0),
            cpu_per_request: Some(Duration::from_micros(7)),
            client_cpu_per_request: Some(Duration::from_micros(6)),
        }
    }

    /// What `markdown` writes, `verify` reads: the TLS table included, its
    /// ratios to its first row and its share of the plain throughput.
    #[test]
    fn the_written_report_verifies() {
        let options = Options {
            duration: Duration::from_secs(1),
            idle: vec![100],
            connections: 64,
            depth: 16,
            repeat: 1,
            io_threads: 1,
            pin: false,
            program: "rwsgi".into(),
            settle: crate::bench::Settle::default(),
            tls: None,
        };
        let context = Context {
            date: "2026-01-01 00:00 UTC".into(),
            machine: "test".into(),
            personalities: String::new(),
        };
        let backend = |engine| Group::Backend {
            backend: "tokio",
            engine,
        };
        let figures = [
            measured(super::super::runner::YARDSTICK, Group::Yardstick, None),
            measured(
                "tokio/hyper",
                backend(rwsgi_core::Engine::Hyper),
                Some(tls_figures(2000.0)),
            ),
            measured(
                "tokio/h1",
                backend(rwsgi_core::Engine::H1),
                Some(tls_figures(3000.0)),
            ),
        ];
        let text = markdown(&figures, &options, &context);
        let names = ["tokio/hyper".to_owned(), "tokio/h1".to_owned()];
        assert_eq!(verify(&text, &names, true).unwrap(), 3, "{text}");
        assert!(text.contains("| tokio/h1 | 3000 (1.50×) | 150.0 (1.00×) | 800 (1.00×) | 0.300 (1.00×) | 7.00 (1.00×) | 0.80 |"), "{text}");
        assert!(
            text.contains("Negotiated: TLSv1_3, TLS13_AES_256_GCM_SHA384, X25519."),
            "{text}"
        );
        assert!(
            text.contains("- tokio/h1 (TLS): `rwsgi --bind https://127.0.0.1:1`"),
            "{text}"
        );
        let json = json(&figures, &options, &context);
        assert_eq!(json["configurations"][2]["tls"]["handshakes"]["rate"], 3000.0);
        assert_eq!(json["configurations"][2]["tls"]["tls_over_plain"], 0.8);
        assert!(json["configurations"][0]["tls"].is_null());

        // Without TLS figures there is no TLS table, which verify notices.
        let plain: Vec<Figures> = figures
            .iter()
            .cloned()
            .map(|f| Figures { tls: None, ..f })
            .collect();
        let text = markdown(&plain, &options, &context);
        assert!(!text.contains(TLS_HEADING));
        assert!(verify(&text, &names, false).is_ok());
        assert!(verify(&text, &names, true).is_err());
    }

    #[test]
    fn bad_tables_fail() {
        assert!(
            verify(GOOD, &["smol/h1".into()], false)
                .unwrap_err()
                .contains("smol/h1")
        );
        assert!(parse_results("## Results\n\nnothing").is_err());
        assert!(parse_results(&GOOD.replace("| 0.110 (1.10×) ", "| — ")).is_err());
        assert!(parse_results(&GOOD.replace("| 8000 (0.89×) ", "")).is_err());
        assert!(parse_results(&GOOD.replace("p50 ms", "median")).is_err());
        assert!(parse_results(&GOOD.replace("100/100 |\n\n", "101/100 |\n\n")).is_err());
        assert!(parse_results(&GOOD.replace("(0.90×)", "(x)")).is_err());
        assert!(verify(&GOOD.replace("| 900 (0.90×)", "| 0 (0.00×)"), &[], false).is_err());
    }

    #[test]
    fn cells_carry_ratios() {
        assert_eq!(cell(Some(2.0), Some(4.0), 1), "2.0 (0.50×)");
        assert_eq!(cell(Some(2.0), None, 0), "2");
        assert_eq!(cell(None, Some(1.0), 0), "—");
        assert_eq!(figure("2.0 (0.50×)"), Some(2.0));
        assert_eq!(figure("3/4"), Some(0.75));
        assert_eq!(figure("NaN"), None);
    }
}
