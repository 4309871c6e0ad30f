//! The scrape endpoint end to end: 3 000 StatsD lines over UDP across 600 names (and 50 sets
//! sent again every quarter second) into the binary, scraped every second by a real Prometheus
//! 2.42 — which asks for OpenMetrics first — and read back with `/api/v1/query`: exact counter
//! totals, histogram buckets, `_count` and `_sum`, gauges, sets, mapped names and labels, a
//! dropped name absent, a type conflict left out and counted; `promtool check metrics` passes
//! on the text format.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common;

use common::prometheus::{PromQl, Sample};
use common::scraper::Scraper;
use common::{Agent, Setup};

const AGENT: &str = "hostname = \"e2e-host\"";

/// A glob with a capture for counters, one for timers (a `_seconds` name, so OpenMetrics
/// carries its unit), and a drop rule.
const RULES: &str = r#"
[[mappings]]
match = "app.*.requests"
name = "app_requests"
labels = { server = "$1" }

[[mappings]]
match = "api.*.latency"
name = "api_latency_seconds"
labels = { service = "$1" }

[[mappings]]
match = "debug.*"
action = "drop"
"#;

/// The default buckets, and what a service's six samples (10, 100, 100, 300, 300, 300 ms)
/// count at or below each, `+Inf` last. 10 ms and 100 ms lie exactly on a bound.
const BUCKETS: [(&str, f64); 12] = [
    ("0.005", 0.0),
    ("0.01", 1.0),
    ("0.025", 1.0),
    ("0.05", 1.0),
    ("0.1", 3.0),
    ("0.25", 3.0),
    ("0.5", 6.0),
    ("1", 6.0),
    ("2.5", 6.0),
    ("5", 6.0),
    ("10", 6.0),
    ("+Inf", 6.0),
];

/// Every sample of `samples` by the value of `label`.
fn by(samples: &[Sample], label: &str) -> BTreeMap<String, f64> {
    samples.iter().map(|(labels, v)| (labels.get(label).cloned().unwrap_or_default(), *v)).collect()
}

/// `GET /metrics` with an Accept header: the response head and body.
fn get_with_accept(addr: SocketAddr, accept: &str) -> (String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// Sends the 3 002 lines of the test: counters, timers, gauges, dropped names and a conflict.
fn send_traffic(agent: &Agent) -> usize {
    let mut datagrams: Vec<String> = Vec::new();
    // 200 servers × 10 counter lines: app_requests_total{server="web<i>"} = 10 × (i % 7 + 1).
    let mut lines = Vec::new();
    for _ in 0..10 {
        for i in 0..200 {
            lines.push(format!("app.web{i}.requests:{}|c", i % 7 + 1));
        }
    }
    datagrams.extend(lines.chunks(25).map(|c| c.join("\n")));
    // 100 services, six timer samples each in one datagram (one window, so one exact sum).
    for i in 0..100 {
        datagrams.push(
            [10, 100, 100, 300, 300, 300]
                .iter()
                .map(|ms| format!("api.svc{i}.latency:{ms}|ms"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    // 100 unmapped counters, 100 gauges set and then moved by a delta.
    for i in 0..100 {
        datagrams.push(format!("plain.c{i}:{i}|c\nroom{i}.temp:{}|g\nroom{i}.temp:+1|g", 2 * i));
    }
    // 50 names dropped by a rule, as counters and as gauges.
    for i in 0..50 {
        datagrams.push(format!("debug.c{i}:1|c\ndebug.g{i}:5|g"));
    }
    // A gauge named like the counter `dup`'s `dup_total`: left out, the counter kept.
    datagrams.push("dup:3|c\ndup_total:9|g".to_owned());
    let lines: usize = datagrams.iter().map(|d| d.lines().count()).sum();
    let refs: Vec<&str> = datagrams.iter().map(String::as_str).collect();
    agent.send_udp(&refs);
    lines
}

/// Several hundred names over UDP, scraped by Prometheus every second: every value read back
/// through `PromQL` is exact, mapped names and labels replace the StatsD ones, the dropped names
/// never appear, the conflicting gauge is left out and counted, the timer's unit reached
/// Prometheus (so it parsed OpenMetrics), and the text format passes `promtool`.
#[test]
fn prometheus_scrapes_exact_totals_histograms_gauges_and_sets_from_the_endpoint() {
    let listen = common::free_tcp();
    let config = format!("[sinks.scrape]\ntype = \"prometheus_exporter\"\nlisten = \"{listen}\"\n{RULES}");
    let agent = Setup { flush_interval: "1s", agent: AGENT, ..Setup::default() }.start(&config);
    let prometheus = Scraper::start(listen);

    let lines = send_traffic(&agent);
    assert_eq!(lines, 3002);
    agent.wait_lines(3002.0);
    // Sets count the members of the last window: send every set's members (i + 1 of them, in
    // one datagram) four times a second while Prometheus is read, so each window has them all.
    let sending = Arc::new(AtomicBool::new(true));
    let sets = {
        let (sending, udp) = (Arc::clone(&sending), agent.udp);
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            while sending.load(Ordering::Relaxed) {
                for i in 0..50 {
                    let members: Vec<String> = (0..=i).map(|m| format!("users.s{i}:member{m}|s")).collect();
                    socket.send_to(members.join("\n").as_bytes(), udp).unwrap();
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    let total: f64 = (0..200).map(|i| f64::from(10 * (i % 7 + 1))).sum();
    let wait = Duration::from_secs(30);
    prometheus.wait_for("sum(app_requests_total)", wait, |s| s.len() == 1 && s[0].1 == total);
    let requests = prometheus.query("app_requests_total").unwrap();
    assert_eq!(requests.len(), 200);
    let requests = by(&requests, "server");
    for i in 0..200 {
        assert_eq!(requests[&format!("web{i}")], f64::from(10 * (i % 7 + 1)), "web{i}");
    }
    for (labels, _) in prometheus.query("app_requests_total{server=\"web0\"}").unwrap() {
        let names: Vec<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(names, ["__name__", "instance", "job", "server"], "only the mapped label is added");
    }

    prometheus.wait_for("count(api_latency_seconds_count == 6)", wait, |s| s.len() == 1 && s[0].1 == 100.0);
    let buckets = prometheus.wait_for("api_latency_seconds_bucket", wait, |s| s.len() == 100 * BUCKETS.len());
    for (labels, value) in &buckets {
        let le = labels["le"].as_str();
        let expected = BUCKETS.iter().find(|(bound, _)| *bound == le).unwrap_or_else(|| panic!("le {le}")).1;
        assert_eq!(*value, expected, "{labels:?}");
    }
    let sums = by(&prometheus.query("api_latency_seconds_sum").unwrap(), "service");
    assert_eq!(sums.len(), 100);
    assert!(sums.values().all(|&sum| sum == 1.11), "{sums:?}");

    let plain = prometheus.wait_for("{__name__=~\"plain_c[0-9]+_total\"}", wait, |s| s.len() == 100);
    for (labels, value) in &plain {
        let i: f64 = labels["__name__"].trim_start_matches("plain_c").trim_end_matches("_total").parse().unwrap();
        assert_eq!(*value, i, "{labels:?}");
    }
    let gauges = prometheus.wait_for("{__name__=~\"room[0-9]+_temp\"}", wait, |s| s.len() == 100);
    for (labels, value) in &gauges {
        let i: f64 = labels["__name__"].trim_start_matches("room").trim_end_matches("_temp").parse().unwrap();
        assert_eq!(*value, 2.0 * i + 1.0, "{labels:?}");
    }

    prometheus.wait_for("count({__name__=~\"users_s[0-9]+\"})", wait, |s| s.len() == 1 && s[0].1 == 50.0);
    prometheus.wait_for("{__name__=~\"users_s[0-9]+\"}", wait, |s| {
        s.iter().all(|(labels, v)| {
            let i: f64 = labels["__name__"].trim_start_matches("users_s").parse().unwrap();
            *v == i + 1.0
        })
    });
    sending.store(false, Ordering::Relaxed);
    sets.join().unwrap();

    assert_eq!(prometheus.query("{__name__=~\"debug.*\"}"), Some(Vec::new()), "dropped names are never served");
    let dup = prometheus.wait_for("{__name__=~\"dup.*\"}", wait, |s| !s.is_empty());
    assert_eq!(dup.len(), 1, "{dup:?}");
    assert_eq!(dup[0].1, 3.0, "the counter dup_total is kept, the gauge left out");
    assert!(
        agent.wait_metric("sluice_backend_dropped_series_total{backend=\"scrape\",reason=\"conflict\"}", 1.0) >= 1.0
    );

    assert_eq!(prometheus.target(), Some(("up".to_owned(), String::new())));
    let (_, metadata) = common::http_get(prometheus.addr(), "/api/v1/metadata?metric=api_latency_seconds").unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["data"]["api_latency_seconds"][0]["unit"], "seconds", "{metadata}");
    assert_eq!(metadata["data"]["api_latency_seconds"][0]["type"], "histogram", "{metadata}");

    let (head, openmetrics) = get_with_accept(listen, "application/openmetrics-text;version=1.0.0");
    assert!(head.contains("application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(openmetrics.ends_with("\n# EOF\n"));
    assert!(openmetrics.contains("# TYPE app_requests counter\n"));
    assert!(openmetrics.contains("# UNIT api_latency_seconds seconds\n"));
    let (status, text) = common::http_get(listen, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE app_requests_total counter\n") && !text.contains("# EOF"));
    common::promtool::check_metrics(&text).unwrap_or_else(|e| panic!("promtool on the text format: {e}"));

    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}

/// `hand_over_total` as the endpoint serves it in the text format, if it answers.
fn served_total(listen: SocketAddr) -> Option<f64> {
    let (status, body) = common::http_get(listen, "/metrics")?;
    assert_eq!(status, 200);
    body.lines().find_map(|l| l.strip_prefix("hand_over_total ")?.parse().ok())
}

fn wait_total(listen: SocketAddr, total: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while served_total(listen) != Some(total) {
        assert!(
            std::time::Instant::now() < deadline,
            "hand_over_total is {:?}, expected {total}",
            served_total(listen)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A reload that rebuilds the sink (its mapping rules changed) hands the listener over: a
/// scrape every 20 ms never meets a closed port or a total that went back, and counting goes
/// on. A restart on the same `data_dir` continues from the saved total.
#[test]
fn a_reload_and_a_restart_keep_the_endpoint_serving_and_counting() {
    let data = tempfile::tempdir().unwrap();
    let listen = common::free_tcp();
    let config = format!("[sinks.scrape]\ntype = \"prometheus_exporter\"\nlisten = \"{listen}\"\n");
    let setup = Setup { flush_interval: "1s", data_dir: Some(data.path()), capture_log: true, ..Setup::default() };
    let agent = setup.start(&config);
    let counts: Vec<String> = (0..200).map(|_| "hand.over:5|c".to_owned()).collect();
    for chunk in counts.chunks(20) {
        agent.send_udp(&[&chunk.join("\n")]);
    }
    wait_total(listen, 1000.0);

    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let (mut seen, mut refused) = (Vec::new(), 0_u32);
            while !done.load(Ordering::Relaxed) {
                match common::http_get(listen, "/metrics") {
                    Some(_) => seen.extend(served_total(listen)),
                    None => refused += 1,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (seen, refused)
        })
    };
    agent.reload_with(|c| format!("{c}[[mappings]]\nmatch = \"other.*\"\nname = \"other\"\n"));
    let log = agent.path("sluice.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().contains("Configuration reloaded.") {
        assert!(std::time::Instant::now() < deadline, "the reload was not applied");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::fs::read_to_string(&log).unwrap().contains("Taking over the running scrape listener."));
    agent.send_udp(&["hand.over:7|c"]);
    wait_total(listen, 1007.0);
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::Relaxed);
    let (seen, refused) = scraper.join().unwrap();
    assert_eq!(refused, 0, "a scrape met a closed port");
    assert!(seen.len() > 20 && seen.windows(2).all(|w| w[0] <= w[1]), "totals seen: {seen:?}");
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");

    let agent = setup.start(&config);
    agent.send_udp(&["hand.over:1|c"]);
    wait_total(listen, 1008.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}
