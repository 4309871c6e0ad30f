//! The textfile end to end: 2 150 StatsD lines over UDP across 500 names (and 50 sets sent
//! again every quarter second) into the binary, its file read by a real `node_exporter` 1.5's
//! textfile collector: every series appears in `node_exporter`'s `/metrics` with its exact value,
//! mapped names and labels included, dropped names absent, no collector error; `promtool check
//! metrics` passes on the file, which has mode 0644.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common;

use common::node_exporter::NodeExporter;
use common::{Agent, Setup};

const RULES: &str = r#"
[[mappings]]
match = "app.*.requests"
name = "app_requests"
labels = { server = "$1" }

[[mappings]]
match = "debug.*"
action = "drop"
"#;

/// Every sample line of an exposition, `name{labels}` → value (comments skipped).
fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap_or_else(|_| panic!("{l}")))
        })
        .collect()
}

/// The 2 150 lines: mapped counters, timers, unmapped counters, gauges and dropped names.
fn send_traffic(agent: &Agent) -> usize {
    let mut datagrams: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    // 150 servers × 10 lines: app_requests_total{server="web<i>"} = 10 × (i % 5 + 1).
    for _ in 0..10 {
        for i in 0..150 {
            lines.push(format!("app.web{i}.requests:{}|c", i % 5 + 1));
        }
    }
    datagrams.extend(lines.chunks(25).map(|c| c.join("\n")));
    // 100 timers of four samples each (one datagram, one window): 20, 40, 40 and 700 ms.
    for i in 0..100 {
        datagrams.push(
            [20, 40, 40, 700].iter().map(|ms| format!("job.t{i}.duration:{ms}|ms")).collect::<Vec<_>>().join("\n"),
        );
    }
    // 100 unmapped counters and 100 gauges.
    for i in 0..100 {
        datagrams.push(format!("plain.c{i}:{}|c\ndisk{i}.free:{}|g", i + 1, 10 * i));
    }
    // 50 names dropped by a rule.
    for i in 0..50 {
        datagrams.push(format!("debug.c{i}:1|c"));
    }
    let lines: usize = datagrams.iter().map(|d| d.lines().count()).sum();
    let refs: Vec<&str> = datagrams.iter().map(String::as_str).collect();
    agent.send_udp(&refs);
    lines
}

/// `node_exporter` serves every series of the file with its exact value: cumulative counters
/// under mapped names and labels, histogram buckets, `_count` and `_sum`, gauges and sets; the
/// collector reports no error, dropped names never appear, the file passes `promtool check
/// metrics` and is readable by `node_exporter`'s user (0644).
#[test]
fn node_exporter_serves_the_textfiles_series_with_exact_values() {
    let textfiles = tempfile::tempdir().unwrap();
    let path = textfiles.path().join("sluice.prom");
    let config = format!("[sinks.node]\ntype = \"textfile\"\npath = \"{}\"\n{RULES}", path.display());
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&config);
    let node = NodeExporter::start(textfiles.path());

    assert_eq!(send_traffic(&agent), 2150);
    agent.wait_lines(2150.0);
    let sending = Arc::new(AtomicBool::new(true));
    let sets = {
        let (sending, udp) = (Arc::clone(&sending), agent.udp);
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            while sending.load(Ordering::Relaxed) {
                for i in 0..50 {
                    let members: Vec<String> = (0..=i).map(|m| format!("visitors.v{i}:m{m}|s")).collect();
                    socket.send_to(members.join("\n").as_bytes(), udp).unwrap();
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for i in 0..150 {
        expected.insert(format!("app_requests_total{{server=\"web{i}\"}}"), f64::from(10 * (i % 5 + 1)));
    }
    for i in 0..100 {
        let t = format!("job_t{i}_duration");
        for (le, count) in [("0.005", 0), ("0.01", 0), ("0.025", 1), ("0.05", 3), ("0.1", 3), ("0.25", 3), ("0.5", 3)] {
            expected.insert(format!("{t}_bucket{{le=\"{le}\"}}"), f64::from(count));
        }
        for le in ["1", "2.5", "5", "10", "+Inf"] {
            expected.insert(format!("{t}_bucket{{le=\"{le}\"}}"), 4.0);
        }
        expected.insert(format!("{t}_count"), 4.0);
        expected.insert(format!("{t}_sum"), 0.8);
        expected.insert(format!("plain_c{i}_total"), f64::from(i + 1));
        expected.insert(format!("disk{i}_free"), f64::from(10 * i));
    }
    for i in 0..50 {
        expected.insert(format!("visitors_v{i}"), f64::from(i + 1));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let served = loop {
        let served = samples(&node.metrics());
        let missing: Vec<(&String, &f64, Option<&f64>)> =
            expected.iter().filter(|(k, v)| served.get(*k) != Some(v)).map(|(k, v)| (k, v, served.get(k))).collect();
        if missing.is_empty() {
            break served;
        }
        assert!(
            Instant::now() < deadline,
            "{} series missing or different, e.g. {:?}\n{}",
            missing.len(),
            &missing[..missing.len().min(5)],
            node.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    sending.store(false, Ordering::Relaxed);
    sets.join().unwrap();

    assert_eq!(served.get("node_textfile_scrape_error"), Some(&0.0), "node_exporter read the file");
    assert!(!served.keys().any(|k| k.starts_with("debug")), "a dropped name reached the file");
    let ours = served.keys().filter(|k| !k.starts_with("node_") && !k.starts_with("go_") && !k.starts_with("process_"));
    let ours: Vec<&String> = ours.filter(|k| !k.starts_with("promhttp_")).collect();
    assert_eq!(ours.len(), expected.len(), "no series beyond the expected: {ours:?}");

    let file = std::fs::read_to_string(&path).unwrap();
    common::promtool::check_metrics(&file).unwrap_or_else(|e| panic!("promtool on the textfile: {e}"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    assert!(!textfiles.path().join("sluice.prom.tmp").exists(), "no temporary file left");

    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}
