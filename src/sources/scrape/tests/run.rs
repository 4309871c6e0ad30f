//! Reads of a target serving on a loopback port: the request as Prometheus makes it, both
//! formats gzipped, each way a read fails (counted by reason, only `up` 0, no baseline moved)
//! and credentials.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::mpsc;

use crate::aggregator::input::SampleValue;
use crate::config::{ByteSize, ScrapeConfig};
use crate::sources::otlp::Cumulative;
use crate::sources::scrape::fetch::{ACCEPT_HEADER, FailReason};
use crate::sources::scrape::run::{Source, Target, scrape_once};
use crate::telemetry::{ListenerStats, Telemetry};

/// What the target's routes share: the counter they expose and the last request's headers.
#[derive(Default)]
struct Exposed {
    total: AtomicU64,
    headers: Mutex<Option<HeaderMap>>,
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

/// A target on a free port; returns its base URL.
async fn serve(exposed: Arc<Exposed>) -> String {
    let router = Router::new()
        .route(
            "/metrics",
            get(|axum::extract::State(e): axum::extract::State<Arc<Exposed>>, headers: HeaderMap| async move {
                *e.headers.lock().unwrap() = Some(headers);
                let text = format!("# TYPE jobs_total counter\njobs_total {}\n", e.total.load(Relaxed));
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
            }),
        )
        .route(
            "/openmetrics",
            get(|axum::extract::State(e): axum::extract::State<Arc<Exposed>>| async move {
                let body =
                    format!("# TYPE jobs counter\njobs_total {}\njobs_created 1.0e9\n# EOF\n", e.total.load(Relaxed));
                (
                    [
                        (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    gzip(body.as_bytes()),
                )
            }),
        )
        .route("/forbidden", get(|| async { (StatusCode::FORBIDDEN, "token expired\n") }))
        .route("/big", get(|| async { "x 1\n".repeat(1000) }))
        .route("/bomb", get(|| async { ([(header::CONTENT_ENCODING, "gzip")], gzip(&vec![b'\n'; 1 << 20])) }))
        .route("/broken-gzip", get(|| async { ([(header::CONTENT_ENCODING, "gzip")], b"not gzip".to_vec()) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "x 1\n"
            }),
        )
        .route(
            "/auth",
            get(|headers: HeaderMap| async move {
                match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
                    Some("Bearer s3cret") => "authorized 1\n".into_response(),
                    // `sluice:pa:ss` in base64.
                    Some("Basic c2x1aWNlOnBhOnNz") => "basic 1\n".into_response(),
                    _ => (StatusCode::UNAUTHORIZED, "who are you").into_response(),
                }
            }),
        )
        .with_state(exposed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// When the sources of these tests started, in Unix nanoseconds: after the targets' `_created`.
const STARTED: u64 = 1_500_000_000_000_000_000;

fn config(target: &str) -> ScrapeConfig {
    ScrapeConfig {
        targets: vec![target.to_owned()],
        interval: crate::config::Duration::from_secs(1),
        timeout: crate::config::Duration(Duration::from_millis(500)),
        max_body_bytes: ByteSize(2048),
        sample_limit: 100,
        max_series: 100,
        expire_after: crate::config::Duration::from_secs(600),
        bearer_token_file: None,
        basic_auth: None,
    }
}

fn source(config: ScrapeConfig, telemetry: &Telemetry) -> Source {
    Source {
        name: "app".to_owned(),
        config,
        client: backends::delivery::http::client().unwrap(),
        state: Mutex::new(Cumulative::new(100, Duration::from_mins(10), STARTED)),
        started_unix: STARTED,
        started: Instant::now(),
        listener: 0,
        stats: Arc::new(ListenerStats::new("scrape:app")),
        scrape: telemetry.scrape_source("app"),
        tx: mpsc::channel(1).0,
    }
}

/// Each sample as `name value`.
fn read(samples: &[crate::aggregator::input::Sample]) -> Vec<String> {
    samples
        .iter()
        .map(|s| match s.value() {
            SampleValue::Counter(v) => format!("{} counter {v}", s.name()),
            SampleValue::Gauge(v) => format!("{} gauge {v}", s.name()),
            other => format!("{} {other:?}", s.name()),
        })
        .collect()
}

/// The request asks for OpenMetrics first and gzip; a text answer and a gzipped OpenMetrics
/// answer both convert, with the target's `up` at 1.
#[tokio::test]
async fn a_read_asks_as_prometheus_does_and_takes_either_format_gzipped() {
    let exposed = Arc::new(Exposed::default());
    let base = serve(Arc::clone(&exposed)).await;
    let telemetry = Telemetry::for_tests();
    let source = source(config(&format!("{base}/metrics")), &telemetry);
    let mut target = Target::new(format!("{base}/metrics").parse().unwrap());
    exposed.total.store(10, Relaxed);
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["up gauge 1"], "the baseline");
    let headers = exposed.headers.lock().unwrap().take().unwrap();
    assert_eq!(headers[header::ACCEPT], ACCEPT_HEADER);
    assert_eq!(headers[header::ACCEPT_ENCODING], "gzip");
    assert_eq!(headers["x-prometheus-scrape-timeout-seconds"], "0.5");
    exposed.total.store(13, Relaxed);
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["jobs_total counter 3", "up gauge 1"]);

    assert_eq!(source.scrape.scrapes.load(Relaxed), 2);
    assert_eq!(source.scrape.baselines.load(Relaxed), 1);

    // Another table: the same host:port in one table would be the same series.
    let mut source = source;
    source.name = "om".to_owned();
    source.state = Mutex::new(Cumulative::new(100, Duration::from_mins(10), STARTED));
    let mut om = Target::new(format!("{base}/openmetrics").parse().unwrap());
    assert_eq!(read(&scrape_once(&source, &mut om).await), ["up gauge 1"], "created before the source: a baseline");
    exposed.total.store(20, Relaxed);
    assert_eq!(read(&scrape_once(&source, &mut om).await), ["jobs_total counter 7", "up gauge 1"]);
}

/// Every way a read fails gives only `up` 0 and counts its reason; an HTTP error keeps the
/// start of its body for the log.
#[tokio::test]
async fn failed_reads_give_up_0_and_are_counted_by_reason() {
    let base = serve(Arc::new(Exposed::default())).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cases = [
        ("/forbidden".to_owned(), FailReason::HttpStatus),
        ("/big".to_owned(), FailReason::TooLarge),
        ("/bomb".to_owned(), FailReason::TooLarge),
        ("/broken-gzip".to_owned(), FailReason::BadGzip),
        ("/slow".to_owned(), FailReason::Timeout),
        ("/auth".to_owned(), FailReason::HttpStatus),
        (format!("http://{closed}/metrics"), FailReason::Connect),
    ];
    for (path, reason) in cases {
        let url = if path.starts_with('/') { format!("{base}{path}") } else { path };
        let telemetry = Telemetry::for_tests();
        let mut config = config(&url);
        config.sample_limit = 3;
        let source = source(config, &telemetry);
        let mut target = Target::new(url.parse().unwrap());
        assert_eq!(read(&scrape_once(&source, &mut target).await), ["up gauge 0"], "{url}");
        assert_eq!(source.scrape.failures.get(reason.as_str()), 1, "{url}: {reason:?}");
        assert_eq!(target.failing, Some(reason), "{url}");
    }
    let config = config(&format!("{base}/forbidden"));
    let error = super::super::fetch::fetch(
        &backends::delivery::http::client().unwrap(),
        &config.targets[0].parse().unwrap(),
        &config,
    )
    .await;
    assert_eq!(error.unwrap_err().to_string(), "answered 403: token expired");
}

/// A read over `sample_limit` fails whole and moves no baseline: the next good read adds
/// everything since the last good one.
#[tokio::test]
async fn a_read_over_the_sample_limit_changes_nothing() {
    let exposed = Arc::new(Exposed::default());
    let base = serve(Arc::clone(&exposed)).await;
    let telemetry = Telemetry::for_tests();
    let url = format!("{base}/metrics");
    let mut source = source(config(&url), &telemetry);
    let mut target = Target::new(url.parse().unwrap());
    exposed.total.store(10, Relaxed);
    scrape_once(&source, &mut target).await;
    source.config.sample_limit = 0;
    exposed.total.store(15, Relaxed);
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["up gauge 0"]);
    assert_eq!(source.scrape.failures.get("sample_limit"), 1);
    source.config.sample_limit = 1;
    exposed.total.store(17, Relaxed);
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["jobs_total counter 7", "up gauge 1"]);
    assert_eq!(target.failing, None);
}

/// `bearer_token_file` is read at every read (less its trailing newline); a missing file
/// fails the read as `credentials`.
#[tokio::test]
async fn a_bearer_token_is_read_from_its_file() {
    let base = serve(Arc::new(Exposed::default())).await;
    let telemetry = Telemetry::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let url = format!("{base}/auth");
    let mut config = config(&url);
    config.bearer_token_file = Some(token.clone());
    let source = source(config, &telemetry);
    let mut target = Target::new(url.parse().unwrap());
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["authorized gauge 1", "up gauge 1"]);
    std::fs::remove_file(&token).unwrap();
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["up gauge 0"]);
    assert_eq!(source.scrape.failures.get("credentials"), 1);
}

/// Targets are read concurrently: one that never answers within its timeout delays no read of
/// another, and each is read once per interval.
#[tokio::test]
async fn a_slow_target_delays_no_other() {
    use crate::aggregator::input::Input;
    let base = serve(Arc::new(Exposed::default())).await;
    let telemetry = Telemetry::for_tests();
    let mut config = config(&format!("{base}/slow"));
    config.interval = crate::config::Duration(Duration::from_millis(200));
    config.timeout = crate::config::Duration(Duration::from_millis(150));
    let (tx, mut rx) = mpsc::channel(64);
    let source = Arc::new(Source { tx, ..source(config, &telemetry) });
    let targets = vec![
        Target::new(format!("{base}/slow").parse().unwrap()),
        Target::new(format!("{base}/metrics").parse().unwrap()),
    ];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(super::super::run::run(source, targets, stopped));
    let (mut good, mut failed) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1100);
    while let Ok(Some(Input::Samples(samples))) = tokio::time::timeout_at(deadline, rx.recv()).await {
        for sample in &samples.samples {
            if sample.name() == "up" {
                match sample.value() {
                    SampleValue::Gauge(1.0) => good += 1,
                    _ => failed += 1,
                }
            }
        }
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    // Reads at 0, 200, …, 1000 ms: six; the slow target's end 150 ms after each start.
    assert!((5..=6).contains(&good), "{good} good reads in 1.1 s");
    assert!((4..=6).contains(&failed), "{failed} timeouts in 1.1 s");
}

/// `basic_auth` sends the user and the password of its file (less its trailing newline).
#[tokio::test]
async fn basic_auth_sends_the_password_of_its_file() {
    let base = serve(Arc::new(Exposed::default())).await;
    let telemetry = Telemetry::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "pa:ss\n").unwrap();
    let url = format!("{base}/auth");
    let mut config = config(&url);
    config.basic_auth = Some(crate::config::BasicAuth { username: "sluice".to_owned(), password_file: password });
    let source = source(config, &telemetry);
    let mut target = Target::new(url.parse().unwrap());
    assert_eq!(read(&scrape_once(&source, &mut target).await), ["basic gauge 1", "up gauge 1"]);
}
