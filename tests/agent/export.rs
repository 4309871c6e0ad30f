//! The file sink through the binary: a CSV export rotated by size while the agent runs, every
//! file with its header and the totals of all files exact, and a Prometheus export promtool
//! accepts window by window.

use std::collections::BTreeMap;

use crate::common;

use common::{Agent, counter_total};

/// Hundreds of counters over several windows go to a CSV export that rotates at every
/// window: each file starts with the header and parses strictly, archives sort by time, and
/// the rows of all files add up to exactly what was sent, as the JSON sink saw it too.
#[test]
fn a_rotated_csv_export_holds_every_count_exactly() {
    let extra = "\n[sinks.export]\ntype = \"file\"\nformat = \"csv\"\npath = \"{dir}/export/metrics.csv\"\n\
                 rotate_size = \"4KiB\"\nkeep_files = 100\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("export")).unwrap();
    let agent = Agent::start_with(
        "1s",
        &extra.replace("{dir}", &dir.path().display().to_string()),
        std::process::Stdio::null(),
    );
    let names = 300u64;
    let rounds = 3u64;
    for round in 0..rounds {
        agent.wait_flush();
        let lines: Vec<String> = (0..names).map(|i| format!("export.c{i}:{}|c|#round:x", i + 1)).collect();
        let datagrams: Vec<String> = lines.chunks(20).map(|c| c.join("\n")).collect();
        agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
        agent.wait_lines(((round + 1) * names) as f64);
    }
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");

    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("export"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "one file per window at least: {files:?}");
    assert_eq!(files.last().map(String::as_str), Some("metrics.csv"));
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut last_end = String::new();
    for name in &files {
        if name != "metrics.csv" {
            let stamp = name.strip_prefix("metrics-").and_then(|n| n.strip_suffix(".csv")).unwrap();
            assert!(stamp.len() >= 16 && stamp.as_bytes()[8] == b'T' && stamp.as_bytes()[15] == b'Z', "{name}");
        }
        let mut reader = csv::ReaderBuilder::new().from_path(dir.path().join("export").join(name)).unwrap();
        let header: Vec<&str> = reader.headers().unwrap().iter().collect();
        assert_eq!(
            header,
            ["window_start", "window_end", "hostname", "agent_tags", "name", "tags", "kind", "field", "value"]
        );
        for row in reader.records() {
            let row = row.unwrap();
            assert!(row[1] >= *last_end, "{name}: windows in time order");
            last_end = row[1].to_owned();
            if &row[6] == "counter" && &row[7] == "sum" && row[4].starts_with("export.") {
                assert_eq!(&row[5], "round:x");
                *sums.entry(row[4].to_owned()).or_default() += row[8].parse::<f64>().unwrap();
            }
        }
    }
    assert_eq!(sums.len() as u64, names);
    for i in 0..names {
        let name = format!("export.c{i}");
        let sent = ((i + 1) * rounds) as f64;
        assert_eq!(sums[&name], sent, "{name}");
        assert_eq!(counter_total(&windows, &name, &["round:x"]), sent, "{name} in the JSON sink");
    }
}

/// A Prometheus export through the binary: one exposition per window, each accepted by
/// `promtool check metrics`, the counters cumulative, so the last window's exposition holds
/// exactly what was sent; the totals live in the data directory as `file-<sink>.json`.
#[test]
fn a_prometheus_export_is_one_exposition_promtool_accepts_per_window() {
    let extra = "\n[sinks.prom]\ntype = \"file\"\nformat = \"prometheus\"\npath = \"{dir}/export/metrics.txt\"\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("export")).unwrap();
    let agent = Agent::start_with(
        "1s",
        &extra.replace("{dir}", &dir.path().display().to_string()),
        std::process::Stdio::null(),
    );
    let data_dir = agent.path("");
    let names = 200u64;
    let rounds = 3u64;
    for round in 0..rounds {
        agent.wait_flush();
        let lines: Vec<String> = (0..names).map(|i| format!("prom.c{i}:{}|c", i + 1)).collect();
        let datagrams: Vec<String> = lines.chunks(20).map(|c| c.join("\n")).collect();
        agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
        agent.wait_lines(((round + 1) * names) as f64);
    }
    // Saved after each delivered window; the windows of the first rounds were delivered.
    assert!(data_dir.join("file-prom.json").exists(), "the totals are kept in the data directory");
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(dir.path().join("export/metrics.txt")).unwrap();
    let mut blocks: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("# sluice window ") {
            blocks.push(String::new());
        }
        blocks.last_mut().expect("the file starts with a window's comment").push_str(line);
    }
    assert!(blocks.len() >= 3, "{} windows", blocks.len());
    for block in &blocks {
        common::promtool::check_metrics(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    }
    let last = blocks.last().unwrap();
    for i in 0..names {
        let sample = format!("\nprom_c{i}_total {}\n", (i + 1) * rounds);
        assert!(last.contains(&sample), "{sample:?} not in the last window:\n{last}");
    }
}
