//! The Pushgateway backend against a real Pushgateway 1.5 (and, for the statuses a real one
//! does not give on demand, a small in-process server): exact totals read back from the
//! gateway's JSON API.

use crate::common;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backends::delivery::{BufferConfig, RetryConfig, spawn};
use backends::prometheus::Context;
use backends::pushgateway::{Format, PROTOBUF_CONTENT_TYPE, Pushgateway as Backend, PushgatewayConfig};
use backends::{Backend as _, Series, SeriesKey, Sketch, Summary, SummaryKind, Value, Window};
use common::pushgateway::{Pushgateway, histogram, value};

const HOST: &str = "test-host";

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

fn timer(samples: &[f64]) -> Value {
    let mut sketch = Sketch::new();
    for &v in samples {
        sketch.add(v, 1.0);
    }
    Value::Summary(Box::new(Summary {
        kind: SummaryKind::Timer,
        count: samples.len() as f64,
        sum: samples.iter().sum(),
        min: samples.iter().copied().fold(f64::INFINITY, f64::min),
        max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        percentiles: Vec::new(),
        buckets: Vec::new(),
        sketch,
    }))
}

fn window(id: u64, series: Vec<Series>) -> Window {
    Window {
        id,
        start_ms: id * 10_000,
        end_ms: (id + 1) * 10_000,
        hostname: HOST.into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn counter(id: u64, sum: f64) -> Window {
    window(id, vec![Series { key: key("hits", &["route:/a"]), value: Value::Counter { sum, rate: sum / 10.0 } }])
}

fn config(url: &str, format: Format) -> PushgatewayConfig {
    let mut config = PushgatewayConfig::new(url);
    config.format = format;
    config.buckets = vec![0.005, 0.1, 1.0];
    config.retry = RetryConfig {
        initial_backoff: backends::units::Duration(Duration::from_millis(50)),
        max_backoff: backends::units::Duration(Duration::from_millis(200)),
        ..RetryConfig::default()
    };
    config
}

fn build(config: &PushgatewayConfig, data_dir: &std::path::Path) -> Backend {
    let context = Context {
        client: backends::delivery::http::client().unwrap(),
        data_dir: data_dir.to_owned(),
        hostname: HOST.to_owned(),
        mappings: std::sync::Arc::default(),
    };
    Backend::new("pgw", config, context).unwrap()
}

async fn push(backend: &mut Backend, window: &Window) {
    for batch in backend.encode(window).unwrap() {
        backend.send(&batch.payload).await.unwrap();
    }
    backend.delivered(window);
}

const GROUP: [(&str, &str); 2] = [("instance", HOST), ("job", "sluice")];
const HITS: [(&str, &str); 4] = [("env", "prod"), ("instance", HOST), ("job", "sluice"), ("route", "/a")];
const PLAIN: [(&str, &str); 3] = [("env", "prod"), ("instance", HOST), ("job", "sluice")];

/// Two windows in each body format reach the real gateway as exact cumulative counters and
/// histograms (in seconds), the latest gauge, and a set at 0 in a window without members.
#[tokio::test]
async fn every_metric_type_arrives_exact_and_cumulative_at_a_real_pushgateway() {
    for format in [Format::Protobuf, Format::Text] {
        let gateway = Pushgateway::start();
        let dir = tempfile::tempdir().unwrap();
        let mut backend = build(&config(&gateway.url(), format), dir.path());
        let first = window(
            1,
            vec![
                Series { key: key("hits", &["route:/a"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
                Series { key: key("temp", &[]), value: Value::Gauge { value: -1.5 } },
                Series { key: key("users", &[]), value: Value::Set { count: 3, members: vec![1, 2, 3] } },
                Series { key: key("lat", &[]), value: timer(&[4.0, 20.0, 100.0]) },
            ],
        );
        push(&mut backend, &first).await;
        let group = gateway.group(&GROUP).expect("the group exists");
        assert_eq!(value(&group, "hits_total", &HITS), Some(30.0), "{format:?}");
        assert_eq!(value(&group, "users", &PLAIN), Some(3.0), "{format:?}");
        let second = window(
            2,
            vec![
                Series { key: key("hits", &["route:/a"]), value: Value::Counter { sum: 12.5, rate: 1.25 } },
                Series { key: key("temp", &[]), value: Value::Gauge { value: -2.0 } },
                Series { key: key("lat", &[]), value: timer(&[1500.0]) },
            ],
        );
        push(&mut backend, &second).await;
        let group = gateway.group(&GROUP).expect("the group exists");
        assert_eq!(value(&group, "hits_total", &HITS), Some(42.5), "{format:?}");
        assert_eq!(group["hits_total"]["type"], "COUNTER");
        assert_eq!(value(&group, "temp", &PLAIN), Some(-2.0), "{format:?}");
        assert_eq!(value(&group, "users", &PLAIN), Some(0.0), "{format:?}");
        assert_eq!(
            histogram(&group, "lat", &PLAIN),
            Some((4.0, 1.624, vec![(0.005, 1.0), (0.1, 3.0), (1.0, 3.0), (f64::INFINITY, 4.0)])),
            "{format:?}"
        );
        assert_eq!(group["last_push_successful"], true);
    }
}

/// A new backend on the same `data_dir` continues the totals where the last one stopped.
#[tokio::test]
async fn counter_totals_continue_after_a_restart_from_data_dir() {
    let gateway = Pushgateway::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&gateway.url(), Format::Protobuf);
    let mut first = build(&config, dir.path());
    push(&mut first, &counter(1, 7.0)).await;
    first.close().await;
    drop(first);
    let mut second = build(&config, dir.path());
    push(&mut second, &counter(1, 5.0)).await;
    let group = gateway.group(&GROUP).unwrap();
    assert_eq!(value(&group, "hits_total", &HITS), Some(12.0));
}

/// Windows sent while the gateway is down are retried and, once it is back (empty, as it
/// keeps nothing), the group holds the exact total of every window.
#[tokio::test]
async fn an_outage_of_the_gateway_loses_no_counts() {
    let mut gateway = Pushgateway::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&gateway.url(), Format::Protobuf);
    let handle = spawn("pgw", build(&config, dir.path()), &BufferConfig::default(), &config.retry);
    handle.queue.push(Arc::new(counter(1, 10.0)));
    wait_for(|| handle.stats.sent_windows.load(Relaxed) == 1).await;
    gateway.stop();
    for id in 2..=5 {
        handle.queue.push(Arc::new(counter(id, 10.0)));
    }
    wait_for(|| handle.stats.retries.load(Relaxed) >= 2).await;
    gateway.restart();
    let stats = Arc::clone(&handle.stats);
    assert_eq!(handle.finish(Duration::from_secs(10)).await, 0);
    let group = gateway.group(&GROUP).unwrap();
    assert_eq!(value(&group, "hits_total", &HITS), Some(50.0));
    assert_eq!(stats.dropped_rejected.load(Relaxed), 0);
    assert!(stats.errors_retriable.load(Relaxed) >= 2);
}

/// A push the gateway refuses (400: the name is a gauge in another group) is logged and
/// counted as rejected, and not retried.
#[tokio::test]
async fn a_refused_push_is_counted_and_not_retried() {
    let gateway = Pushgateway::start();
    let (status, _) = gateway.request("PUT", "/metrics/job/other", "# TYPE hits_total gauge\nhits_total 1\n").unwrap();
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&gateway.url(), Format::Protobuf);
    let handle = spawn("pgw", build(&config, dir.path()), &BufferConfig::default(), &config.retry);
    handle.queue.push(Arc::new(counter(1, 3.0)));
    let stats = Arc::clone(&handle.stats);
    assert_eq!(handle.finish(Duration::from_secs(10)).await, 0);
    assert_eq!(stats.errors_rejected.load(Relaxed), 1);
    assert_eq!(stats.dropped_rejected.load(Relaxed), 1);
    assert_eq!(stats.retries.load(Relaxed), 0);
    assert_eq!(stats.sent_series.load(Relaxed), 0);
    let error = stats.status().last_error.unwrap();
    // The gateway names whichever side of the conflict its consistency check met first.
    let conflict = error.contains("is not a GAUGE") || error.contains("is not a COUNTER");
    assert!(error.starts_with("HTTP 400") && conflict, "{error}");
}

/// With `delete_on_shutdown` the group is gone from the gateway after the backend closes.
#[tokio::test]
async fn delete_on_shutdown_removes_the_group() {
    let gateway = Pushgateway::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&gateway.url(), Format::Text);
    config.delete_on_shutdown = true;
    let mut backend = build(&config, dir.path());
    push(&mut backend, &counter(1, 1.0)).await;
    assert!(gateway.group(&GROUP).is_some());
    backend.close().await;
    assert!(gateway.group(&GROUP).is_none());
}

/// What the in-process gateway saw: method, path, content type and body of each request.
type Seen = Arc<Mutex<Vec<(String, String, String, Vec<u8>)>>>;

/// A 503 with `Retry-After: 1` is retried after that second, with the same `PUT` body.
#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_the_wait_with_the_same_body() {
    use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
    let seen: Seen = Arc::default();
    let recorder = Arc::clone(&seen);
    let app =
        axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let seen = Arc::clone(&recorder);
            async move {
                let content_type =
                    headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                let mut seen = seen.lock().unwrap();
                seen.push((method.to_string(), uri.path().to_owned(), content_type, body.to_vec()));
                if seen.len() == 1 {
                    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "busy")
                } else {
                    (StatusCode::OK, [(header::RETRY_AFTER, "0")], "")
                }
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&url, Format::Protobuf);
    config.grouping.insert("path".to_owned(), "/srv/app".to_owned());
    let handle = spawn("pgw", build(&config, dir.path()), &BufferConfig::default(), &config.retry);
    let started = Instant::now();
    handle.queue.push(Arc::new(counter(1, 3.0)));
    let stats = Arc::clone(&handle.stats);
    assert_eq!(handle.finish(Duration::from_secs(10)).await, 0);
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "PUT");
    assert_eq!(seen[0].1, "/metrics/job/sluice/instance/test-host/path@base64/L3Nydi9hcHA=");
    assert_eq!(seen[0].2, PROTOBUF_CONTENT_TYPE);
    assert_eq!(seen[0].3, seen[1].3, "a retry sends the same state");
    assert_eq!(stats.retries.load(Relaxed), 1);
    assert_eq!(stats.sent_series.load(Relaxed), 1);
    server.abort();
}

async fn wait_for(condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(20), "condition not met in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
