use std::collections::BTreeMap;
use std::path::PathBuf;

use prost::Message as _;

use super::service::group_url;
use super::{Format, Pushgateway, PushgatewayConfig};
use crate::backend::Backend;
use crate::delivery::Position;
use crate::model::{Series, SummaryKind, Value, Window};
use crate::prometheus::Context;
use crate::prometheus::tests::{key, summary, window};
use crate::prometheus::{State, proto};

/// The first window of the golden test: one series of every kind.
fn first_window() -> Window {
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
            Series { key: key("h", &[]), value: summary(SummaryKind::Histogram, &[(0.5, 2.0), (2.0, 2.0)], &[]) },
        ],
    )
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-pgw-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn backend(dir: &std::path::Path, format: Format) -> Pushgateway {
    let mut config = PushgatewayConfig::new("http://127.0.0.1:9");
    config.format = format;
    config.buckets = vec![0.005, 0.1, 1.0];
    let context = Context {
        client: crate::delivery::http::client().unwrap(),
        data_dir: dir.to_owned(),
        hostname: "web-1".to_owned(),
        mappings: std::sync::Arc::default(),
    };
    Pushgateway::new("pgw", &config, context).unwrap()
}

fn body(backend: &mut Pushgateway, window: &Window) -> String {
    let mut batches = backend.encode(window).unwrap();
    assert_eq!(batches.len(), 1, "one push per window");
    String::from_utf8(batches.remove(0).payload.body).unwrap()
}

/// The text format of two windows is exactly the table in `docs/translation.md`: counters
/// and histograms cumulative, timers in seconds, sets at 0 in a window without members,
/// gauges only while the window carries them, labels sanitised, no timestamps.
#[test]
fn text_format_matches_the_translation_table_across_two_windows() {
    let dir = temp_dir("golden");
    let mut backend = backend(&dir, Format::Text);
    assert_eq!(
        body(&mut backend, &first_window()),
        "# TYPE app_hits_total counter\n\
         app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 30\n\
         # TYPE cpu_temp gauge\n\
         cpu_temp{env=\"prod\",exported_instance=\"x\"} -1.5\n\
         # TYPE h histogram\n\
         h_bucket{env=\"prod\",le=\"0.005\"} 0\n\
         h_bucket{env=\"prod\",le=\"0.1\"} 0\n\
         h_bucket{env=\"prod\",le=\"1\"} 2\n\
         h_bucket{env=\"prod\",le=\"+Inf\"} 4\n\
         h_sum{env=\"prod\"} 5\n\
         h_count{env=\"prod\"} 4\n\
         # TYPE req_latency histogram\n\
         req_latency_bucket{env=\"prod\",le=\"0.005\"} 1\n\
         req_latency_bucket{env=\"prod\",le=\"0.1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"+Inf\"} 3\n\
         req_latency_sum{env=\"prod\"} 0.124\n\
         req_latency_count{env=\"prod\"} 3\n\
         # TYPE users gauge\n\
         users{env=\"prod\"} 2\n"
    );
    let second = window(
        2,
        vec![
            Series { key: key("app.hits", &["canary", "route:/api"]), value: Value::Counter { sum: 12.0, rate: 1.2 } },
            Series { key: key("req.latency", &[]), value: summary(SummaryKind::Timer, &[(1500.0, 1.0)], &[]) },
        ],
    );
    assert_eq!(
        body(&mut backend, &second),
        "# TYPE app_hits_total counter\n\
         app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 42\n\
         # TYPE h histogram\n\
         h_bucket{env=\"prod\",le=\"0.005\"} 0\n\
         h_bucket{env=\"prod\",le=\"0.1\"} 0\n\
         h_bucket{env=\"prod\",le=\"1\"} 2\n\
         h_bucket{env=\"prod\",le=\"+Inf\"} 4\n\
         h_sum{env=\"prod\"} 5\n\
         h_count{env=\"prod\"} 4\n\
         # TYPE req_latency histogram\n\
         req_latency_bucket{env=\"prod\",le=\"0.005\"} 1\n\
         req_latency_bucket{env=\"prod\",le=\"0.1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"+Inf\"} 4\n\
         req_latency_sum{env=\"prod\"} 1.624\n\
         req_latency_count{env=\"prod\"} 4\n\
         # TYPE users gauge\n\
         users{env=\"prod\"} 0\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The protobuf body decodes, message by message, into the same families as the text body.
#[test]
fn protobuf_body_is_delimited_metric_families_without_timestamps() {
    let dir = temp_dir("protobuf");
    let mut backend = backend(&dir, Format::Protobuf);
    let mut batches = backend.encode(&first_window()).unwrap();
    let body = batches.remove(0).payload.body;
    let mut rest = body.as_slice();
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(proto::MetricFamily::decode_length_delimited(&mut rest).unwrap());
    }
    let names: Vec<&str> = families.iter().map(proto::MetricFamily::name).collect();
    assert_eq!(names, ["app_hits_total", "cpu_temp", "h", "req_latency", "users"]);
    assert_eq!(families[0].r#type(), proto::MetricType::Counter);
    assert_eq!(families[0].metric[0].counter.as_ref().unwrap().value, Some(30.0));
    let labels: Vec<(&str, &str)> = families[0].metric[0].label.iter().map(|l| (l.name(), l.value())).collect();
    assert_eq!(labels, [("canary", "true"), ("env", "prod"), ("route", "/api")]);
    assert_eq!(families[1].metric[0].gauge.as_ref().unwrap().value, Some(-1.5));
    let latency = families[3].metric[0].histogram.as_ref().unwrap();
    assert_eq!(latency.sample_count, Some(3));
    assert_eq!(latency.sample_sum, Some(0.124));
    let buckets: Vec<(f64, u64)> = latency.bucket.iter().map(|b| (b.upper_bound(), b.cumulative_count())).collect();
    assert_eq!(buckets, [(0.005, 1), (0.1, 3), (1.0, 3), (f64::INFINITY, 3)]);
    assert_eq!(families[4].metric[0].gauge.as_ref().unwrap().value, Some(2.0));
    assert!(families.iter().flat_map(|f| &f.metric).all(|m| m.timestamp_ms.is_none()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The grouping key is in the URL path; a value with a `/` or an empty one is URL-safe base64.
#[test]
fn grouping_key_uses_base64_for_slashes_and_empty_values() {
    let grouping = BTreeMap::from([
        ("instance".to_owned(), "web-1.example".to_owned()),
        ("path".to_owned(), "/var/tmp".to_owned()),
        ("zone".to_owned(), String::new()),
    ]);
    assert_eq!(
        group_url("http://127.0.0.1:9091/", "sluice", &grouping),
        "http://127.0.0.1:9091/metrics/job/sluice/instance/web-1.example/path@base64/L3Zhci90bXA=/zone@base64/="
    );
}

/// Totals saved after a window are loaded by the next backend; histograms saved with other
/// bounds start again from zero while counters keep their totals.
#[test]
fn totals_survive_a_restart_through_the_state_file() {
    let dir = temp_dir("state");
    let mut first = backend(&dir, Format::Text);
    let window = first_window();
    first.encode(&window).unwrap();
    first.delivered(&window);
    let path = dir.join("pushgateway-pgw.json");
    assert!(path.exists());
    let mut second = backend(&dir, Format::Text);
    assert_eq!(second.state(), first.state());
    let next = Window { id: 2, ..window.clone() };
    let text = body(&mut second, &next);
    assert!(text.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 60\n"), "{text}");
    assert!(text.contains("req_latency_count{env=\"prod\"} 6\n"), "{text}");
    let rebucketed = State::load(&path, vec![1.0]).unwrap();
    assert_eq!(rebucketed.entries.len(), 2, "the counter and the set remain; both histograms reset");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A backend built while the one it replaces was still pushing (a reload) continues from the
/// totals that one saved last, read in `begin`, not from those on disk when it was built.
#[test]
fn begin_continues_from_the_totals_the_replaced_backend_saved_last() {
    let dir = temp_dir("begin");
    let window = first_window();
    let mut old = backend(&dir, Format::Text);
    old.encode(&window).unwrap();
    old.delivered(&window);
    let mut new = backend(&dir, Format::Text);
    // The old backend delivers one more window after the new one was built.
    old.encode(&Window { id: 2, ..window.clone() }).unwrap();
    old.delivered(&window);
    new.begin();
    assert_eq!(new.state(), old.state());
    let text = body(&mut new, &Window { id: 3, ..window.clone() });
    assert!(text.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 90\n"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A window replayed from a disk spool after a crash that came after its totals were saved
/// (but before the spool heard of the acknowledgement) is pushed, not counted again; a new
/// window after it is counted, and a window of another spool (the spool was recreated) too.
#[test]
fn a_replayed_window_already_in_the_saved_totals_is_not_counted_twice() {
    let dir = temp_dir("replay");
    let window = first_window();
    let at = |seq| Position { spool: 7, seq };
    let mut first = backend(&dir, Format::Text);
    first.encode_spooled(&window, at(5)).unwrap();
    first.delivered(&window);
    // Crash: the spool still holds window 5 and replays it to a new agent.
    let mut second = backend(&dir, Format::Text);
    let replayed = String::from_utf8(second.encode_spooled(&window, at(5)).unwrap().remove(0).payload.body).unwrap();
    assert!(replayed.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 30\n"), "{replayed}");
    let next = String::from_utf8(second.encode_spooled(&window, at(6)).unwrap().remove(0).payload.body).unwrap();
    assert!(next.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 60\n"), "{next}");
    let other = Position { spool: 8, seq: 1 };
    let fresh = String::from_utf8(second.encode_spooled(&window, other).unwrap().remove(0).payload.body).unwrap();
    assert!(fresh.contains("app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 90\n"), "{fresh}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The example keys parse, unknown keys are refused, and validation names the key to fix.
#[test]
fn config_parses_with_defaults_and_refuses_bad_values() {
    let config: PushgatewayConfig =
        serde_json::from_value(serde_json::json!({ "url": "http://127.0.0.1:9091" })).unwrap();
    assert_eq!(config, PushgatewayConfig::new("http://127.0.0.1:9091"));
    assert_eq!(config.job, "sluice");
    assert_eq!(config.format, Format::Protobuf);
    assert!(serde_json::from_value::<PushgatewayConfig>(serde_json::json!({ "url": "x", "jobs": "a" })).is_err());
    let mut bad = config.clone();
    bad.buckets = vec![1.0, 0.5];
    assert_eq!(bad.validate().unwrap_err().key, Some("buckets"));
    let mut bad = config.clone();
    bad.url = "127.0.0.1:9091".to_owned();
    assert_eq!(bad.validate().unwrap_err().key, Some("url"));
    let mut bad = config;
    bad.username = Some("u".to_owned());
    bad.bearer_token = Some("t".into());
    assert_eq!(bad.validate().unwrap_err().key, Some("bearer_token"));
}
