//! The file sink's CSV export through the binary: rotated by size while the agent runs, every
//! file with its header, the totals in the archives and the current file together exact.

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
