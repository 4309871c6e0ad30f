//! A receiver serving on a loopback port, driven over HTTP: statuses, bodies, counters.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message as _;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::aggregator::input::Input;
use crate::config::OtlpConfig;
use crate::sources::otlp::Refusal;
use crate::sources::otlp::proto::{ExportMetricsServiceResponse, Status};
use crate::sources::otlp::server::{Receiver, run as serve};
use crate::telemetry::{ListenerStats, Telemetry};

/// A receiver with a `max_body_bytes` of 64 KiB, serving on a free port and sending to a
/// queue of `queue` inputs.
struct Running {
    url: String,
    input: mpsc::Receiver<Input>,
    telemetry: Arc<Telemetry>,
    stop: watch::Sender<bool>,
    client: reqwest::Client,
}

impl Running {
    async fn start(queue: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
        let telemetry = Arc::new(Telemetry::for_tests());
        let (tx, input) = mpsc::channel(queue);
        let config = OtlpConfig { max_body_bytes: crate::config::ByteSize(64 << 10), ..OtlpConfig::default() };
        let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
        let stats = Arc::new(ListenerStats::new("otlp:test"));
        let receiver = Receiver::new(&config, started, 0, stats, Arc::clone(&telemetry), tx);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::new(receiver), stopped));
        Self { url, input, telemetry, stop, client: backends::delivery::http::client().unwrap() }
    }

    async fn post(&self, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut request = self.client.post(&self.url).header("content-type", content_type).body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.send().await.unwrap()
    }

    fn refused(&self, refusal: Refusal) -> u64 {
        self.telemetry.otlp.refused.get(refusal.as_str())
    }

    /// The values of the samples of the next input.
    fn next_values(&mut self) -> Vec<SampleValue> {
        match self.input.try_recv().expect("an input was sent") {
            Input::Samples(s) => s.samples.iter().map(|s| s.value().clone()).collect(),
            Input::Statsd(_) => panic!("the receiver sends samples"),
        }
    }
}

/// A cumulative counter point that began now, so its first value counts in full.
fn cumulative_now(value: f64) -> ExportMetricsServiceRequest {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    request(&[], vec![sum("c", true, true, vec![double(&[], now, now + 1, value)])])
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Every answer of the table in `server.rs`, in the request's encoding, each refusal counted
/// by reason, and the receiver still serving after each.
#[tokio::test]
async fn a_receiver_answers_each_request_as_otlp_http_says() {
    let mut r = Running::start(16).await;
    let good = request(&[], vec![gauge("g", vec![double(&[], 0, 1, 2.5)])]).encode_to_vec();

    let ok = r.post("application/x-protobuf", None, good.clone()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "application/x-protobuf");
    assert_eq!(ExportMetricsServiceResponse::decode(ok.bytes().await.unwrap()).unwrap().partial_success, None);
    assert_eq!(r.next_values(), [SampleValue::Gauge(2.5)]);

    let ok = r.post("application/x-protobuf", Some("gzip"), gzip(&good)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(r.next_values(), [SampleValue::Gauge(2.5)]);

    let json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[
        {"timeUnixNano":"1","asDouble":"NaN"},{"timeUnixNano":"1","asDouble":4}]}}]}]}]}"#;
    let partial = r.post("application/json", None, json.into()).await;
    assert_eq!(partial.status(), 200);
    assert_eq!(partial.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&partial.bytes().await.unwrap()).unwrap();
    assert_eq!(body["partialSuccess"]["rejectedDataPoints"], "1");
    assert!(body["partialSuccess"]["errorMessage"].as_str().unwrap().contains("1 not_finite"), "{body}");
    assert_eq!(r.next_values(), [SampleValue::Gauge(4.0)]);

    let bad = r.post("application/x-protobuf", None, vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).await;
    assert_eq!(bad.status(), 400);
    let status = Status::decode(bad.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3);
    assert!(status.message.contains("not a protobuf ExportMetricsServiceRequest"), "{}", status.message);
    let bad_json = r.post("application/json", None, b"{\"resourceMetrics\":".to_vec()).await;
    assert_eq!(bad_json.status(), 400);
    let not_gzip = r.post("application/json", Some("gzip"), b"{}".to_vec()).await;
    assert_eq!(not_gzip.status(), 400);

    let big = r.post("application/x-protobuf", None, vec![0; 65 << 10]).await;
    assert_eq!(big.status(), 413);
    let bomb = r.post("application/x-protobuf", Some("gzip"), gzip(&vec![0; 1 << 20])).await;
    assert_eq!(bomb.status(), 413);

    let text = r.post("text/plain", None, b"x".to_vec()).await;
    assert_eq!(text.status(), 415);
    assert!(text.text().await.unwrap().contains("application/x-protobuf or application/json"));
    assert_eq!(r.post("application/json", Some("br"), b"{}".to_vec()).await.status(), 415);

    assert_eq!([Refusal::Malformed, Refusal::TooLarge, Refusal::UnsupportedMediaType].map(|x| r.refused(x)), [3, 2, 2]);
    assert_eq!(r.post("application/x-protobuf", None, good).await.status(), 200, "still serving");
    assert_eq!(r.telemetry.otlp.points.load(std::sync::atomic::Ordering::Relaxed), 5);
    assert_eq!(r.telemetry.otlp.rejected.get("not_finite"), 1);
    let _ = r.stop.send(true);
}

/// While the aggregator's queue stays full a request is answered 429 with `Retry-After`, after
/// waiting at most `QUEUE_WAIT`, and nothing of it is kept: once there is room, the client's
/// retry of the same cumulative point counts in full, exactly once.
#[tokio::test]
async fn a_full_queue_is_answered_429_and_the_retry_counts_exactly_once() {
    let mut r = Running::start(1).await;
    let point = cumulative_now(5.0).encode_to_vec();
    let filler = request(&[], vec![gauge("g", vec![double(&[], 0, 1, 1.0)])]).encode_to_vec();
    assert_eq!(r.post("application/x-protobuf", None, filler).await.status(), 200);

    let started = std::time::Instant::now();
    let refused = r.post("application/x-protobuf", None, point.clone()).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(started.elapsed() < crate::sources::otlp::server::QUEUE_WAIT * 3);
    assert_eq!(r.refused(Refusal::Overloaded), 1);

    assert_eq!(r.next_values(), [SampleValue::Gauge(1.0)], "the filler");
    assert_eq!(r.post("application/x-protobuf", None, point).await.status(), 200);
    assert_eq!(r.next_values(), [SampleValue::Counter(5.0)]);
    let _ = r.stop.send(true);
}

/// Once the aggregator is gone (the agent is stopping) requests are answered 503 with
/// `Retry-After`, so the SDK keeps its data and retries.
#[tokio::test]
async fn a_receiver_without_an_aggregator_answers_503() {
    let Running { url, input, telemetry, stop, client } = Running::start(4).await;
    drop(input);
    let body = request(&[], vec![gauge("g", vec![double(&[], 0, 1, 1.0)])]).encode_to_vec();
    let answer = client.post(&url).header("content-type", "application/x-protobuf").body(body).send().await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "5");
    assert_eq!(telemetry.otlp.refused.get("unavailable"), 1);
    let _ = stop.send(true);
}

/// While `CONCURRENT_REQUESTS` requests are being read (clients that send their bodies
/// slowly), another waits at most `QUEUE_WAIT` and is answered 429: memory for bodies is
/// bounded however many clients connect. Once they finish, requests are taken again.
#[tokio::test]
async fn requests_beyond_the_concurrency_limit_are_answered_429() {
    use tokio::io::AsyncWriteExt as _;
    let mut r = Running::start(16).await;
    let addr = r.url.trim_start_matches("http://").trim_end_matches("/v1/metrics").to_owned();
    let mut slow = Vec::new();
    for _ in 0..crate::sources::otlp::server::CONCURRENT_REQUESTS {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head =
            "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    // Let the server read every slow request's head and take its permit.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let body = request(&[], vec![gauge("g", vec![double(&[], 0, 1, 1.0)])]).encode_to_vec();
    assert_eq!(r.post("application/x-protobuf", None, body.clone()).await.status(), 429);
    drop(slow);
    assert_eq!(r.post("application/x-protobuf", None, body).await.status(), 200);
    assert_eq!(r.next_values(), [SampleValue::Gauge(1.0)]);
    let _ = r.stop.send(true);
}
