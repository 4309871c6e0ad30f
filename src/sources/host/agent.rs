//! sluice's own process from `/proc/self`: `sluice.process.cpu_seconds` (a counter tagged
//! `state:user|system`), `sluice.process.rss_bytes` and `sluice.process.open_fds` (gauges).

use std::io;

use super::emit::{Context, Emitter};
use super::load::invalid;

/// User and system CPU time in clock ticks, from `/proc/<pid>/stat`.
pub fn parse_pid_stat(text: &str) -> Option<(u64, u64)> {
    // The command name (field 2) is in parentheses and may hold spaces or `)`: fields are
    // counted from the last `)`, which is followed by field 3 (the state).
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11); // Fields 3..=13.
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Resident pages, the second field of `/proc/<pid>/statm`.
pub fn parse_statm(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Emits sluice's CPU time, resident memory and open file descriptors.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let stat = ctx.read("self/stat")?;
    let (user, system) = parse_pid_stat(&stat).ok_or_else(|| invalid("self/stat", &stat))?;
    out.counter("sluice.process.cpu_seconds", &[("state", "user")], user as f64 / ctx.ticks_per_second);
    out.counter("sluice.process.cpu_seconds", &[("state", "system")], system as f64 / ctx.ticks_per_second);
    let statm = ctx.read("self/statm")?;
    let pages = parse_statm(&statm).ok_or_else(|| invalid("self/statm", &statm))?;
    out.gauge("sluice.process.rss_bytes", &[], (pages * ctx.page_size) as f64);
    // The directory handle that lists the descriptors is one of them: not counted.
    let fds = std::fs::read_dir(ctx.proc.join("self/fd"))?.count().saturating_sub(1);
    out.gauge("sluice.process.open_fds", &[], fds as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// utime and stime are fields 14 and 15, counted after a command name with spaces and `)`.
    #[test]
    fn parse_pid_stat_skips_an_awkward_command_name() {
        let text = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 1000000 300\n";
        assert_eq!(super::parse_pid_stat(text), Some((250, 75)));
        assert_eq!(super::parse_statm("2000 300 100 10 0 500 0\n"), Some(300));
    }
}
