//! The terminal summary of a [`Report`]: one line per listener, one per backend plus a line
//! for each thing about it that needs reading, the firing alerts and failing probes, and a
//! verdict.
//!
//! ```text
//! sluice 0.1.0 at 127.0.0.1:9102: up 2h03m, ready
//! window: 1200 live series, 742 flushes
//!
//! listeners
//!   udp:127.0.0.1:8125  lines=35110 bytes=1.2 MiB truncated=0 kernel_drops=0
//!
//! backends
//!   file    healthy  buffer=memory queue=0 sent=881200 series, last success 4s ago
//!   influx  failing  buffer=disk queue=12 (oldest 2m03s) sent=0 series, last success never
//!           spool: 12 windows, 1.3 MiB
//!           last error: cannot connect to 127.0.0.1:8086
//!
//!
//! alerts firing
//!   api_errors {service=api,severity=error} value=0.12 since 2026-12-03T10:00:00.000Z
//!
//! probes failing
//!   db (critical): connection refused
//!
//! 1 of 2 backends needs attention: influx (failing)
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::report::{Backend, Report};

/// The summary of `report`, read from the agent at `addr`; ages are reckoned from `now_ms`.
pub fn summary(report: &Report, addr: SocketAddr, now_ms: u64) -> String {
    let mut out = String::new();
    header(&mut out, report, addr);
    if !report.listeners.is_empty() {
        out.push_str("\nlisteners\n");
        let width = report.listeners.iter().map(|l| l.name.len()).max().unwrap_or(0);
        for l in &report.listeners {
            let _ = write!(
                out,
                "  {:<width$}  lines={} bytes={} truncated={}",
                l.name,
                l.lines,
                bytes(l.bytes),
                l.truncated
            );
            if let Some(drops) = l.kernel_drops {
                let _ = write!(out, " kernel_drops={drops}");
            }
            if !l.running {
                out.push_str(" (stopped)");
            }
            out.push('\n');
        }
    }
    out.push_str("\nbackends\n");
    let width = report.backends.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in &report.backends {
        backend(&mut out, b, width, now_ms);
    }
    if report.backends.is_empty() {
        out.push_str("  (none)\n");
    }
    attention(&mut out, report);
    out.push('\n');
    out.push_str(&verdict(report));
    out.push('\n');
    out
}

/// Firing alerts and failing probes, when there are any.
fn attention(out: &mut String, report: &Report) {
    let firing: Vec<_> = report.alerts.iter().filter(|a| a.state == "firing").collect();
    if !firing.is_empty() {
        out.push_str("\nalerts firing\n");
        for a in firing {
            let labels: Vec<String> =
                a.labels.iter().filter(|(k, _)| *k != "alertname").map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(out, "  {} {{{}}}", a.name, labels.join(","));
            if let Some(v) = a.value {
                let _ = write!(out, " value={v}");
            }
            if let Some(at) = &a.fired_at {
                let _ = write!(out, " since {at}");
            }
            out.push('\n');
        }
    }
    let failing: Vec<_> = report.probes.iter().filter(|p| !p.ok).collect();
    if !failing.is_empty() {
        out.push_str("\nprobes failing\n");
        for p in failing {
            let critical = if p.critical { " (critical)" } else { "" };
            let _ = writeln!(out, "  {}{critical}: {}", p.name, p.error.as_deref().unwrap_or("not run yet"));
        }
    }
}

fn header(out: &mut String, report: &Report, addr: SocketAddr) {
    let _ = write!(out, "sluice {} at {addr}:", report.version.as_deref().unwrap_or("(version unknown)"));
    if let Some(up) = report.uptime_seconds {
        let _ = write!(out, " up {},", age(up as f64));
    }
    out.push_str(if report.ready { " ready\n" } else { " NOT ready (starting or stopping)\n" });
    let _ = writeln!(out, "window: {} live series, {} flushes", report.series, report.flushes);
    for (title, counts) in [("parse errors", &report.parse_errors), ("dropped samples", &report.dropped_samples)] {
        if !counts.is_empty() {
            let _ = writeln!(out, "{title}: {}", pairs(counts.iter().map(|(k, v)| (k.as_str(), *v))));
        }
    }
}

fn backend(out: &mut String, b: &Backend, width: usize, now_ms: u64) {
    let state = if b.state.is_empty() { "unknown" } else { &b.state };
    let _ = write!(out, "  {:<width$}  {state:<8} buffer={} queue={}", b.name, b.buffer, b.queue_depth);
    if let Some(oldest) = b.oldest_age_seconds {
        let _ = write!(out, " (oldest {})", age(oldest));
    }
    let last = b
        .last_success_ms
        .map_or_else(|| "never".to_owned(), |ms| format!("{} ago", age(now_ms.saturating_sub(ms) as f64 / 1000.0)));
    let _ = writeln!(out, " sent={} series, last success {last}", b.sent_series);
    // Details line up under the state.
    let indent = " ".repeat(width + 4);
    let mut detail = |text: String| {
        let _ = writeln!(out, "{indent}{text}");
    };
    if b.buffer == "memory_fallback" {
        detail(format!(
            "memory fallback: the disk buffer cannot be used ({}); new windows wait in memory",
            b.buffer_error.as_deref().unwrap_or("no reason given")
        ));
    }
    if b.buffer != "memory" || b.spooled_windows > 0 {
        detail(format!("spool: {} windows, {}", b.spooled_windows, bytes(b.spooled_bytes)));
    }
    if b.replay.pending > 0 || b.replay.done > 0 {
        detail(format!("replay: {} pending, {} done", b.replay.pending, b.replay.done));
    }
    if b.spool_corrupt_records > 0 || b.spool_errors > 0 {
        detail(format!(
            "spool trouble: {} corrupt records skipped, {} failed writes",
            b.spool_corrupt_records, b.spool_errors
        ));
    }
    let dropped: Vec<(&str, u64)> = b.dropped.iter().filter(|(_, n)| **n > 0).map(|(k, v)| (k.as_str(), *v)).collect();
    if !dropped.is_empty() {
        detail(format!("dropped series: {}", pairs(dropped)));
    }
    if let Some(error) = &b.last_error {
        let when = if b.state == "healthy" { " (recovered since)" } else { "" };
        detail(format!("last error{when}: {error}"));
    }
}

/// The last line: all well, or which backends need attention and why.
fn verdict(report: &Report) -> String {
    let problems = report.problems();
    let total = report.backends.len();
    if problems.is_empty() {
        let noun = if total == 1 { "backend" } else { "backends" };
        return format!("{total} {noun} healthy or starting");
    }
    let list: Vec<String> = problems.iter().map(|(name, why)| format!("{name} ({why})")).collect();
    let verb = if problems.len() == 1 { "needs" } else { "need" };
    format!("{} of {total} backends {verb} attention: {}", problems.len(), list.join(", "))
}

/// `a=1 b=2`.
fn pairs<'a>(counts: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    counts.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `45s`, `2m03s`, `3h12m`, `2d04h`: two units at most, the first unpadded.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}
