//! CPU time per state from the `cpu` lines of `/proc/stat`: `system.cpu.seconds` (a counter
//! of seconds spent in each state) and `system.cpu.percent` (each state's share of the time
//! since the last sample), for `cpu:total` and, with `per_cpu`, each core.

use std::io;

use super::emit::{Context, Emitter};

/// The states of a `cpu` line, in the kernel's order. `guest` and `guest_nice` are left out:
/// the kernel already counts them in `user` and `nice`.
pub const STATES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

/// One `cpu` line: its name (`total` or the core number) and clock ticks per state.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuTimes {
    /// `total` for the aggregate line, else the core number.
    pub cpu: String,
    /// Ticks in each of [`STATES`]; states an older kernel does not report are 0.
    pub ticks: [u64; STATES.len()],
}

/// Every `cpu` line of `/proc/stat`, the aggregate first.
pub fn parse_stat(text: &str) -> Vec<CpuTimes> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let name = fields.next()?.strip_prefix("cpu")?;
            let cpu = if name.is_empty() { "total".to_owned() } else { name.to_owned() };
            let mut ticks = [0; STATES.len()];
            for (slot, field) in ticks.iter_mut().zip(fields) {
                *slot = field.parse().ok()?;
            }
            Some(CpuTimes { cpu, ticks })
        })
        .collect()
}

/// Emits CPU seconds and percentages, and `system.cpu.count` (the number of cores).
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let cpus = parse_stat(&ctx.read("stat")?);
    out.gauge("system.cpu.count", &[], cpus.iter().filter(|c| c.cpu != "total").count() as f64);
    for cpu in cpus.iter().filter(|c| ctx.per_cpu || c.cpu == "total") {
        let mut deltas = [None; STATES.len()];
        for (i, state) in STATES.iter().enumerate() {
            let seconds = cpu.ticks[i] as f64 / ctx.ticks_per_second;
            deltas[i] = out.counter("system.cpu.seconds", &[("cpu", &cpu.cpu), ("state", state)], seconds);
        }
        let elapsed: f64 = deltas.iter().flatten().sum();
        if deltas.iter().all(Option::is_some) && elapsed > 0.0 {
            for (state, delta) in STATES.iter().zip(deltas) {
                let percent = delta.unwrap_or(0.0) / elapsed * 100.0;
                out.gauge("system.cpu.percent", &[("cpu", &cpu.cpu), ("state", state)], percent);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  4705 150 1120 16250 520 0 30 7 0 0\n\
                        cpu0 2000 100 600 8000 300 0 20 3 0 0\n\
                        cpu1 2705 50 520 8250 220 0 10 4\n\
                        intr 12345 1 2\nctxt 98765\nbtime 1700000000\nprocesses 4321\n\
                        procs_running 3\nprocs_blocked 1\n";

    /// The aggregate line is named `total`, cores by number; short lines leave states at 0.
    #[test]
    fn parse_stat_reads_every_cpu_line() {
        let cpus = parse_stat(STAT);
        assert_eq!(cpus.len(), 3);
        assert_eq!(cpus[0], CpuTimes { cpu: "total".into(), ticks: [4705, 150, 1120, 16250, 520, 0, 30, 7] });
        assert_eq!(cpus[2].cpu, "1");
        assert_eq!(cpus[2].ticks[7], 4);
    }
}
