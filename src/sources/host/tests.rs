//! Samples compared with what `/proc` says in the same test, within what the timing allows.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use super::{Context, Sampler};
use crate::aggregator::input::SampleValue;
use crate::config::HostConfig;

/// One sample: name, tags joined by commas, value, StatsD type letter.
#[derive(Debug)]
struct Line {
    name: String,
    tags: String,
    value: f64,
    kind: String,
}

fn sampler() -> Sampler {
    let c = HostConfig::default();
    Sampler::new(Context::new(true, c.exclude_fstypes, c.exclude_devices))
}

fn sample(sampler: &mut Sampler) -> Vec<Line> {
    let mut samples = Vec::new();
    sampler.sample(&mut samples);
    samples
        .iter()
        .map(|s| {
            let (value, kind) = match s.value() {
                SampleValue::Gauge(v) => (*v, "g"),
                SampleValue::Counter(v) => (*v, "c"),
                other => panic!("the host source emits gauges and counters only: {other:?}"),
            };
            let tags = s.tags().collect::<Vec<_>>().join(",");
            Line { name: s.name().to_owned(), tags, value, kind: kind.to_owned() }
        })
        .collect()
}

fn find<'a>(lines: &'a [Line], name: &str, tags: &str) -> &'a Line {
    lines
        .iter()
        .find(|l| l.name == name && l.tags == tags)
        .unwrap_or_else(|| panic!("no {name} {{{tags}}} in {lines:?}"))
}

fn meminfo_bytes(key: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap();
    line.split_ascii_whitespace().nth(1).unwrap().parse::<f64>().unwrap() * 1024.0
}

fn stat_field(key: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap();
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok()).unwrap()
}

fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_ascii_whitespace().next().unwrap().parse().unwrap()
}

/// Memory and swap totals are exactly what `/proc/meminfo` says, in bytes; used is
/// total − available.
#[test]
fn memory_gauges_equal_proc_meminfo() {
    let lines = sample(&mut sampler());
    assert_eq!(find(&lines, "system.mem.total", "").value, meminfo_bytes("MemTotal"));
    assert_eq!(find(&lines, "system.swap.total", "").value, meminfo_bytes("SwapTotal"));
    let (total, available) =
        (find(&lines, "system.mem.total", "").value, find(&lines, "system.mem.available", "").value);
    assert_eq!(find(&lines, "system.mem.used", "").value, total - available);
    assert_eq!(find(&lines, "system.mem.total", "").kind, "g");
}

/// The first sample only sets the counters' baselines: no counter is emitted from it.
#[test]
fn first_sample_emits_no_counter() {
    let lines = sample(&mut sampler());
    assert!(lines.iter().all(|l| l.kind == "g"), "{:?}", lines.iter().find(|l| l.kind != "g"));
    assert!(lines.len() > 10);
}

/// Counter deltas between two samples lie within what `/proc/stat` moved by around them,
/// and CPU time adds up to at most the wall time elapsed on every core.
#[test]
fn counter_deltas_are_bounded_by_proc_stat_read_around_them() {
    let mut sampler = sampler();
    let (ctxt_before, forks_before, started) = (stat_field("ctxt"), stat_field("processes"), Instant::now());
    sample(&mut sampler);
    std::thread::sleep(Duration::from_millis(300));
    let lines = sample(&mut sampler);
    let (ctxt_after, forks_after, elapsed) = (stat_field("ctxt"), stat_field("processes"), started.elapsed());

    let ctxt = find(&lines, "system.context_switches", "");
    assert_eq!(ctxt.kind, "c");
    assert!(ctxt.value > 0.0 && ctxt.value <= ctxt_after - ctxt_before, "{ctxt:?} vs {}", ctxt_after - ctxt_before);
    let forks = find(&lines, "system.processes.forks", "").value;
    assert!((0.0..=forks_after - forks_before).contains(&forks));

    let cores = find(&lines, "system.cpu.count", "").value;
    let cpu_seconds: f64 = lines
        .iter()
        .filter(|l| l.name == "system.cpu.seconds" && l.tags.starts_with("cpu:total,"))
        .map(|l| l.value)
        .sum();
    // Ticks are counted per core, rounded to whole ticks at each read: allow one tick a core.
    let bound = (elapsed.as_secs_f64() + 0.01) * cores + cores * 0.01;
    assert!(cpu_seconds > 0.0 && cpu_seconds <= bound, "{cpu_seconds} s of CPU in {elapsed:?} on {cores} cores");
    let percent: f64 = lines
        .iter()
        .filter(|l| l.name == "system.cpu.percent" && l.tags.starts_with("cpu:total,"))
        .map(|l| l.value)
        .sum();
    assert!((percent - 100.0).abs() < 1e-6, "CPU states add up to {percent} %");
    find(&lines, "system.cpu.seconds", "cpu:0,state:user");
}

/// Loopback traffic sent between two samples shows up in `lo`'s byte counters.
#[test]
fn loopback_traffic_between_samples_is_counted() {
    let mut sampler = sampler();
    sample(&mut sampler);
    let (rx, tx) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    let payload = [7u8; 1000];
    for _ in 0..100 {
        tx.send_to(&payload, rx.local_addr().unwrap()).unwrap();
    }
    let lines = sample(&mut sampler);
    let received = find(&lines, "system.net.bytes", "interface:lo,direction:rx");
    assert_eq!(received.kind, "c");
    assert!(received.value >= 100_000.0, "{received:?}");
    assert!(find(&lines, "system.net.packets", "interface:lo,direction:tx").value >= 100.0);
}

/// Uptime lies between two reads of `/proc/uptime` taken around the sample; load averages
/// are the first fields of `/proc/loadavg` or ones read just after.
#[test]
fn uptime_and_load_match_proc() {
    let before = uptime();
    let lines = sample(&mut sampler());
    let after = uptime();
    let up = find(&lines, "system.uptime", "").value;
    assert!((before..=after).contains(&up), "{before} ≤ {up} ≤ {after}");
    let load: f64 =
        std::fs::read_to_string("/proc/loadavg").unwrap().split_ascii_whitespace().next().unwrap().parse().unwrap();
    assert!((find(&lines, "system.load.1", "").value - load).abs() < 1.0);
}

/// The test process's own resident memory and descriptors match `/proc/self`.
#[test]
fn own_process_matches_proc_self() {
    let lines = sample(&mut sampler());
    let rss = find(&lines, "sluice.process.rss_bytes", "").value;
    let vm_rss: f64 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_ascii_whitespace().next()?.parse().ok())
        .unwrap();
    assert!((rss - vm_rss * 1024.0).abs() <= vm_rss * 1024.0 * 0.2, "{rss} vs VmRSS {vm_rss} kB");
    assert!(find(&lines, "sluice.process.open_fds", "").value >= 3.0);
}

/// Every mounted filesystem reported has statvfs's own numbers, and none is excluded.
#[test]
fn disk_usage_matches_statvfs_and_skips_pseudo_filesystems() {
    let lines = sample(&mut sampler());
    let totals: Vec<&Line> = lines.iter().filter(|l| l.name == "system.disk.total").collect();
    assert!(!totals.is_empty(), "at least one real filesystem is mounted");
    for line in totals {
        assert!(!line.tags.contains("fstype:proc") && !line.tags.contains("fstype:sysfs"), "{line:?}");
        let mountpoint = line.tags.strip_prefix("mountpoint:").unwrap().split(",device:").next().unwrap();
        let usage = super::disk::statvfs(std::path::Path::new(mountpoint)).unwrap();
        assert_eq!(line.value, usage.total as f64, "{mountpoint}");
    }
}
