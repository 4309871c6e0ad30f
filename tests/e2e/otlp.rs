//! `[sources.otlp]` end to end: the real OpenTelemetry Python SDK exports to the binary in both
//! temporalities (880 series, thousands of points), and the file sink holds exactly what the
//! application recorded: counter totals, bucket counts, exponential histograms' count and sum,
//! gauges, up-down counters, and the tags the attribute rules keep. Bodies that are malformed,
//! oversized or of another type are refused with their status and counted, and the agent
//! keeps running.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::Value;

use crate::common;
use common::otel::{self, Client};
use common::{Agent, Setup, free_tcp, series};

/// Resource and scope attributes kept: `service.name`, `deployment.*` but the secret, and the
/// scope's `scope.kind`; the SDK's `telemetry.sdk.*`, `host.name` and `service.instance.id` not.
const OTLP: &str = r#"
[sources.otlp]
listen = "{otlp}"
max_body_bytes = "{max}"
[sources.otlp.resource_attributes]
allow = ["service.name", "deployment.*", "scope.kind"]
deny = ["deployment.secret"]
"#;

fn start(otlp: std::net::SocketAddr, max_body_bytes: &str) -> Agent {
    let config = OTLP.replace("{otlp}", &otlp.to_string()).replace("{max}", max_body_bytes);
    Setup { flush_interval: "1s", ..Setup::default() }.start(&config)
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

/// The tags the rules keep for a series of `service` with its own `attribute`.
fn tags(service: &str, attribute: &str) -> Vec<String> {
    let mut tags = vec![
        "deployment.environment:test".to_owned(),
        attribute.to_owned(),
        "scope.kind:orders".to_owned(),
        format!("service.name:{service}"),
    ];
    tags.sort();
    tags
}

fn number(value: &Value, field: &str) -> f64 {
    value[field].as_f64().unwrap_or_else(|| panic!("{field} in {value}"))
}

/// Checks every series one run of the client recorded, as the file sink wrote them.
fn check_service(windows: &[Value], service: &str, delta: bool) {
    let requests = by_tags(windows, "otel.requests");
    let sent = by_tags(windows, "otel.bytes");
    for i in 0..otel::COUNTERS {
        let key = tags(service, &format!("route:r{i}"));
        let total = |m: &BTreeMap<Vec<String>, Vec<&Value>>| m[&key].iter().map(|v| number(v, "sum")).sum::<f64>();
        assert_eq!(total(&requests), otel::requests(i), "otel.requests {key:?}");
        assert_eq!(total(&sent), otel::bytes(i), "otel.bytes {key:?}");
    }
    let latency = by_tags(windows, "otel.latency");
    for j in 0..otel::HISTOGRAMS {
        let key = tags(service, &format!("route:r{j}"));
        let windows = &latency[&key];
        let mut counts = vec![0; otel::BOUNDS.len() + 1];
        let mut sum = 0.0;
        for v in windows {
            assert_eq!(v["type"], "buckets");
            assert_eq!(v["bounds"], serde_json::json!(otel::BOUNDS), "the client's bounds, exactly");
            for (total, c) in counts.iter_mut().zip(v["counts"].as_array().unwrap()) {
                *total += c.as_u64().unwrap();
            }
            sum += number(v, "sum");
        }
        assert_eq!((counts, sum), otel::latency(j), "otel.latency {key:?}");
        if delta {
            // Each delta point brings the min and max of its interval.
            let min = windows.iter().map(|v| number(v, "min")).fold(f64::INFINITY, f64::min);
            let max = windows.iter().map(|v| number(v, "max")).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((min, max), (0.5, 250.0), "otel.latency {key:?}");
        }
    }
    let size = by_tags(windows, "otel.size");
    for s in 0..otel::EXPONENTIALS {
        let key = tags(service, &format!("shard:s{s}"));
        let windows = &size[&key];
        let count: f64 = windows.iter().map(|v| number(v, "count")).sum();
        let sum: f64 = windows.iter().map(|v| number(v, "sum")).sum();
        let (want_count, want_sum, want_min, want_max) = otel::size(s);
        assert_eq!((count, sum), (want_count, want_sum), "otel.size {key:?}");
        for v in windows {
            assert_eq!(v["kind"], "distribution");
            let (min, max) = (number(v, "min"), number(v, "max"));
            // Exact when the client said (delta), else the extreme buckets' midpoints.
            let slack = if delta { 0.0 } else { 0.2 * want_max };
            assert!(min >= want_min - slack && max <= want_max + slack, "otel.size {key:?}: {v}");
        }
    }
    let temperature = by_tags(windows, "otel.temperature");
    for g in 0..otel::GAUGES {
        let key = tags(service, &format!("zone:z{g}"));
        assert_eq!(number(temperature[&key].last().unwrap(), "value"), otel::temperature(g), "{key:?}");
    }
    let queue = by_tags(windows, "otel.queue");
    for u in 0..otel::UP_DOWNS {
        let key = tags(service, &format!("queue:q{u}"));
        assert_eq!(number(queue[&key].last().unwrap(), "value"), otel::queue(u), "{key:?}");
    }
}

/// Two applications on the real SDK, one exporting delta points (gzipped) and one cumulative
/// points, every 250 ms for about 1.5 s: every series at the file sink has exactly what its
/// application recorded, tagged with the kept resource and scope attributes only.
#[test]
fn the_python_sdk_feeds_exact_values_in_both_temporalities() {
    let otlp = free_tcp();
    let agent = start(otlp, "1MiB");
    let delta = Client::start(otlp, "delta", "shop-delta", true);
    let cumulative = Client::start(otlp, "cumulative", "shop-cumulative", false);
    let exports = delta.finish() + cumulative.finish();
    assert!(exports >= 8, "{exports} exports: the clients exported while recording, not only at the end");
    let points = agent.metric("sluice_otlp_received_points_total").unwrap();
    assert!(points >= 3000.0, "{points} points");
    assert_eq!(agent.metric_sum("sluice_otlp_rejected_points_total"), 0.0);
    assert_eq!(agent.metric("sluice_otlp_baseline_points_total"), Some(0.0), "every series began after the agent");
    assert_eq!(agent.metric_sum("sluice_otlp_refused_requests_total"), 0.0);
    assert_eq!(agent.metric_sum("sluice_dropped_samples_total"), 0.0);
    eprintln!("OTLP: {exports} exports, {points} data points");

    let (status, windows) = agent.stop();
    assert!(status.success());
    check_service(&windows, "shop-delta", true);
    check_service(&windows, "shop-cumulative", false);
    let names = ["otel.requests", "otel.bytes", "otel.latency", "otel.size", "otel.temperature", "otel.queue"];
    let all: usize = names.iter().map(|n| by_tags(&windows, n).len()).sum();
    assert_eq!(all, 880, "2 × (150 + 150 + 40 + 10 + 60 + 30) series, no others");
    let allowed = ["deployment.environment", "scope.kind", "service.name", "route", "shard", "zone", "queue"];
    for (name, tags, _) in series(&windows) {
        for tag in &tags {
            let key = tag.split(':').next().unwrap();
            assert!(allowed.contains(&key), "{name} has {tag}: not kept by the rules");
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Malformed protobuf and JSON are answered 400, bodies over `max_body_bytes` (as sent, or
/// once gunzipped) 413, another content type 415, each counted by reason; a point the agent
/// cannot take is refused alone in `partial_success`; and the agent keeps serving, its good
/// points reaching the window exactly.
#[test]
fn bad_bodies_are_refused_with_their_status_and_counted_while_the_agent_keeps_running() {
    let otlp = free_tcp();
    let agent = start(otlp, "64KiB");
    let protobuf = [("Content-Type", "application/x-protobuf")];
    let json = [("Content-Type", "application/json")];

    let (status, answer) = otel::post(otlp, &protobuf, &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(otel::post(otlp, &json, b"{\"resourceMetrics\": [").0, 400);
    assert_eq!(otel::post(otlp, &protobuf, &vec![0x0a; 100 << 10]).0, 413);
    let bomb = gzip(&vec![0; 8 << 20]);
    let gzipped = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")];
    assert_eq!(otel::post(otlp, &gzipped, &bomb).0, 413, "a small body that inflates past the limit");
    let (status, answer) = otel::post(otlp, &[("Content-Type", "text/plain")], b"hits:1|c");
    assert_eq!(status, 415);
    assert!(answer.contains("application/x-protobuf or application/json"), "{answer}");

    let body = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeMetrics":[{"metrics":[{"name":"api.hits","sum":{"aggregationTemporality":1,"isMonotonic":true,
      "dataPoints":[{"timeUnixNano":"1","asDouble":"NaN"},{"timeUnixNano":"1","asInt":"41"},
                    {"timeUnixNano":"2","asDouble":1.5}]}}]}]}]}"#;
    let (status, answer) = otel::post(otlp, &json, body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#""rejectedDataPoints":"1""#) && answer.contains("not_finite"), "{answer}");

    let refused = |reason: &str| agent.metric(&format!("sluice_otlp_refused_requests_total{{reason=\"{reason}\"}}"));
    assert_eq!(
        ["malformed", "too_large", "unsupported_media_type", "overloaded"].map(refused),
        [Some(2.0), Some(2.0), Some(1.0), Some(0.0)]
    );
    assert_eq!(agent.metric("sluice_otlp_rejected_points_total{reason=\"not_finite\"}"), Some(1.0));
    assert_eq!(agent.get("/health").0, 200);

    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(common::counter_total(&windows, "api.hits", &["service.name:api"]), 42.5);
}
