use std::io::Write as _;
use std::process::{Command, Stdio};

use super::super::config::Format;
use super::*;
use crate::model::SummaryKind;
use crate::prometheus::tests::summary;

/// Runs `promtool check metrics` (Debian package `prometheus`) on `exposition`: `Ok` when it
/// finds nothing to complain about, else what it said.
fn check_metrics(exposition: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start promtool (install the Debian package prometheus): {e}"));
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() && said.trim().is_empty() { Ok(()) } else { Err(format!("{}: {said}", output.status)) }
}

fn first(id: u64) -> Window {
    window(
        id,
        vec![
            Series { key: key("app.hits", &["canary", "route:/api"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("cpu.temp", &["instance:x"]), value: Value::Gauge { value: -1.5 } },
            Series { key: key("users", &[]), value: Value::Set { count: 2, members: vec![1, 2] } },
            Series {
                key: key("req.latency", &[]),
                value: summary(SummaryKind::Timer, &[(4.0, 1.0), (20.0, 1.0), (100.0, 1.0)], &[]),
            },
        ],
    )
}

/// A Prometheus export is one exposition per window, each after a comment naming the
/// window, each passing `promtool check metrics`, with counters and histograms cumulative
/// across windows (the textfile's translation) and exact values.
#[tokio::test]
async fn each_window_is_an_exposition_promtool_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.prom.txt");
    let mut config = FileConfig::new(&path);
    config.format = Format::Prometheus;
    config.buckets = vec![0.005, 0.1, 1.0];
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    write(&mut file, &first(1)).await;
    let second = window(
        2,
        vec![
            Series { key: key("app.hits", &["canary", "route:/api"]), value: Value::Counter { sum: 12.0, rate: 1.2 } },
            Series { key: key("req.latency", &[]), value: summary(SummaryKind::Timer, &[(1500.0, 1.0)], &[]) },
        ],
    );
    write(&mut file, &second).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("# sluice window ") {
            blocks.push(String::new());
        }
        blocks.last_mut().expect("the file starts with a window's comment").push_str(line);
    }
    assert_eq!(blocks.len(), 2);
    for block in &blocks {
        check_metrics(block).unwrap();
    }
    assert_eq!(
        blocks[1],
        "# sluice window 2 1970-01-01T00:00:10.000Z 1970-01-01T00:00:20.000Z\n\
         # HELP app_hits_total Aggregated by sluice.\n\
         # TYPE app_hits_total counter\n\
         app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 42\n\
         # HELP cpu_temp Aggregated by sluice.\n\
         # TYPE cpu_temp gauge\n\
         cpu_temp{env=\"prod\",instance=\"x\"} -1.5\n\
         # HELP req_latency Aggregated by sluice.\n\
         # TYPE req_latency histogram\n\
         req_latency_bucket{env=\"prod\",le=\"0.005\"} 1\n\
         req_latency_bucket{env=\"prod\",le=\"0.1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"+Inf\"} 4\n\
         req_latency_sum{env=\"prod\"} 1.624\n\
         req_latency_count{env=\"prod\"} 4\n\
         # HELP users Aggregated by sluice.\n\
         # TYPE users gauge\n\
         users{env=\"prod\"} 0\n"
    );
    assert!(blocks[0].contains("cpu_temp{env=\"prod\",instance=\"x\"} -1.5\n"), "{}", blocks[0]);
    assert!(blocks[0].contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 30\n"));
}

/// The totals of the Prometheus format survive a restart of the sink: they are kept in the
/// data directory as `file-<sink>.json`.
#[tokio::test]
async fn prometheus_totals_continue_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.txt");
    let mut config = FileConfig::new(&path);
    config.format = Format::Prometheus;
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    write(&mut file, &first(1)).await;
    file.close().await;
    drop(file);
    assert!(dir.path().join("file-export.json").exists());
    let mut file = file_with_clock(dir.path(), &config, &clock);
    file.begin();
    write(&mut file, &first(2)).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let last = text.rsplit("# sluice window ").next().unwrap();
    assert!(last.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 60\n"), "{last}");
}
