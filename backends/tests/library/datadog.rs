//! The Datadog backend against an in-process intake that enforces the documented API
//! contract: splitting, refusals, retries, compression, events and service checks, too-old
//! windows. The same traffic through the sluice binary is in the root crate's `tests/e2e/`.

use crate::common;
use crate::fixtures::{key, window};

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backends::datadog::{Compression, Datadog, DatadogConfig, compress};
use backends::delivery::{BackendStats, BufferConfig, Fanout, RetryConfig, spawn};
use backends::units::Duration as Human;
use backends::{Backend, Event, Series, ServiceCheck, Value, Window};
use common::datadog::{API_KEY, Intake, MAX_COMPRESSED};
use serde_json::{Value as Json, json};

fn gauge(name: &str, tags: &[&str], value: f64) -> Series {
    Series { key: key(name, tags), value: Value::Gauge { value } }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn config(intake: &Intake, extra: &str) -> DatadogConfig {
    toml::from_str(&format!("endpoint = \"{}\"\napi_key = \"{API_KEY}\"\n{extra}", intake.url())).unwrap()
}

fn backend(intake: &Intake, extra: &str) -> Datadog {
    Datadog::new(&config(intake, extra), backends::delivery::http::client().unwrap()).unwrap()
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_backoff: Human(Duration::from_millis(20)),
        max_backoff: Human(Duration::from_millis(100)),
        ..RetryConfig::default()
    }
}

/// Delivers `windows` through the shared delivery machinery and returns the telemetry.
async fn deliver(backend: Datadog, windows: &[Arc<Window>]) -> Arc<BackendStats> {
    let fanout = Fanout::new(vec![spawn("dd", backend, &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats().remove(0);
    for w in windows {
        fanout.publish(w);
    }
    assert_eq!(fanout.finish(Duration::from_secs(20)).await, 0);
    stats
}

/// Deterministic incompressible hex, so a payload's compressed size is predictable.
fn noise(seed: &mut u64) -> String {
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let _ = write!(out, "{:016x}", *seed);
    }
    out
}

/// A window whose one payload would be just over 512 000 bytes compressed is sent as two
/// requests, each within the limit; the intake receives every series exactly once.
#[tokio::test]
async fn a_payload_just_over_the_compressed_limit_is_split() {
    let intake = Intake::start();
    let end = now_ms();
    let mut seed = 0x2545_f491_4f6c_dd1d;
    let series: Vec<Series> =
        (0..13_830).map(|i| gauge(&format!("m{i}"), &[&format!("a:{}", noise(&mut seed))], f64::from(i))).collect();
    let w = window(1, end, series);
    let mut dd = backend(&intake, "compression = \"zstd\"");
    let batches = dd.encode(&w).unwrap();
    let one_body: Vec<u8> = {
        let all: Vec<&[u8]> = batches.iter().flat_map(|b| b.payload.fragments.iter().map(|f| &f.json[..])).collect();
        let json = [b"{\"series\":[".as_slice(), &all.join(&b","[..]), b"]}"].concat();
        compress(Compression::Zstd, &json)
    };
    assert!(one_body.len() > MAX_COMPRESSED && one_body.len() < MAX_COMPRESSED + 2_000, "{}", one_body.len());
    assert_eq!(batches.len(), 2);
    let stats = deliver(dd, &[w]).await;
    let requests = intake.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|r| r.status == 202 && r.compressed <= MAX_COMPRESSED),
        "{:?}",
        requests.iter().map(|r| (r.status, r.compressed)).collect::<Vec<_>>()
    );
    let got = intake.series();
    assert_eq!(got.len(), 13_830);
    let mut names: Vec<&str> = got.iter().map(|s| s["metric"].as_str().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 13_830);
    assert_eq!(stats.sent_series.load(Relaxed), 13_830);
    assert_eq!(intake.violations(), Vec::<String>::new());
}

/// A 413 splits the batch once more; a half refused again is dropped and counted as
/// `too_large`, and the other half is delivered.
#[tokio::test]
async fn a_413_splits_once_more_then_drops_and_counts() {
    let intake = Intake::start();
    intake.script(vec![(413, vec![], "too large".into()), (413, vec![], "too large".into())]);
    let series = (1..=4).map(|i| gauge(&format!("g{i}"), &[], f64::from(i))).collect();
    let stats = deliver(backend(&intake, ""), &[window(1, now_ms(), series)]).await;
    let statuses: Vec<u16> = intake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [413, 413, 202]);
    let names: Vec<Json> = intake.series().iter().map(|s| s["metric"].clone()).collect();
    assert_eq!(names, [json!("g3"), json!("g4")]);
    assert_eq!(stats.dropped_too_large.load(Relaxed), 2);
    assert_eq!(stats.sent_series.load(Relaxed), 2);
    assert_eq!(stats.retries.load(Relaxed), 0);
}

/// A wrong API key gets 403 from the intake: not retried, counted as rejected, and the
/// error says the key was rejected.
#[tokio::test]
async fn a_403_is_not_retried_and_says_the_api_key_was_rejected() {
    let intake = Intake::start();
    let config: DatadogConfig =
        toml::from_str(&format!("endpoint = \"{}\"\napi_key = \"wrong\"", intake.url())).unwrap();
    let dd = Datadog::new(&config, backends::delivery::http::client().unwrap()).unwrap();
    let stats = deliver(dd, &[window(1, now_ms(), vec![gauge("g", &[], 1.0), gauge("h", &[], 2.0)])]).await;
    assert_eq!(intake.requests().len(), 1);
    assert_eq!(stats.retries.load(Relaxed), 0);
    assert_eq!(stats.errors_rejected.load(Relaxed), 1);
    assert_eq!(stats.dropped_rejected.load(Relaxed), 2);
    let error = stats.status().last_error.unwrap();
    assert!(error.starts_with("rejected: API key rejected (HTTP 403): check api_key or api_key_file"), "{error}");
    assert!(error.contains("missing or wrong DD-API-KEY"), "{error}");
}

/// A 400 is not retried; the intake's explanation is kept for the log and `/status`.
#[tokio::test]
async fn a_400_is_not_retried_and_its_body_is_kept() {
    let intake = Intake::start();
    intake.script(vec![(400, vec![], "{\"errors\":[\"Invalid metric name\"]}".into())]);
    let stats = deliver(backend(&intake, ""), &[window(1, now_ms(), vec![gauge("g", &[], 1.0)])]).await;
    assert_eq!(intake.requests().len(), 1);
    assert_eq!(stats.dropped_rejected.load(Relaxed), 1);
    assert_eq!(stats.status().last_error.unwrap(), "HTTP 400: {\"errors\":[\"Invalid metric name\"]}");
}

/// A 429 with `Retry-After: 1` is retried after that second; one with only Datadog's
/// `X-RateLimit-Reset: 1` too; the same bytes are resent and delivered once.
#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_intake_asked_for() {
    for header in ["retry-after", "x-ratelimit-reset"] {
        let intake = Intake::start();
        intake.script(vec![(429, vec![(header, "1".into())], "rate limited".into())]);
        let stats = deliver(backend(&intake, ""), &[window(1, now_ms(), vec![gauge("g", &[], 1.0)])]).await;
        let requests = intake.requests();
        assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 202], "{header}");
        let waited = requests[1].at - requests[0].at;
        assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(3), "{header}: {waited:?}");
        assert_eq!(requests[0].compressed, requests[1].compressed);
        assert_eq!(stats.retries.load(Relaxed), 1);
        assert_eq!(stats.sent_series.load(Relaxed), 1);
        assert_eq!(intake.series().len(), 1);
    }
}

/// zstd, gzip and deflate bodies each decode at the intake to the same series, with the
/// matching `Content-Encoding`.
#[tokio::test]
async fn each_compression_decodes_at_the_intake() {
    for name in ["zstd", "gzip", "deflate"] {
        let intake = Intake::start();
        let end = now_ms();
        let w = window(
            1,
            end,
            vec![
                gauge("g", &["k:v"], 1.5),
                Series { key: key("c", &[]), value: Value::Counter { sum: 4.0, rate: 0.4 } },
            ],
        );
        deliver(backend(&intake, &format!("compression = \"{name}\"")), &[w]).await;
        assert_eq!(intake.violations(), Vec::<String>::new(), "{name}");
        let requests = intake.requests();
        assert_eq!((requests.len(), requests[0].encoding.as_str(), requests[0].status), (1, name, 202));
        let ts = (end / 1000) as i64;
        assert_eq!(
            intake.series(),
            vec![
                json!({"metric": "g", "type": 3, "points": [{"timestamp": ts, "value": 1.5}], "resources": [{"type": "host", "name": "web-1"}], "tags": ["env:test", "k:v"]}),
                json!({"metric": "c", "type": 1, "interval": 10, "points": [{"timestamp": ts, "value": 4.0}], "resources": [{"type": "host", "name": "web-1"}], "tags": ["env:test"]}),
            ],
            "{name}"
        );
    }
}

/// Events go one per request to `/api/v1/events`, service checks together to
/// `/api/v1/check_run`, with their fields and the agent's tags.
#[tokio::test]
async fn events_and_service_checks_are_forwarded() {
    let intake = Intake::start();
    let end = now_ms();
    let event = |title: &str| Event {
        title: title.into(),
        text: "line 1\nline 2".into(),
        timestamp: Some(1_700_000_000),
        hostname: Some("db-1".into()),
        aggregation_key: Some("deploys".into()),
        priority: Some("normal".into()),
        source_type: Some("jenkins".into()),
        alert_type: Some("error".into()),
        tags: vec!["env:staging".into(), "canary".into()],
    };
    let check = |name: &str, status| ServiceCheck {
        name: name.into(),
        status,
        timestamp: None,
        hostname: None,
        message: None,
        tags: vec!["db".into()],
    };
    let w = Arc::new(Window {
        events: vec![event("first"), event("second")],
        service_checks: vec![check("db.up", 0), check("db.lag", 2)],
        ..(*window(1, end, Vec::new())).clone()
    });
    let stats = deliver(backend(&intake, ""), &[w]).await;
    assert_eq!(intake.violations(), Vec::<String>::new());
    let events = intake.accepted("/api/v1/events");
    let expected = |title: &str| {
        json!({"title": title, "text": "line 1\nline 2", "date_happened": 1_700_000_000, "host": "db-1", "aggregation_key": "deploys",
               "priority": "normal", "source_type_name": "jenkins", "alert_type": "error", "tags": ["canary", "env:staging"]})
    };
    assert_eq!(events, vec![expected("first"), expected("second")]);
    let ts = (end / 1000) as i64;
    assert_eq!(
        intake.accepted("/api/v1/check_run"),
        vec![json!([
            {"check": "db.up", "host_name": "web-1", "status": 0, "timestamp": ts, "tags": ["db", "env:test"]},
            {"check": "db.lag", "host_name": "web-1", "status": 2, "timestamp": ts, "tags": ["db", "env:test"]},
        ])]
    );
    assert_eq!(stats.errors_rejected.load(Relaxed) + stats.errors_retriable.load(Relaxed), 0);
}

/// A window whose end is more than an hour old when it is encoded (after an outage) is
/// dropped from the buffer without a request and its series counted as `too_old`; a recent
/// window after it is delivered.
#[tokio::test]
async fn a_window_older_than_an_hour_is_dropped_and_counted() {
    let intake = Intake::start();
    let old = window(1, now_ms() - 3_601_000, vec![gauge("old.a", &[], 1.0), gauge("old.b", &[], 2.0)]);
    let new = window(2, now_ms(), vec![gauge("new", &[], 3.0)]);
    let stats = deliver(backend(&intake, ""), &[old, new]).await;
    assert_eq!(stats.dropped_too_old.load(Relaxed), 2);
    assert_eq!(stats.dropped_rejected.load(Relaxed), 0);
    assert_eq!(stats.sent_series.load(Relaxed), 1);
    let names: Vec<Json> = intake.series().iter().map(|s| s["metric"].clone()).collect();
    assert_eq!(names, [json!("new")]);
    assert_eq!(intake.requests().len(), 1);
}
