//! The host source through the binary: samples arrive in the windows with their documented
//! names, tags and values.

use crate::common;

use common::{Setup, last_gauge, series};

fn meminfo_bytes(key: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap();
    line.split_ascii_whitespace().nth(1).unwrap().parse::<f64>().unwrap() * 1024.0
}

/// With `[sources.host]`, windows carry memory gauges equal to `/proc/meminfo`, CPU seconds
/// per state as counters, and the host source is counted as the `host` listener.
#[test]
fn host_samples_arrive_in_windows_with_documented_names() {
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start("[sources.host]\ninterval = \"1s\"\n");
    // Two samples (counters need a baseline) and a flush after the second.
    agent.wait_metric("sluice_flushes_total", 3.0);
    assert!(agent.metric("sluice_received_lines_total{listener=\"host\"}").unwrap() > 20.0);
    let (status, windows) = agent.stop();
    assert!(status.success());

    assert_eq!(last_gauge(&windows, "system.mem.total"), Some(meminfo_bytes("MemTotal")));
    let cpu: Vec<_> = series(&windows).filter(|(n, _, _)| n == "system.cpu.seconds").collect();
    assert!(
        cpu.iter().any(|(_, tags, v)| tags == &["cpu:total", "state:idle"] && v["sum"].as_f64().unwrap() >= 0.0),
        "{cpu:?}"
    );
    assert!(cpu.iter().all(|(_, _, v)| v["sum"].as_f64().unwrap() >= 0.0), "no negative CPU time");
    let uptime = last_gauge(&windows, "system.uptime").unwrap();
    let now: f64 =
        std::fs::read_to_string("/proc/uptime").unwrap().split_ascii_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime <= now && uptime > now - 10.0, "uptime {uptime}, /proc/uptime {now}");
    assert!(last_gauge(&windows, "sluice.process.rss_bytes").unwrap() > 1_000_000.0);
}
