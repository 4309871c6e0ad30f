//! Processes and scheduling from `/proc/stat` and the process directories of `/proc`:
//! `system.processes.{running,blocked,total}` (gauges), `system.processes.forks` and
//! `system.context_switches` (counters).

use std::io;

use super::emit::{Context, Emitter};

/// The scheduling lines of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedStat {
    /// `ctxt`: context switches since boot.
    pub context_switches: u64,
    /// `processes`: forks since boot.
    pub forks: u64,
    /// `procs_running`: runnable threads.
    pub running: u64,
    /// `procs_blocked`: threads blocked on I/O.
    pub blocked: u64,
}

/// Reads the scheduling lines of `/proc/stat`.
pub fn parse_stat(text: &str) -> SchedStat {
    let mut stat = SchedStat::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else { continue };
        let Ok(value) = value.trim().parse() else { continue };
        match key {
            "ctxt" => stat.context_switches = value,
            "processes" => stat.forks = value,
            "procs_running" => stat.running = value,
            "procs_blocked" => stat.blocked = value,
            _ => {}
        }
    }
    stat
}

/// Emits the process counts and the scheduling counters.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let stat = parse_stat(&ctx.read("stat")?);
    let total = std::fs::read_dir(&ctx.proc)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .count();
    out.gauge("system.processes.total", &[], total as f64);
    out.gauge("system.processes.running", &[], stat.running as f64);
    out.gauge("system.processes.blocked", &[], stat.blocked as f64);
    out.counter("system.processes.forks", &[], stat.forks as f64);
    out.counter("system.context_switches", &[], stat.context_switches as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Only the scheduling lines are read; the cpu lines are the CPU collector's.
    #[test]
    fn parse_stat_reads_the_scheduling_lines() {
        let stat = super::parse_stat(
            "cpu  1 2 3 4\nctxt 98765\nbtime 1700000000\nprocesses 4321\nprocs_running 3\nprocs_blocked 1\n",
        );
        assert_eq!(stat, super::SchedStat { context_switches: 98765, forks: 4321, running: 3, blocked: 1 });
    }
}
