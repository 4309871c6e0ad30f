use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::encode::{self, Request};
use super::{RemoteWrite, RemoteWriteConfig, STALE_NAN_BITS};
use crate::backend::{Backend, Encoded, SendError};
use crate::delivery::Position;
use crate::model::{Series, SummaryKind, Value, Window};
use crate::prometheus::Context;
use crate::prometheus::tests::{key, mappings, summary};
use crate::prometheus::{Mappings, float};

/// End of the golden window: a real time, so nothing is too old relative to it.
const END_MS: u64 = 1_763_823_610_000;

fn window(id: u64, series: Vec<Series>) -> Window {
    Window {
        id,
        start_ms: END_MS + (id - 1) * 10_000 - 10_000,
        end_ms: END_MS + (id - 1) * 10_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

/// The window of the golden example in `docs/translation.md`: one series of every kind.
fn golden_window() -> Window {
    window(
        1,
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

/// The second window of the example: the counter again, the gauge gone (expired).
fn golden_second() -> Window {
    window(
        2,
        vec![Series {
            key: key("app.hits", &["canary", "route:/api"]),
            value: Value::Counter { sum: 12.0, rate: 1.2 },
        }],
    )
}

/// A fresh `data_dir`, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn config(url: &str) -> RemoteWriteConfig {
    let mut config = RemoteWriteConfig::new(url);
    config.buckets = vec![0.005, 0.1, 1.0];
    config
}

fn backend_with(dir: &std::path::Path, config: &RemoteWriteConfig) -> RemoteWrite {
    backend_mapped(dir, config, Arc::new(Mappings::none()))
}

fn backend_mapped(dir: &std::path::Path, config: &RemoteWriteConfig, mappings: Arc<Mappings>) -> RemoteWrite {
    let context = Context {
        client: crate::delivery::http::client().unwrap(),
        data_dir: dir.to_owned(),
        hostname: "web-1".to_owned(),
        mappings,
    };
    RemoteWrite::new("rw", config, context).unwrap()
}

fn backend(dir: &std::path::Path) -> RemoteWrite {
    backend_with(dir, &config("http://127.0.0.1:9/api/v1/write"))
}

/// Just after the window ended.
fn at(window: &Window) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(window.end_ms + 500)
}

fn encode_now(backend: &mut RemoteWrite, window: &Window) -> Vec<Encoded<Request>> {
    backend.encode_at(window, None, at(window)).unwrap()
}

/// Every series of `requests` as one line: `{labels in wire order} value timestamp`, a stale
/// marker's value written `StaleNaN`.
fn render(requests: &[Encoded<Request>]) -> String {
    let mut out = String::new();
    for request in requests {
        for series in encode::decode(&request.payload.body).timeseries {
            let labels: Vec<String> = series.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
            for sample in &series.samples {
                let value =
                    if sample.value.to_bits() == STALE_NAN_BITS { "StaleNaN".to_owned() } else { float(sample.value) };
                let _ = writeln!(out, "{{{}}} {value} {}", labels.join(","), sample.timestamp);
            }
        }
    }
    out
}

/// The two windows of the example, as `docs/translation.md` shows them.
fn golden_text() -> String {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let mut text = render(&encode_now(&mut backend, &golden_window()));
    text.push_str(&render(&encode_now(&mut backend, &golden_second())));
    text
}

/// Two windows become exactly these series: names and types as the Pushgateway's, labels
/// sorted by name with `__name__` and `le` among them, `job` and `instance` on every series,
/// one sample each at the window end in milliseconds, and a stale marker for the gauge that
/// left.
#[test]
fn two_windows_become_the_documented_series_with_sorted_labels_and_a_stale_marker() {
    let expected = "\
{__name__=\"app_hits_total\",canary=\"true\",env=\"prod\",instance=\"web-1\",job=\"sluice\",route=\"/api\"} 30 1763823610000
{__name__=\"cpu_temp\",env=\"prod\",exported_instance=\"x\",instance=\"web-1\",job=\"sluice\"} -1.5 1763823610000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"0.005\"} 1 1763823610000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"0.1\"} 3 1763823610000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"1\"} 3 1763823610000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"+Inf\"} 3 1763823610000
{__name__=\"req_latency_sum\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 0.124 1763823610000
{__name__=\"req_latency_count\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 3 1763823610000
{__name__=\"users\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 2 1763823610000
{__name__=\"app_hits_total\",canary=\"true\",env=\"prod\",instance=\"web-1\",job=\"sluice\",route=\"/api\"} 42 1763823620000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"0.005\"} 1 1763823620000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"0.1\"} 3 1763823620000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"1\"} 3 1763823620000
{__name__=\"req_latency_bucket\",env=\"prod\",instance=\"web-1\",job=\"sluice\",le=\"+Inf\"} 3 1763823620000
{__name__=\"req_latency_sum\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 0.124 1763823620000
{__name__=\"req_latency_count\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 3 1763823620000
{__name__=\"users\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 0 1763823620000
{__name__=\"cpu_temp\",env=\"prod\",exported_instance=\"x\",instance=\"web-1\",job=\"sluice\"} StaleNaN 1763823620000
";
    assert_eq!(golden_text(), expected);
}

/// The example in `docs/translation.md` is exactly what the encoder writes.
#[test]
fn translation_doc_example_matches_the_encoder() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/translation.md")).unwrap();
    let block = doc
        .split("<!-- remote-write-golden -->\n```text\n")
        .nth(1)
        .expect("the golden block")
        .split("```")
        .next()
        .unwrap();
    assert_eq!(block, golden_text());
}

/// Labels of every series are sorted by name, byte order, whatever the tags' case: an
/// upper-case label sorts before `__name__`.
#[test]
fn labels_are_sorted_by_name_in_byte_order() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let w = window(1, vec![Series { key: key("g", &["Zone:a", "b:c", "_x:y"]), value: Value::Gauge { value: 1.0 } }]);
    let requests = encode_now(&mut backend, &w);
    let series = encode::decode(&requests[0].payload.body).timeseries;
    let names: Vec<&str> = series[0].labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Zone", "__name__", "_x", "b", "env", "instance", "job"]);
}

/// The body is the snappy block format (a varint of the uncompressed length, then the
/// compressed data), not the framed stream format that starts with `ff 06 00 00 sNaPpY`.
#[test]
fn the_body_is_a_snappy_block_without_stream_framing() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let requests = encode_now(&mut backend, &golden_window());
    let body = &requests[0].payload.body;
    assert!(!body.starts_with(b"\xff\x06\x00\x00sNaPpY"), "no stream identifier chunk");
    let raw = snap::raw::Decoder::new().decompress_vec(body).expect("a snappy block");
    assert_eq!(snap::raw::decompress_len(body).unwrap(), raw.len(), "the block starts with its length");
    let mut first = [0_u8; 1];
    assert!(snap::read::FrameDecoder::new(body.as_ref()).read(&mut first).is_err(), "not a framed stream");
    assert_eq!(encode::decode(body).timeseries.len(), 9);
}

use std::fmt::Write as _;
use std::io::Read as _;

/// A stale marker is the NaN with exactly the bits Prometheus uses, never another NaN; it is
/// written once, in the first window the series is absent from, for a gauge the aggregator
/// expired and for a counter `expire_after` forgot.
#[test]
fn a_series_that_leaves_gets_one_stale_marker_with_the_exact_bits() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut config = config("http://127.0.0.1:9/api/v1/write");
    config.expire_after = Some(crate::units::Duration::from_secs(15));
    let mut backend = backend_with(dir, &config);
    let first = window(
        1,
        vec![
            Series { key: key("level", &[]), value: Value::Gauge { value: 3.0 } },
            Series { key: key("hits", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
        ],
    );
    encode_now(&mut backend, &first);
    let stale = |requests: &[Encoded<Request>]| -> Vec<(String, i64)> {
        requests
            .iter()
            .flat_map(|r| encode::decode(&r.payload.body).timeseries)
            .filter(|s| s.samples[0].value.is_nan())
            .map(|s| {
                assert_eq!(s.samples[0].value.to_bits(), STALE_NAN_BITS);
                (s.labels.iter().find(|l| l.name == "__name__").unwrap().value.clone(), s.samples[0].timestamp)
            })
            .collect()
    };
    // Window 2: the gauge expired in the aggregator; the counter is 10 s old, still kept.
    let second = window(2, vec![]);
    assert_eq!(stale(&encode_now(&mut backend, &second)), [("level".to_owned(), second.end_ms as i64)]);
    // Window 3: the counter is 20 s old, beyond expire_after.
    let third = window(3, vec![]);
    assert_eq!(stale(&encode_now(&mut backend, &third)), [("hits_total".to_owned(), third.end_ms as i64)]);
    // Window 4: nothing left to mark.
    assert!(encode_now(&mut backend, &window(4, vec![])).is_empty());
    assert_eq!(backend.written(), 0);
}

/// Mapping rules apply as at the Pushgateway: a glob rule names a counter and labels it from
/// its capture, a drop rule keeps its names (counter and gauge) out of every request, a
/// quantiles rule writes a summary as one series per quantile plus `_sum` and `_count`, and a
/// rule's `expire_after` ends its series with one stale marker while the others stay.
#[test]
fn mapping_rules_rename_label_drop_and_summarise_and_a_rules_expiry_writes_a_stale_marker() {
    let dir = temp_dir();
    let rules = mappings(
        r#"
[[mappings]]
match = "app.*.requests"
name = "app_requests"
labels = { server = "$1" }
expire_after = "15s"

[[mappings]]
match = "debug.*"
action = "drop"

[[mappings]]
match = "rpc.*"
name = "rpc_${1}_seconds"
quantiles = [0.5]
"#,
    );
    let mut backend = backend_mapped(dir.path(), &config("http://127.0.0.1:9/api/v1/write"), rules);
    let first = window(
        1,
        vec![
            Series { key: key("app.web1.requests", &[]), value: Value::Counter { sum: 5.0, rate: 0.5 } },
            Series { key: key("debug.hits", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("debug.level", &[]), value: Value::Gauge { value: 2.0 } },
            Series {
                key: key("rpc.get", &[]),
                value: summary(SummaryKind::Timer, &[(100.0, 1.0), (300.0, 1.0), (300.0, 1.0)], &[]),
            },
            Series { key: key("other", &[]), value: Value::Counter { sum: 2.0, rate: 0.2 } },
        ],
    );
    let text = render(&encode_now(&mut backend, &first));
    assert!(!text.contains("debug"), "{text}");
    let (quantile, rest): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.contains("quantile="));
    let t = first.end_ms;
    assert_eq!(
        rest,
        [
            format!(
                "{{__name__=\"app_requests_total\",env=\"prod\",instance=\"web-1\",job=\"sluice\",server=\"web1\"}} 5 {t}"
            ),
            format!("{{__name__=\"other_total\",env=\"prod\",instance=\"web-1\",job=\"sluice\"}} 2 {t}"),
            format!("{{__name__=\"rpc_get_seconds_sum\",env=\"prod\",instance=\"web-1\",job=\"sluice\"}} 0.7 {t}"),
            format!("{{__name__=\"rpc_get_seconds_count\",env=\"prod\",instance=\"web-1\",job=\"sluice\"}} 3 {t}"),
        ]
    );
    // The median of 0.1 s, 0.3 s, 0.3 s from the window's sketch: within its 2 %.
    let [line] = quantile[..] else { panic!("one quantile series: {quantile:?}") };
    let prefix = "{__name__=\"rpc_get_seconds\",env=\"prod\",instance=\"web-1\",job=\"sluice\",quantile=\"0.5\"} ";
    let (value, stamp) = line.strip_prefix(prefix).unwrap().split_once(' ').unwrap();
    assert!((value.parse::<f64>().unwrap() - 0.3).abs() <= 0.3 * 0.02, "{line}");
    assert_eq!(stamp, t.to_string());

    // 10 s later the rule's counter is still within its 15 s; 20 s later it is forgotten and
    // marked stale once, while `other` (no expiry) and the summary stay.
    let names = |requests: &[Encoded<Request>]| -> Vec<(String, bool)> {
        let mut names: Vec<(String, bool)> = requests
            .iter()
            .flat_map(|r| encode::decode(&r.payload.body).timeseries)
            .map(|s| {
                let name = s.labels.iter().find(|l| l.name == "__name__").unwrap().value.clone();
                (name, s.samples[0].value.to_bits() == STALE_NAN_BITS)
            })
            .collect();
        names.sort();
        names
    };
    let live = |name: &str| (name.to_owned(), false);
    let kept =
        [live("other_total"), live("rpc_get_seconds"), live("rpc_get_seconds_count"), live("rpc_get_seconds_sum")];
    let second = names(&encode_now(&mut backend, &window(2, vec![])));
    assert_eq!(second, [&[live("app_requests_total")][..], &kept].concat());
    let third = names(&encode_now(&mut backend, &window(3, vec![])));
    assert_eq!(third, [&[("app_requests_total".to_owned(), true)][..], &kept].concat());
    let fourth = names(&encode_now(&mut backend, &window(4, vec![])));
    assert_eq!(fourth, kept);
}

/// 5000 series with `max_samples_per_request = 2000` become requests of 2000, 2000 and 1000
/// samples, together every series once, each request of one timestamp.
#[test]
fn a_window_is_split_into_requests_of_at_most_max_samples() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let series = (0..5000)
        .map(|i| Series { key: key(&format!("m{i:04}"), &[]), value: Value::Gauge { value: f64::from(i) } })
        .collect();
    let w = window(1, series);
    let requests = encode_now(&mut backend, &w);
    let sizes: Vec<u64> = requests.iter().map(|r| r.series).collect();
    assert_eq!(sizes, [2000, 2000, 1000]);
    let mut seen = Vec::new();
    for request in &requests {
        let decoded = encode::decode(&request.payload.body).timeseries;
        assert_eq!(decoded.len() as u64, request.series);
        assert!(decoded.iter().all(|s| s.samples.len() == 1 && s.samples[0].timestamp == w.end_ms as i64));
        seen.extend(decoded.iter().map(|s| s.samples[0].value as u32));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..5000).collect::<Vec<u32>>());
}

/// Windows encoded in turn carry increasing timestamps, so a receiver never sees a series go
/// back in time; a 413 halves a request into two that hold its series between them.
#[test]
fn timestamps_follow_the_windows_and_a_request_splits_into_halves() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let mut last = i64::MIN;
    for id in 1..=3 {
        let w = window(id, vec![Series { key: key("hits", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } }]);
        for request in encode_now(&mut backend, &w) {
            for series in encode::decode(&request.payload.body).timeseries {
                assert!(series.samples[0].timestamp > last);
                last = series.samples[0].timestamp;
                assert_eq!(series.samples[0].value, id as f64, "the running total");
            }
        }
    }
    let requests = encode_now(&mut backend, &golden_window());
    let whole = requests.into_iter().next().unwrap();
    let all = encode::decode(&whole.payload.body).timeseries;
    let (first, second) = backend.split(whole).unwrap();
    assert_eq!((first.series, second.series), (5, 5));
    let mut halves = encode::decode(&first.payload.body).timeseries;
    halves.extend(encode::decode(&second.payload.body).timeseries);
    assert_eq!(halves, all);
    let two = backend.split(first).unwrap().0;
    let one = backend.split(two).unwrap().0;
    assert_eq!(one.series, 1);
    assert!(backend.split(one).is_err(), "one series cannot be split");
}

/// A window older than `max_age` is refused as too old (not retried, counted `too_old`), but
/// its counts go into the totals the next window carries.
#[test]
fn a_window_older_than_max_age_is_too_old_but_stays_in_the_totals() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut backend = backend(dir);
    let old = window(1, vec![Series { key: key("hits", &[]), value: Value::Counter { sum: 5.0, rate: 0.5 } }]);
    let late = UNIX_EPOCH + Duration::from_millis(old.end_ms) + Duration::from_secs(3601);
    let err = backend.encode_at(&old, None, late).unwrap_err();
    assert!(err.is_too_old() && !err.is_retriable(), "{err}");
    let next = window(2, vec![Series { key: key("hits", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } }]);
    let text = render(&encode_now(&mut backend, &next));
    assert!(text.starts_with("{__name__=\"hits_total\",env=\"prod\",instance=\"web-1\",job=\"sluice\"} 6 "), "{text}");
}

/// A window replayed from a disk spool after a crash that came after its totals were saved is
/// written from the totals as they are, not counted again; the next window is counted.
#[test]
fn a_replayed_window_already_in_the_saved_totals_is_not_counted_twice() {
    let dir = temp_dir();
    let dir = dir.path();
    let w = window(1, vec![Series { key: key("hits", &[]), value: Value::Counter { sum: 5.0, rate: 0.5 } }]);
    let spooled = |backend: &mut RemoteWrite, seq| {
        render(&backend.encode_at(&w, Some(Position { spool: 7, seq }), at(&w)).unwrap())
    };
    let mut first = backend(dir);
    assert!(spooled(&mut first, 5).contains("} 5 "));
    first.delivered(&w);
    assert!(dir.join("remote_write-rw.json").exists());
    // Crash: the spool still holds window 5 and replays it to a new agent.
    let mut second = backend(dir);
    assert_eq!(second.state(), first.state());
    assert!(spooled(&mut second, 5).contains("} 5 "), "not counted again");
    assert!(spooled(&mut second, 6).contains("} 10 "), "a later window is counted");
}

/// What a receiver saw of one request.
#[derive(Debug, Clone, Default)]
struct Seen {
    headers: Option<HeaderMap>,
    body: Vec<u8>,
}

/// A receiver answering every request with `status` (and `Retry-After: 7`), recording the last.
async fn receiver(status: StatusCode) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/api/v1/write",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| async move {
            *record.lock().unwrap() = Seen { headers: Some(headers), body: body.to_vec() };
            (status, [("retry-after", "7")], "out of order sample").into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Every request carries the four headers remote write 1.0 requires, the configured extra
/// ones (a Mimir tenant) and basic authentication; the body is the encoded request.
#[tokio::test]
async fn requests_carry_the_required_headers_the_tenant_and_authentication() {
    let dir = temp_dir();
    let dir = dir.path();
    let (url, seen) = receiver(StatusCode::NO_CONTENT).await;
    let mut config = config(&url);
    config.headers.insert("X-Scope-OrgID".to_owned(), "tenant-1".to_owned());
    config.username = Some("sluice".to_owned());
    config.password = Some("hunter2".into());
    let mut backend = backend_with(dir, &config);
    let requests = encode_now(&mut backend, &golden_window());
    backend.send(&requests[0].payload).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let headers = seen.headers.unwrap();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-encoding").as_deref(), Some("snappy"));
    assert_eq!(header("content-type").as_deref(), Some("application/x-protobuf"));
    assert_eq!(header("x-prometheus-remote-write-version").as_deref(), Some("0.1.0"));
    assert_eq!(header("user-agent"), Some(format!("sluice/{}", env!("CARGO_PKG_VERSION"))));
    assert_eq!(header("x-scope-orgid").as_deref(), Some("tenant-1"));
    assert_eq!(header("authorization").as_deref(), Some("Basic c2x1aWNlOmh1bnRlcjI="));
    assert_eq!(seen.body, requests[0].payload.body.to_vec());
}

/// 503 and 429 are retriable (429 with its `Retry-After`); a 400 is final and keeps the
/// receiver's explanation for the log.
#[tokio::test]
async fn server_errors_and_429_are_retried_other_refusals_are_final() {
    let dir = temp_dir();
    let dir = dir.path();
    for (status, retriable) in [
        (StatusCode::SERVICE_UNAVAILABLE, true),
        (StatusCode::TOO_MANY_REQUESTS, true),
        (StatusCode::BAD_REQUEST, false),
    ] {
        let (url, _) = receiver(status).await;
        let mut backend = backend_with(dir, &config(&url));
        let requests = encode_now(&mut backend, &golden_window());
        let err = backend.send(&requests[0].payload).await.unwrap_err();
        assert_eq!(err.is_retriable(), retriable, "{status}: {err}");
        let SendError::Http { status: got, body, retry_after } = err else { panic!("{err:?}") };
        assert_eq!(
            (got, body.as_str(), retry_after),
            (status.as_u16(), "out of order sample", Some(Duration::from_secs(7)))
        );
    }
}

/// Defaults are Prometheus' own, unknown keys are refused, and validation names the key to
/// fix: the four required headers cannot be overridden.
#[test]
fn config_parses_with_defaults_and_refuses_bad_values() {
    let config: RemoteWriteConfig = toml::from_str("url = \"http://127.0.0.1:9090/api/v1/write\"").unwrap();
    assert_eq!(config, RemoteWriteConfig::new("http://127.0.0.1:9090/api/v1/write"));
    assert_eq!(config.max_samples_per_request, 2000);
    assert_eq!(config.max_age.0, Duration::from_hours(1));
    assert!(toml::from_str::<RemoteWriteConfig>("url = \"x\"\nmax_samples = 5").is_err());
    for header in ["Content-Encoding", "content-type", "User-Agent", "X-Prometheus-Remote-Write-Version"] {
        let mut bad = config.clone();
        bad.headers.insert(header.to_owned(), "x".to_owned());
        assert_eq!(bad.validate().unwrap_err().key, Some("headers"), "{header}");
    }
    let mut bad = config.clone();
    bad.max_samples_per_request = 0;
    assert_eq!(bad.validate().unwrap_err().key, Some("max_samples_per_request"));
    let mut bad = config.clone();
    bad.labels.insert("job".to_owned(), "x".to_owned());
    assert_eq!(bad.validate().unwrap_err().key, Some("labels"));
    let mut bad = config.clone();
    bad.labels.insert("quantile".to_owned(), "x".to_owned());
    assert_eq!(bad.validate().unwrap_err().key, Some("labels"), "a summary's own label");
    let mut bad = config.clone();
    bad.buckets = vec![1.0, 0.5];
    assert_eq!(bad.validate().unwrap_err().key, Some("buckets"));
    let mut bad = config.clone();
    bad.url = "127.0.0.1:9090".to_owned();
    assert_eq!(bad.validate().unwrap_err().key, Some("url"));
    let mut bad = config;
    bad.username = Some("u".to_owned());
    bad.bearer_token = Some("t".into());
    assert_eq!(bad.validate().unwrap_err().key, Some("bearer_token"));
}

/// A `ca_file` that holds no PEM certificate, or is missing, refuses the build and says so.
#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let dir = temp_dir();
    let context = || Context {
        client: crate::delivery::http::client().unwrap(),
        data_dir: dir.path().to_owned(),
        hostname: "web-1".to_owned(),
        mappings: Arc::new(Mappings::none()),
    };
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let mut config = config("https://127.0.0.1:9/api/v1/write");
    config.ca_file = Some(not_pem);
    let err = RemoteWrite::new("rw", &config, context()).unwrap_err();
    assert_eq!(err.key, Some("ca_file"), "{err}");
    config.ca_file = Some(dir.path().join("missing.pem"));
    let err = RemoteWrite::new("rw", &config, context()).unwrap_err();
    assert!(err.to_string().contains("cannot read \"ca_file\""), "{err}");
}

/// A series written from borrowed labels is byte for byte what prost writes for the same
/// `prompb` message: empty strings and zero numbers left out as proto3 does, a value split in
/// two parts written as one string, NaN, negative zero and negative timestamps included.
#[test]
fn a_series_is_written_exactly_as_prost_encodes_its_message() {
    use prost::Message as _;

    use super::prompb::{Label, Sample, TimeSeries, WriteRequest};

    type Labels<'a> = &'a [(&'a str, (&'a str, &'a str))];
    let long = "v".repeat(300);
    let cases: [(Labels, f64, i64); 6] = [
        (&[("__name__", ("requests", "_total")), ("env", ("prod", ""))], 42.5, 1_763_823_610_000),
        (&[("__name__", ("x", "")), ("le", ("+Inf", ""))], 0.0, 1_763_823_610_000),
        (&[("__name__", ("x", "")), ("empty", ("", ""))], -0.0, 0),
        (&[("__name__", ("gone", ""))], f64::from_bits(STALE_NAN_BITS), -5),
        (&[("__name__", ("é", "_sum")), ("k", (&long, ""))], f64::MAX, i64::MAX),
        (&[], 1.0, 1),
    ];
    for (labels, value, timestamp) in cases {
        let mut ours = Vec::new();
        encode::write_series(&mut ours, labels, value, timestamp);
        let message = TimeSeries {
            labels: labels
                .iter()
                .map(|&(name, (v, suffix))| Label { name: name.to_owned(), value: format!("{v}{suffix}") })
                .collect(),
            samples: vec![Sample { value, timestamp }],
        };
        assert_eq!(ours, WriteRequest { timeseries: vec![message] }.encode_to_vec(), "{labels:?} {value} {timestamp}");
    }
}
