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
    let mut total = Usage::default();
    for pid in tree(pid)? {
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
        assert!(after.rss > 0);
        assert!(after.processes >= 1);
    }
}
