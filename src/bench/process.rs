//! Server processes as `/proc` sees them: CPU time and resident memory,
//! summed over a process and its descendants (a pre-fork master and its
//! workers count as one server).

use std::fs;
use std::io;
use std::time::Duration;

/// Resources a server (process tree) has used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time, user and system, of every live thread.
    pub cpu: Duration,
    /// Resident memory in bytes.
    pub rss: u64,
    /// Processes counted.
    pub processes: usize,
}

/// The usage of `pid` and all its descendants.
///
/// CPU time comes from each thread's `schedstat` (nanoseconds on CPU, user
/// and system together), so it is exact rather than counted in clock ticks;
/// threads that have exited are no longer counted, which is why servers are
/// measured over a steady load. RSS is `VmRSS` from `status`.
///
/// # Errors
///
/// When `/proc/PID` cannot be read (the process is gone).
pub fn usage(pid: u32) -> io::Result<Usage> {
    usage_of(tree(pid)?)
}

/// The usage of `pid` alone, without its descendants (the load
/// generator's own cost, when the servers are its children).
///
/// # Errors
///
/// When `/proc/PID` cannot be read (the process is gone).
pub fn usage_alone(pid: u32) -> io::Result<Usage> {
    fs::metadata(format!("/proc/{pid}"))?;
    usage_of(vec![pid])
}

fn usage_of(pids: Vec<u32>) -> io::Result<Usage> {
    let mut total = Usage::default();
    for pid in pids {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        total.processes += 1;
        total.rss += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024;
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(stat) = fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = stat.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()) {
                total.cpu += Duration::from_nanos(ns);
            }
        }
    }
    Ok(total)
}

/// `pid` and every live descendant.
fn tree(pid: u32) -> io::Result<Vec<u32>> {
    fs::metadata(format!("/proc/{pid}"))?;
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces: the fields start after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    Ok(found)
}

/// How [`settled_rss`] decides that memory has stopped moving.
#[derive(Clone, Copy, Debug)]
pub struct Settle {
    /// Time between reads.
    pub interval: Duration,
    /// Consecutive reads that must agree.
    pub reads: usize,
    /// How far apart (in bytes) agreeing reads may be.
    pub tolerance: u64,
    /// Give up waiting after this long, and take the last read.
    pub deadline: Duration,
}

impl Default for Settle {
    fn default() -> Self {
        Settle {
            interval: Duration::from_millis(50),
            reads: 5,
            tolerance: 16 * 1024,
            deadline: Duration::from_secs(10),
        }
    }
}

/// A resident-memory reading taken once it held still.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The last RSS read, in bytes (summed over the process tree).
    pub rss: u64,
    /// False when the deadline passed before `reads` reads agreed.
    pub settled: bool,
    /// Reads taken.
    pub reads: usize,
}

/// Reads the RSS of `pid`'s process tree every `settle.interval` until
/// `settle.reads` consecutive reads lie within `settle.tolerance` of each
/// other, or `settle.deadline` passes. This is a measurement wait: a server
/// that has answered every request may still be returning memory or
/// finishing work its reactor queued.
///
/// # Errors
///
/// When the process is gone.
pub fn settled_rss(pid: u32, settle: Settle) -> io::Result<Settled> {
    settled_by(|| usage(pid).map(|u| u.rss), settle)
}

fn settled_by(mut read: impl FnMut() -> io::Result<u64>, settle: Settle) -> io::Result<Settled> {
    let start = std::time::Instant::now();
    let mut window: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let mut reads = 0;
    loop {
        let rss = read()?;
        reads += 1;
        window.push_back(rss);
        if window.len() > settle.reads.max(1) {
            window.pop_front();
        }
        let spread = window.iter().max().unwrap_or(&0) - window.iter().min().unwrap_or(&0);
        if window.len() >= settle.reads.max(1) && spread <= settle.tolerance {
            return Ok(Settled {
                rss,
                settled: true,
                reads,
            });
        }
        if start.elapsed() >= settle.deadline {
            return Ok(Settled {
                rss,
                settled: false,
                reads,
            });
        }
        std::thread::sleep(settle.interval);
    }
}

/// The open-file limit (`RLIMIT_NOFILE`) of this process, which its
/// children inherit: (soft, hard); `None` stands for unlimited.
///
/// # Errors
///
/// When `/proc/self/limits` cannot be read or lacks the line.
pub fn open_file_limit() -> io::Result<(Option<u64>, Option<u64>)> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    parse_open_file_limit(&limits)
        .ok_or_else(|| io::Error::other("no \"Max open files\" line in /proc/self/limits"))
}

fn parse_open_file_limit(limits: &str) -> Option<(Option<u64>, Option<u64>)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut value = || -> Option<Option<u64>> {
        match fields.next()? {
            "unlimited" => Some(None),
            n => n.parse().ok().map(Some),
        }
    };
    Some((value()?, value()?))
}

/// How many local ports the kernel hands out to outgoing connections
/// (`net.ipv4.ip_local_port_range`), if it says.
pub fn ephemeral_ports() -> Option<u64> {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = range.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (low, high) = (it.next()??, it.next()??);
    Some(high.saturating_sub(low) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_this_process() {
        let before = usage(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let after = usage(std::process::id()).unwrap();
        assert!(after.cpu > before.cpu);
        let alone = usage_alone(std::process::id()).unwrap();
        assert!(alone.cpu > before.cpu && alone.processes == 1);
        assert!(usage_alone(u32::MAX).is_err());
        assert!(after.rss > 0);
        assert!(after.processes >= 1);
    }

    #[test]
    fn settles_on_agreeing_reads_and_gives_up_at_the_deadline() {
        let quick = Settle {
            interval: Duration::from_millis(1),
            reads: 3,
            tolerance: 10,
            deadline: Duration::from_millis(200),
        };
        let mut values = [100u64, 5000, 9000, 9005, 9008, 9009].into_iter();
        let settled = settled_by(|| Ok(values.next().unwrap_or(9009)), quick).unwrap();
        assert_eq!(
            settled,
            Settled {
                rss: 9008,
                settled: true,
                reads: 5
            }
        );
        let mut growing = 0u64;
        let unsettled = settled_by(
            || {
                growing += 1000;
                Ok(growing)
            },
            quick,
        )
        .unwrap();
        assert!(!unsettled.settled);
        assert!(unsettled.reads >= 2);
        assert!(settled_rss(std::process::id(), Settle::default()).unwrap().rss > 0);
    }

    #[test]
    fn reads_the_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63704                63704                processes\n\
                      Max open files            1024                 unlimited            files\n";
        assert_eq!(parse_open_file_limit(limits), Some((Some(1024), None)));
        assert_eq!(parse_open_file_limit("Max processes 1 1 processes\n"), None);
        let (soft, _) = open_file_limit().unwrap();
        assert!(soft.is_none_or(|n| n > 0));
    }
}
