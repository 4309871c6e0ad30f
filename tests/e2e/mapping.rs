//! `[[mappings]]` end to end: thousands of StatsD lines over UDP across hundreds of names into
//! the binary, read back from a real Pushgateway 1.5 — mapped names and labels with exact
//! values, dropped series absent, per-rule buckets, a summary, and unmatched names with the
//! default translation.

use crate::common;

use common::pushgateway::{Pushgateway, histogram, value};
use common::{Setup, counter_total};

const AGENT: &str = "hostname = \"e2e-host\"";
const GROUP: [(&str, &str); 2] = [("instance", "e2e-host"), ("job", "sluice")];

/// A glob with a capture, a regex with a named and a numbered capture and per-rule buckets, a
/// drop rule, a quantiles rule and a gauge-only rule.
const RULES: &str = r#"
[[mappings]]
match = "app.*.requests"
name = "app_requests"
labels = { server = "$1" }

[[mappings]]
match = '(?P<svc>\w+)\.db\.(select|insert)'
match_type = "regex"
name = "db_query_seconds"
labels = { service = "${svc}", op = "$2" }
buckets = [0.05, 0.2]

[[mappings]]
match = "debug.*"
action = "drop"

[[mappings]]
match = "rpc.*"
name = "rpc_${1}_seconds"
quantiles = [0.5, 0.99]

[[mappings]]
match = "plain.*"
match_metric_type = "gauge"
name = "plain_level"
labels = { which = "$1" }
"#;

/// A summary as the gateway's JSON shows it: count, sum and `(quantile, value)`.
type Summary = (f64, f64, Vec<(f64, f64)>);

fn summary(group: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> Option<Summary> {
    let want: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
    let m = group[name]["metrics"].as_array()?.iter().find(|m| m["labels"].as_object() == Some(&want))?;
    let mut quantiles: Vec<(f64, f64)> = m["quantiles"]
        .as_object()?
        .iter()
        .map(|(q, v)| (q.parse().unwrap(), v.as_str().unwrap().parse().unwrap()))
        .collect();
    quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some((m["count"].as_str()?.parse().ok()?, m["sum"].as_str()?.parse().ok()?, quantiles))
}

fn labels<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = GROUP.to_vec();
    all.extend_from_slice(extra);
    all
}

/// Several rules over 3 350 lines and 650 names: every mapped series arrives under its rule's
/// name and labels with its exact total, per-rule buckets count exactly, the summary has exact
/// count and sum and quantiles within the sketch's 2 %, dropped names never reach the gateway
/// and unmatched names keep the default translation.
#[test]
fn mapping_rules_rename_label_drop_and_rebucket_series_at_the_pushgateway() {
    let gateway = Pushgateway::start();
    let config = format!(
        "[sinks.pgw]\ntype = \"pushgateway\"\nurl = \"{}\"\nformat = \"text\"\n\
         [sinks.pgw.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"1s\"\n{RULES}",
        gateway.url()
    );
    // One window (flushed at stop), so each summary's quantiles are over all its samples.
    let agent = Setup { agent: AGENT, ..Setup::default() }.start(&config);

    let mut lines: Vec<String> = Vec::new();
    // 200 servers × 10 counter lines: app_requests_total{server="web<i>"} = 10 × (i % 7 + 1).
    for _ in 0..10 {
        for i in 0..200 {
            lines.push(format!("app.web{i}.requests:{}|c", i % 7 + 1));
        }
    }
    // 100 services × 6 timer lines: 10 ms, 100 ms (twice), 300 ms (three times).
    for i in 0..100 {
        let op = if i % 2 == 0 { "select" } else { "insert" };
        for ms in [10, 100, 100, 300, 300, 300] {
            lines.push(format!("svc{i}.db.{op}:{ms}|ms"));
        }
    }
    // 50 names dropped, as counters and as gauges.
    for i in 0..50 {
        lines.push(format!("debug.c{i}:1|c"));
        lines.push(format!("debug.g{i}:5|g"));
    }
    // 50 summaries of 9 samples each, 1..=9 ms × (i + 1).
    for i in 0..50 {
        for k in 1..=9 {
            lines.push(format!("rpc.m{i}:{}|ms", k * (i + 1)));
        }
    }
    // 100 unmatched counters and 100 gauges only the gauge rule maps.
    for i in 0..100 {
        lines.push(format!("plain.c{i}:{i}|c"));
        lines.push(format!("plain.g{i}:{}|g", i * 2));
    }
    assert_eq!(lines.len(), 3350);
    for chunk in lines.chunks(25) {
        agent.send_udp(&[&chunk.join("\n")]);
    }
    agent.wait_lines(3350.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "app.web3.requests", &[]), 40.0, "what sluice flushed");

    let group = gateway.group(&GROUP).expect("the group exists");
    assert_eq!(group["last_push_successful"], true);
    assert_eq!(group["app_requests_total"]["type"], "COUNTER");
    assert_eq!(group["app_requests_total"]["metrics"].as_array().unwrap().len(), 200);
    for i in 0..200 {
        let server = format!("web{i}");
        let expected = f64::from(10 * (i % 7 + 1));
        assert_eq!(value(&group, "app_requests_total", &labels(&[("server", &server)])), Some(expected), "{server}");
    }

    assert_eq!(group["db_query_seconds"]["type"], "HISTOGRAM");
    assert_eq!(group["db_query_seconds"]["metrics"].as_array().unwrap().len(), 100);
    for i in 0..100 {
        let service = format!("svc{i}");
        let op = if i % 2 == 0 { "select" } else { "insert" };
        let got = histogram(&group, "db_query_seconds", &labels(&[("op", op), ("service", &service)]));
        let buckets = vec![(0.05, 1.0), (0.2, 3.0), (f64::INFINITY, 6.0)];
        assert_eq!(got, Some((6.0, 1.11, buckets)), "{service}");
    }

    assert_eq!(group["rpc_m0_seconds"]["type"], "SUMMARY");
    for i in 0..50_u32 {
        let name = format!("rpc_m{i}_seconds");
        let scale = f64::from(i + 1) / 1000.0;
        let (count, sum, quantiles) = summary(&group, &name, &GROUP).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(count, 9.0, "{name}");
        assert!((sum - 45.0 * scale).abs() < 1e-9, "{name}: sum {sum}");
        assert_eq!(quantiles.iter().map(|q| q.0).collect::<Vec<_>>(), [0.5, 0.99], "{name}");
        for (q, exact) in [(quantiles[0], 5.0 * scale), (quantiles[1], 9.0 * scale)] {
            assert!((q.1 - exact).abs() <= exact * 0.02, "{name}: quantile {} is {}, exact {exact}", q.0, q.1);
        }
    }

    let names: Vec<&String> = group.as_object().unwrap().keys().collect();
    assert!(!names.iter().any(|n| n.starts_with("debug")), "dropped series reached the gateway: {names:?}");
    assert_eq!(group["plain_level"]["metrics"].as_array().unwrap().len(), 100);
    for i in 0..100_u32 {
        let which = format!("g{i}");
        assert_eq!(value(&group, "plain_level", &labels(&[("which", &which)])), Some(f64::from(i * 2)), "{which}");
        // The counter of the same prefix is no gauge: the default translation.
        assert_eq!(value(&group, &format!("plain_c{i}_total"), &GROUP), Some(f64::from(i)), "plain.c{i}");
    }
}
