//! The InfluxDB backend against a real InfluxDB 1.6 (`influxd` on loopback ports), and the
//! InfluxDB 2.x write API against an in-process server that checks its documented contract.

use crate::common;
use crate::fixtures::{key, window};

use std::io::Read as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use backends::delivery::{BufferConfig, Fanout, RetryConfig, spawn};
use backends::influxdb::{InfluxDb, InfluxDbConfig};
use backends::units::Duration as Human;
use backends::{Backend, Series, Summary, SummaryKind, Value, Window};
use common::influxdb::Influxd;
use serde_json::json;

const DB: &str = "sluice";

fn timer(count: f64, sum: f64, min: f64, max: f64, percentiles: &[(f64, f64)]) -> Value {
    Value::Summary(Box::new(Summary {
        kind: SummaryKind::Timer,
        count,
        sum,
        min,
        max,
        percentiles: percentiles.to_vec(),
        buckets: Vec::new(),
        sketch: backends::Sketch::new(),
    }))
}

/// A recent window end, whole seconds, so every retention policy keeps it.
fn recent_end_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    (now - 3600) * 1000
}

fn config(toml_body: &str) -> InfluxDbConfig {
    toml::from_str(toml_body).unwrap()
}

fn v1(server: &Influxd) -> InfluxDb {
    let config = config(&format!("url = \"{}\"\ndatabase = \"{DB}\"", server.url()));
    InfluxDb::new(&config, backends::delivery::http::client().unwrap()).unwrap()
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_backoff: Human(Duration::from_millis(50)),
        max_backoff: Human(Duration::from_millis(200)),
        ..RetryConfig::default()
    }
}

async fn send_all(backend: &mut InfluxDb, window: &Window) {
    for batch in backend.encode(window).unwrap() {
        backend.send(&batch.payload).await.unwrap();
    }
}

/// Every type written to a real InfluxDB 1.6 reads back with the exact fields, tags and
/// timestamp (the window end) that `docs/translation.md` lists.
#[tokio::test]
async fn every_type_reads_back_from_influxdb_with_exact_values() {
    let server = Influxd::start().await;
    server.create_database(DB).await;
    let end = recent_end_ms();
    let mut backend = v1(&server);
    let w = window(
        1,
        end,
        vec![
            Series {
                key: key("app.hits", &["route:/home", "canary"]),
                value: Value::Counter { sum: 30.5, rate: 3.05 },
            },
            Series { key: key("app.temp", &[]), value: Value::Gauge { value: -1.25 } },
            Series { key: key("app.users", &[]), value: Value::Set { count: 3, members: vec![1, 2, 3] } },
            Series { key: key("odd name,x", &["a b:c,d=e", "dir:C:\\tmp"]), value: Value::Gauge { value: 2.0 } },
            Series {
                key: key("app.latency", &["host:db-2"]),
                value: timer(4.0, 100.0, 10.0, 40.0, &[(50.0, 25.0), (99.9, 39.5)]),
            },
        ],
    );
    send_all(&mut backend, &w).await;
    let t = json!(end);
    let rows = server.rows(DB, r#"SELECT "value", "rate", "route", "canary", "env", "host" FROM "app.hits""#).await;
    assert_eq!(
        rows,
        vec![vec![t.clone(), json!(30.5), json!(3.05), json!("/home"), json!("true"), json!("test"), json!("web-1")]]
    );
    let rows = server.rows(DB, r#"SELECT "value" FROM "app.temp""#).await;
    assert_eq!(rows, vec![vec![t.clone(), json!(-1.25)]]);
    let rows = server.rows(DB, r#"SELECT "value", "a b", "dir" FROM "odd name,x""#).await;
    assert_eq!(rows, vec![vec![t.clone(), json!(2), json!("c,d=e"), json!("C:/tmp")]]);
    let rows = server.rows(DB, r#"SELECT "value" FROM "app.users""#).await;
    assert_eq!(rows, vec![vec![t.clone(), json!(3)]]);
    let rows = server
        .rows(DB, r#"SELECT "count", "sum", "min", "max", "mean", "p50", "p99_9", "host" FROM "app.latency""#)
        .await;
    assert_eq!(
        rows,
        vec![vec![t, json!(4), json!(100), json!(10), json!(40), json!(25), json!(25), json!(39.5), json!("db-2")]]
    );
}

/// Without gzip and with second precision, InfluxDB stores the same point at the window end
/// in whole seconds; 12 001 series go in three requests and all arrive.
#[tokio::test]
async fn plain_body_second_precision_and_many_batches_are_stored_exactly() {
    let server = Influxd::start().await;
    server.create_database(DB).await;
    let end = recent_end_ms() + 999;
    let config = config(&format!("url = \"{}\"\ndatabase = \"{DB}\"\ngzip = false\nprecision = \"s\"", server.url()));
    let mut backend = InfluxDb::new(&config, backends::delivery::http::client().unwrap()).unwrap();
    let series: Vec<Series> = (0..12_001)
        .map(|i| Series { key: key("bulk", &[&format!("i:{i}")]), value: Value::Counter { sum: 2.0, rate: 0.2 } })
        .collect();
    let w = window(1, end, series);
    assert_eq!(backend.encode(&w).unwrap().len(), 3);
    send_all(&mut backend, &w).await;
    let rows = server.rows(DB, r#"SELECT sum("value"), count("value") FROM "bulk""#).await;
    assert_eq!(rows, vec![vec![json!(0), json!(24_002), json!(12_001)]]);
    let rows = server.rows(DB, r#"SELECT "value" FROM "bulk" WHERE "i" = '7'"#).await;
    assert_eq!(rows, vec![vec![json!((end / 1000) * 1000), json!(2)]]);
}

/// A real 400 "partial write" (a field type conflict) is not resent: the good points are
/// stored exactly once, the conflicting one is counted as rejected, the rest as sent.
#[tokio::test]
async fn partial_write_is_not_resent_and_the_dropped_point_is_counted() {
    let server = Influxd::start().await;
    server.create_database(DB).await;
    let end = recent_end_ms();
    // `value` of "conflict" becomes a string field, so a float `value` conflicts with it.
    assert_eq!(server.write_raw(DB, &format!("conflict value=\"text\" {}\n", end - 60_000)).await.0, 204);
    let fanout = Fanout::new(vec![spawn("influx", v1(&server), &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    let w = window(
        1,
        end,
        vec![
            Series { key: key("good.a", &[]), value: Value::Counter { sum: 5.0, rate: 0.5 } },
            Series { key: key("conflict", &[]), value: Value::Gauge { value: 1.0 } },
            Series { key: key("good.b", &[]), value: Value::Gauge { value: 7.0 } },
        ],
    );
    fanout.publish(&w);
    assert_eq!(fanout.finish(Duration::from_secs(10)).await, 0);
    assert_eq!(stats[0].sent_series.load(Relaxed), 2);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].retries.load(Relaxed), 0);
    assert!(stats[0].status().last_error.unwrap().contains("field type conflict"));
    assert_eq!(server.rows(DB, r#"SELECT "value" FROM "good.a""#).await, vec![vec![json!(end), json!(5)]]);
    assert_eq!(server.rows(DB, r#"SELECT "value" FROM "good.b""#).await, vec![vec![json!(end), json!(7)]]);
    assert_eq!(server.rows(DB, r#"SELECT count("value") FROM "conflict""#).await, vec![vec![json!(0), json!(1)]]);
}

/// Windows published while InfluxDB is down are retried and delivered after it comes back
/// on the same port: the totals are exact, nothing lost and nothing doubled.
#[tokio::test]
async fn windows_sent_during_an_outage_arrive_exactly_once_after_restart() {
    let mut server = Influxd::start().await;
    server.create_database(DB).await;
    let end = recent_end_ms();
    let fanout = Fanout::new(vec![spawn("influx", v1(&server), &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    let counter = |id: u64| {
        window(
            id,
            end + id * 10_000,
            vec![Series { key: key("outage", &[]), value: Value::Counter { sum: id as f64, rate: 0.1 } }],
        )
    };
    fanout.publish(&counter(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop();
    for id in 2..=5 {
        fanout.publish(&counter(id));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(stats[0].errors_retriable.load(Relaxed) > 0, "the outage was noticed");
    server.resume().await;
    assert_eq!(fanout.finish(Duration::from_secs(20)).await, 0);
    let rows = server.rows(DB, r#"SELECT sum("value"), count("value") FROM "outage""#).await;
    assert_eq!(rows, vec![vec![json!(0), json!(15), json!(5)]], "{}", server.log());
    assert_eq!(stats[0].sent_series.load(Relaxed), 5);
}

/// One request an in-process server received: when, its query string, headers and body.
type Request = (std::time::Instant, String, HeaderMap, Bytes);

/// What an in-process server received, per request.
#[derive(Clone, Default)]
struct Recorded {
    requests: Arc<Mutex<Vec<Request>>>,
    answers: Arc<Mutex<Vec<Response>>>,
}

async fn record(State(state): State<Recorded>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    state.requests.lock().unwrap().push((std::time::Instant::now(), query.unwrap_or_default(), headers, body));
    state.answers.lock().unwrap().pop().unwrap_or_else(|| StatusCode::NO_CONTENT.into_response())
}

/// Serves `path` on a loopback port; answers pop from `answers` (last first), then 204.
async fn test_server(path: &str, answers: Vec<Response>) -> (String, Recorded) {
    let state = Recorded { answers: Arc::new(Mutex::new(answers)), ..Recorded::default() };
    let app = Router::new().route(path, post(record)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn gunzip(body: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(body).read_to_string(&mut text).expect("a gzip body");
    text
}

/// A 503 with `Retry-After: 1` is retried after (at least) that second, and the batch is
/// delivered once.
#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_the_asked_delay() {
    let unavailable = (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "overloaded").into_response();
    let (url, recorded) = test_server("/write", vec![unavailable]).await;
    let config = config(&format!("url = \"{url}\"\ndatabase = \"{DB}\""));
    let backend = InfluxDb::new(&config, backends::delivery::http::client().unwrap()).unwrap();
    let fanout = Fanout::new(vec![spawn("influx", backend, &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 1_000_000, vec![Series { key: key("m", &[]), value: Value::Gauge { value: 1.0 } }]));
    assert_eq!(fanout.finish(Duration::from_secs(10)).await, 0);
    let requests = recorded.requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].0 - requests[0].0;
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(requests[0].3, requests[1].3, "the same bytes are resent");
    assert_eq!(gunzip(&requests[1].3), "m,env=test,host=web-1 value=1 1000000\n");
    assert_eq!(stats[0].retries.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 1);
}

/// InfluxDB 2.x: `POST /api/v2/write?org=&bucket=&precision=` with `Authorization: Token`,
/// `Content-Type: text/plain; charset=utf-8` and a gzip body of parseable line protocol
/// carrying the exact values.
#[tokio::test]
async fn v2_writes_follow_the_documented_contract_with_exact_values() {
    let (url, recorded) = test_server("/api/v2/write", Vec::new()).await;
    let config = config(&format!(
        "url = \"{url}\"\norg = \"acme corp\"\nbucket = \"metrics\"\ntoken = \"s3cr3t==\"\nprecision = \"ns\""
    ));
    let mut backend = InfluxDb::new(&config, backends::delivery::http::client().unwrap()).unwrap();
    let w = window(
        1,
        1_763_823_610_000,
        vec![
            Series { key: key("app.hits", &["route:/a b"]), value: Value::Counter { sum: 12.0, rate: 1.2 } },
            Series { key: key("app.latency", &[]), value: timer(2.0, 30.0, 10.0, 20.0, &[(99.0, 19.9)]) },
        ],
    );
    send_all(&mut backend, &w).await;
    let requests = recorded.requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    let (_, query, headers, body) = &requests[0];
    assert_eq!(query, "org=acme+corp&bucket=metrics&precision=ns");
    assert_eq!(headers["authorization"], "Token s3cr3t==");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["content-encoding"], "gzip");
    let text = gunzip(body);
    let mut parsed = Vec::new();
    for line in influxdb_line_protocol::parse_lines(&text) {
        let line = line.expect("valid line protocol");
        let tags: Vec<(String, String)> =
            line.series.tag_set.iter().flatten().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let fields: Vec<(String, String)> =
            line.field_set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parsed.push((line.series.measurement.to_string(), tags, fields, line.timestamp));
    }
    let pairs =
        |items: &[(&str, &str)]| items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
    let ts = Some(1_763_823_610_000_000_000);
    assert_eq!(
        parsed,
        vec![
            (
                "app.hits".to_owned(),
                pairs(&[("env", "test"), ("host", "web-1"), ("route", "/a b")]),
                pairs(&[("value", "12"), ("rate", "1.2")]),
                ts
            ),
            (
                "app.latency".to_owned(),
                pairs(&[("env", "test"), ("host", "web-1")]),
                pairs(&[("count", "2"), ("sum", "30"), ("min", "10"), ("max", "20"), ("mean", "15"), ("p99", "19.9")]),
                ts
            ),
        ]
    );
}

/// A 413 halves the batch at a line boundary and sends both halves; v1 credentials go as
/// HTTP basic authentication on every request.
#[tokio::test]
async fn a_413_is_split_in_halves_and_credentials_go_as_basic_auth() {
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, "request entity too large").into_response();
    let (url, recorded) = test_server("/write", vec![too_large]).await;
    let config = config(&format!(
        "url = \"{url}\"\ndatabase = \"{DB}\"\nusername = \"sluice\"\npassword = \"pa:ss\"\ngzip = false"
    ));
    let backend = InfluxDb::new(&config, backends::delivery::http::client().unwrap()).unwrap();
    let fanout = Fanout::new(vec![spawn("influx", backend, &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    let series =
        (1..=3).map(|i| Series { key: key(&format!("m{i}"), &[]), value: Value::Gauge { value: f64::from(i) } });
    fanout.publish(&window(1, 1_000_000, series.collect()));
    assert_eq!(fanout.finish(Duration::from_secs(10)).await, 0);
    let requests = recorded.requests.lock().unwrap();
    let bodies: Vec<String> = requests.iter().map(|r| String::from_utf8(r.3.to_vec()).unwrap()).collect();
    let line = |i: u32| format!("m{i},env=test,host=web-1 value={i} 1000000\n");
    assert_eq!(bodies, vec![line(1) + &line(2) + &line(3), line(1), line(2) + &line(3)]);
    for request in requests.iter() {
        assert_eq!(request.1, "db=sluice&precision=ms");
        // base64("sluice:pa:ss")
        assert_eq!(request.2["authorization"], "Basic c2x1aWNlOnBhOnNz");
        assert!(request.2.get("content-encoding").is_none());
    }
    assert_eq!(stats[0].sent_series.load(Relaxed), 3);
    assert_eq!(stats[0].dropped_too_large.load(Relaxed), 0);
}
