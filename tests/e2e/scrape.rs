//! `[sources.scrape.NAME]` end to end: the sluice binary scrapes an application instrumented
//! with the real npm `prom-client` (text format, gzipped) and one with `prometheus_client`
//! (OpenMetrics, gzipped), each with 180 series of its own besides the library's default
//! ones, over six rounds of known events; the application is killed after a scrape saw its
//! fourth round and started again on the same port, its counters at zero. The file sink holds
//! exactly what the application recorded: counter totals, per-bucket counts and sums, summary
//! counts and sums, the last gauge values; `up` is 0 while the target is down and 1 again
//! after.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::Value;

use crate::common;
use common::scrape_apps::{self, App, Library, fixed_target};
use common::{Agent, Setup, free_tcp, series};

fn start(job: &str, target: SocketAddr) -> Agent {
    let config = format!(
        "[sources.scrape.{job}]\ntargets = [\"http://{target}/metrics\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n"
    );
    Setup { flush_interval: "1s", ..Setup::default() }.start(&config)
}

/// Waits until the source `job` made two more good scrapes than it had: the later one began
/// after this call, so it saw everything recorded before.
fn wait_two_scrapes(agent: &Agent, job: &str) {
    let sample = format!("sluice_scrapes_total{{source=\"{job}\"}}");
    let now = agent.metric(&sample).unwrap_or(0.0);
    agent.wait_metric(&sample, now + 2.0);
}

/// Every series of `name` across `windows`, keyed by its tags, each with its values in window
/// order.
fn by_tags<'w>(windows: &'w [Value], name: &str) -> BTreeMap<Vec<String>, Vec<&'w Value>> {
    let mut out: BTreeMap<Vec<String>, Vec<&Value>> = BTreeMap::new();
    for (n, tags, value) in series(windows) {
        if n == name {
            out.entry(tags).or_default().push(value);
        }
    }
    out
}

/// The target's tags with `extra`, sorted as the sink writes them.
fn tags(job: &str, target: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut tags = vec![format!("instance:{target}"), format!("job:{job}")];
    tags.extend_from_slice(extra);
    tags.sort();
    tags
}

fn number(value: &Value, field: &str) -> f64 {
    value[field].as_f64().unwrap_or_else(|| panic!("{field} in {value}"))
}

fn total(series: &BTreeMap<Vec<String>, Vec<&Value>>, key: &[String], field: &str) -> f64 {
    series.get(key).unwrap_or_else(|| panic!("no series {key:?}")).iter().map(|v| number(v, field)).sum()
}

fn scrape_through_a_restart(library: Library, job: &str) {
    let target = free_tcp();
    let mut app = App::start(library, target);
    let agent = start(job, target);
    // The first scrape is every series' baseline (and makes the target known).
    agent.wait_metric(&format!("sluice_scrapes_total{{source=\"{job}\"}}"), 1.0);
    for r in 1..=4 {
        app.round(r);
        wait_two_scrapes(&agent, job);
    }
    app.kill();
    // Three failed reads: at least one whole window sees only `up` 0.
    agent.wait_metric(&format!("sluice_scrape_failures_total{{source=\"{job}\",reason=\"connect\"}}"), 3.0);
    let mut app = App::start(library, target);
    wait_two_scrapes(&agent, job);
    for r in 5..=6 {
        app.round(r);
        wait_two_scrapes(&agent, job);
    }
    let malformed = agent.metric(&format!("sluice_scrape_malformed_lines_total{{source=\"{job}\"}}"));
    assert_eq!(malformed, Some(0.0), "both libraries' expositions parse line for line");
    let (status, windows) = agent.stop();
    assert!(status.success(), "{status}");
    drop(app);

    let rounds = [1, 2, 3, 4, 5, 6];
    let requests = by_tags(&windows, "app_requests_total");
    for i in 0..scrape_apps::COUNTERS {
        let key = tags(job, target, &[format!("route:r{i}")]);
        assert_eq!(total(&requests, &key, "sum"), scrape_apps::requests(i, &rounds), "app_requests_total {key:?}");
    }
    let errors = by_tags(&windows, "app_errors_total");
    assert_eq!(total(&errors, &tags(job, target, &[]), "sum"), scrape_apps::errors(&rounds));

    let latency = by_tags(&windows, "app_latency_seconds");
    for j in 0..scrape_apps::HISTOGRAMS {
        let key = tags(job, target, &[format!("route:r{j}")]);
        let mut counts = vec![0; scrape_apps::BOUNDS.len() + 1];
        let mut sum = 0.0;
        for v in &latency[&key] {
            assert_eq!(v["type"], "buckets", "{v}");
            assert_eq!(v["bounds"], serde_json::json!(scrape_apps::BOUNDS), "the library's bounds, exactly");
            for (total, c) in counts.iter_mut().zip(v["counts"].as_array().unwrap()) {
                *total += c.as_u64().unwrap();
            }
            sum += number(v, "sum");
        }
        assert_eq!((counts, sum), scrape_apps::latency(6), "app_latency_seconds {key:?}");
    }

    let queue = by_tags(&windows, "app_queue_depth");
    for k in 0..scrape_apps::GAUGES {
        let key = tags(job, target, &[format!("queue:q{k}")]);
        let last = queue[&key].last().unwrap();
        assert_eq!(number(last, "value"), scrape_apps::queue(k, 6), "app_queue_depth {key:?}");
    }

    let key = tags(job, target, &[]);
    let count = total(&by_tags(&windows, "app_payload_bytes_count"), &key, "sum");
    let sum = total(&by_tags(&windows, "app_payload_bytes_sum"), &key, "sum");
    assert_eq!((count, sum), scrape_apps::payload(6), "app_payload_bytes");
    if library == Library::PythonClient {
        // OpenMetrics was negotiated: `_created` dated the counters instead of being a gauge,
        // as the text format would have it.
        assert!(by_tags(&windows, "app_requests_created").is_empty(), "prometheus_client answered the text format");
    }
    if library == Library::PromClient {
        // prom-client's summary has quantiles: gauges tagged with them.
        let quantiles = by_tags(&windows, "app_payload_bytes");
        for q in ["0.5", "0.9"] {
            assert!(quantiles.contains_key(&tags(job, target, &[format!("quantile:{q}")])), "{quantiles:?}");
        }
    }

    let up: Vec<f64> = by_tags(&windows, "up")[&key].iter().map(|v| number(v, "value")).collect();
    assert!(up.contains(&0.0), "up is 0 while the target is down: {up:?}");
    assert_eq!(up.last(), Some(&1.0), "up is 1 once it is back: {up:?}");
}

/// prom-client's text format, through a restart of the application, yields exact totals.
#[test]
fn a_prom_client_app_is_scraped_exactly_through_a_restart() {
    scrape_through_a_restart(Library::PromClient, "node");
}

/// `prometheus_client`'s OpenMetrics (with `_created`), through a restart of the application,
/// yields exact totals.
#[test]
fn a_prometheus_client_app_is_scraped_exactly_through_a_restart() {
    scrape_through_a_restart(Library::PythonClient, "python");
}

/// A malformed line is skipped and counted, the rest of the read kept; a target that answers
/// 4xx is logged once with the start of its body and counted, and reports `up` 0.
#[test]
fn bad_lines_are_skipped_and_an_http_error_is_logged_with_its_body() {
    let good =
        fixed_target("200 OK", "# TYPE temp gauge\ntemp{room=\"a\"} 21.5\nbroken{ 1\nloose 7 not-a-time\nother 3\n");
    let bad = fixed_target("403 Forbidden", "token expired for sluice\n");
    let config = format!(
        "[sources.scrape.good]\ntargets = [\"http://{good}/metrics\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n\
         [sources.scrape.bad]\ntargets = [\"http://{bad}/metrics\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n"
    );
    let agent = Setup { flush_interval: "1s", capture_log: true, ..Setup::default() }.start(&config);
    agent.wait_metric("sluice_scrapes_total{source=\"good\"}", 3.0);
    agent.wait_metric("sluice_scrape_failures_total{source=\"bad\",reason=\"http_status\"}", 3.0);
    let malformed = agent.metric("sluice_scrape_malformed_lines_total{source=\"good\"}").unwrap();
    let scrapes = agent.metric("sluice_scrapes_total{source=\"good\"}").unwrap();
    assert!(malformed >= 2.0 * scrapes && malformed <= 2.0 * (scrapes + 1.0), "{malformed} for {scrapes} reads");
    // The log goes with the agent's temp dir.
    let log = std::fs::read_to_string(agent.path("sluice.log")).unwrap();
    let (status, windows) = agent.stop();
    assert!(status.success(), "{status}");
    let logged: Vec<&str> = log.lines().filter(|l| l.contains("Scrape failed")).collect();
    assert_eq!(logged.len(), 1, "logged once, not every interval: {logged:?}");
    assert!(logged[0].contains("answered 403: token expired for sluice"), "{}", logged[0]);
    assert!(
        logged[0].contains("reason=\"http_status\"") && logged[0].contains(&format!("http://{bad}/metrics")),
        "{}",
        logged[0]
    );

    let temp = by_tags(&windows, "temp");
    assert_eq!(number(temp[&tags("good", good, &["room:a".to_owned()])].last().unwrap(), "value"), 21.5);
    assert_eq!(number(by_tags(&windows, "other")[&tags("good", good, &[])].last().unwrap(), "value"), 3.0);
    assert!(by_tags(&windows, "loose").is_empty() && by_tags(&windows, "broken").is_empty());
    let up: Vec<f64> = by_tags(&windows, "up")[&tags("bad", bad, &[])].iter().map(|v| number(v, "value")).collect();
    assert!(!up.is_empty() && up.iter().all(|v| *v == 0.0), "{up:?}");
}
