use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderValue;

use super::server::wants_openmetrics;
use super::{OPENMETRICS_CONTENT_TYPE, PrometheusExporter, PrometheusExporterConfig, Scrape, TEXT_CONTENT_TYPE};
use crate::backend::Backend;
use crate::model::{Series, SummaryKind, Value, Window};
use crate::prometheus::Mappings;
use crate::prometheus::tests::{key, mappings, summary, window};
use crate::units::Duration;

/// The Accept header Prometheus 2.42 sends with every scrape.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-exporter-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(listen: SocketAddr) -> PrometheusExporterConfig {
    let mut config = PrometheusExporterConfig::new(listen);
    config.buckets = vec![0.005, 0.1, 1.0];
    config
}

fn exporter(dir: &Path, config: &PrometheusExporterConfig, mappings: Arc<Mappings>) -> PrometheusExporter {
    PrometheusExporter::new("scrape", config, dir, mappings).unwrap()
}

/// Encodes and sends `window` as the delivery task does; returns the render now served.
async fn deliver(exporter: &mut PrometheusExporter, window: &Window) -> Arc<Scrape> {
    let mut batches = exporter.encode(window).unwrap();
    assert_eq!(batches.len(), 1, "one render per window");
    exporter.send(&batches.remove(0).payload).await.unwrap();
    exporter.delivered(window);
    exporter.served()
}

fn text(scrape: &Scrape) -> &str {
    std::str::from_utf8(&scrape.text).unwrap()
}

/// The text format without its `# HELP` lines (every family has the same one).
fn series(scrape: &Scrape) -> String {
    text(scrape).split_inclusive('\n').filter(|l| !l.starts_with("# HELP ")).collect()
}

fn openmetrics(scrape: &Scrape) -> &str {
    std::str::from_utf8(&scrape.openmetrics).unwrap()
}

/// A free loopback port, released for the test to bind.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// `GET /metrics` with `accept`: status, content type and body; `None` when nothing answers.
async fn scrape(addr: SocketAddr, accept: Option<&str>) -> Option<(u16, String, String)> {
    let client = crate::delivery::http::client().unwrap();
    let mut request = client.get(format!("http://{addr}/metrics"));
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    Some((status, content_type, response.text().await.ok()?))
}

/// The window of the translation table: a counter with a bare tag, a gauge, a set, a timer a
/// rule names `req_latency_seconds`, and a histogram.
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

const LATENCY_RULE: &str = "[[mappings]]\nmatch = \"req.latency\"\nname = \"req_latency_seconds\"\n";

/// Both formats of one window are exactly the table in `docs/translation.md`: OpenMetrics
/// names a counter's family without `_total`, writes `# UNIT` for the timer whose name ends
/// in `_seconds` and ends with `# EOF`; neither has timestamps or reserves a label name.
#[tokio::test]
async fn text_and_openmetrics_match_the_translation_table() {
    let dir = temp_dir("golden");
    let mut exporter = exporter(&dir, &config(free_addr()), mappings(LATENCY_RULE));
    let served = deliver(&mut exporter, &first_window()).await;
    let body = "\
app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 30
# HELP cpu_temp Aggregated by sluice.
# TYPE cpu_temp gauge
cpu_temp{env=\"prod\",instance=\"x\"} -1.5
# HELP h Aggregated by sluice.
# TYPE h histogram
h_bucket{env=\"prod\",le=\"0.005\"} 0
h_bucket{env=\"prod\",le=\"0.1\"} 0
h_bucket{env=\"prod\",le=\"1\"} 2
h_bucket{env=\"prod\",le=\"+Inf\"} 4
h_sum{env=\"prod\"} 5
h_count{env=\"prod\"} 4
# HELP req_latency_seconds Aggregated by sluice.
# TYPE req_latency_seconds histogram
";
    let latency = "\
req_latency_seconds_bucket{env=\"prod\",le=\"0.005\"} 1
req_latency_seconds_bucket{env=\"prod\",le=\"0.1\"} 3
req_latency_seconds_bucket{env=\"prod\",le=\"1\"} 3
req_latency_seconds_bucket{env=\"prod\",le=\"+Inf\"} 3
req_latency_seconds_sum{env=\"prod\"} 0.124
req_latency_seconds_count{env=\"prod\"} 3
# HELP users Aggregated by sluice.
# TYPE users gauge
users{env=\"prod\"} 2
";
    assert_eq!(
        text(&served),
        format!("# HELP app_hits_total Aggregated by sluice.\n# TYPE app_hits_total counter\n{body}{latency}")
    );
    assert_eq!(
        openmetrics(&served),
        format!(
            "# HELP app_hits Aggregated by sluice.\n# TYPE app_hits counter\n{body}\
             # UNIT req_latency_seconds seconds\n{latency}# EOF\n"
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Prometheus' own Accept header gets OpenMetrics; no header, `*/*`, a text-only header or
/// one that prefers text gets the text format; an unknown OpenMetrics version is not offered.
#[test]
fn openmetrics_is_chosen_only_when_accept_prefers_it() {
    let wants = |accept: &str| wants_openmetrics(Some(&HeaderValue::from_str(accept).unwrap()));
    assert!(wants(PROMETHEUS_ACCEPT));
    assert!(wants("application/openmetrics-text"));
    assert!(wants("application/openmetrics-text; version=0.0.1; q=0.5, text/plain; q=0.5"));
    assert!(!wants_openmetrics(None));
    assert!(!wants("*/*"));
    assert!(!wants("text/plain;version=0.0.4"));
    assert!(!wants("application/openmetrics-text;q=0.2,text/plain;q=0.9"));
    assert!(!wants("application/openmetrics-text;q=0"));
    assert!(!wants("application/openmetrics-text;version=2.0.0"));
}

/// Over HTTP: the listener answers each scrape with the latest render in the negotiated
/// format and content type, the empty render before the first window, 404 elsewhere.
#[tokio::test]
async fn the_listener_serves_the_negotiated_format() {
    let dir = temp_dir("negotiate");
    let mut exporter = exporter(&dir, &config("127.0.0.1:0".parse().unwrap()), Arc::default());
    let addr = exporter.local_addr();
    assert_ne!(addr.port(), 0, "the bound port");
    let before = scrape(addr, Some(PROMETHEUS_ACCEPT)).await.unwrap();
    assert_eq!(before, (200, OPENMETRICS_CONTENT_TYPE.to_owned(), "# EOF\n".to_owned()));
    let served = deliver(&mut exporter, &first_window()).await;
    let (status, content_type, body) = scrape(addr, Some(PROMETHEUS_ACCEPT)).await.unwrap();
    assert_eq!((status, content_type.as_str(), body.as_str()), (200, OPENMETRICS_CONTENT_TYPE, openmetrics(&served)));
    assert!(body.ends_with("\n# EOF\n"));
    for accept in [None, Some("*/*"), Some("text/plain;version=0.0.4")] {
        let (status, content_type, body) = scrape(addr, accept).await.unwrap();
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (200, TEXT_CONTENT_TYPE, text(&served)),
            "{accept:?}"
        );
    }
    let other = crate::delivery::http::client().unwrap().get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 404);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A family whose name another family of another type takes — a gauge `x` next to counter
/// `x` (OpenMetrics' family `x` of `x_total`), a gauge `lat_count` next to histogram `lat` —
/// and a counter named only `_total` are left out of both formats; the scrape keeps everything else, and every left-out series
/// is counted at every render.
#[tokio::test]
async fn a_name_taken_by_another_type_is_left_out_and_counted() {
    let dir = temp_dir("names");
    let mut exporter = exporter(&dir, &config("127.0.0.1:0".parse().unwrap()), Arc::default());
    let conflicting = window(
        1,
        vec![
            Series { key: key("x", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("x", &["a:1"]), value: Value::Gauge { value: 5.0 } },
            Series { key: key("lat", &[]), value: summary(SummaryKind::Histogram, &[(1.0, 1.0)], &[]) },
            Series { key: key("lat_count", &[]), value: Value::Gauge { value: 7.0 } },
            Series { key: key("ok", &[]), value: Value::Gauge { value: 2.0 } },
            // Its OpenMetrics family name would be empty.
            Series { key: key("_total", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
        ],
    );
    let served = deliver(&mut exporter, &conflicting).await;
    assert_eq!(exporter.take_left_out(), 3);
    let text = text(&served);
    assert!(text.contains("x_total{env=\"prod\"} 1\n"), "{text}");
    assert!(text.contains("lat_count{env=\"prod\"} 1\n"), "{text}");
    assert!(text.contains("ok{env=\"prod\"} 2\n"), "{text}");
    assert!(!text.contains("# TYPE x gauge") && !text.contains("# TYPE lat_count"), "{text}");
    assert!(!openmetrics(&served).contains("# TYPE x gauge"), "{}", openmetrics(&served));
    assert!(!text.contains("\n_total"), "{text}");
    deliver(&mut exporter, &conflicting).await;
    assert_eq!(exporter.take_left_out(), 3, "counted at each render");
    assert_eq!(exporter.take_left_out(), 0, "each counted once");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A family keeps the label names it was first served with: series of the same name with
/// other label names are left out and counted, even when they sort first, until no series
/// with the first names is left.
#[tokio::test]
async fn a_family_keeps_the_label_names_it_was_first_served_with() {
    let dir = temp_dir("labels");
    let mut config = config("127.0.0.1:0".parse().unwrap());
    config.expire_after = Duration::from_secs(15);
    let mut exporter = exporter(&dir, &config, Arc::default());
    let first =
        window(1, vec![Series { key: key("req", &["route:/a"]), value: Value::Counter { sum: 3.0, rate: 0.3 } }]);
    let served = deliver(&mut exporter, &first).await;
    assert_eq!(series(&served), "# TYPE req_total counter\nreq_total{env=\"prod\",route=\"/a\"} 3\n");
    let others = window(
        2,
        vec![
            Series { key: key("req", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("req", &["code:200"]), value: Value::Counter { sum: 2.0, rate: 0.2 } },
            Series { key: key("req", &["route:/b"]), value: Value::Counter { sum: 4.0, rate: 0.4 } },
        ],
    );
    let served = deliver(&mut exporter, &others).await;
    assert_eq!(
        series(&served),
        "# TYPE req_total counter\nreq_total{env=\"prod\",route=\"/a\"} 3\nreq_total{env=\"prod\",route=\"/b\"} 4\n"
    );
    assert_eq!(exporter.take_left_out(), 2);
    // The `route` series expire (15 s); only then does the family take the names of another.
    let later = window(4, vec![Series { key: key("req", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } }]);
    let served = deliver(&mut exporter, &later).await;
    assert_eq!(series(&served), "# TYPE req_total counter\nreq_total{env=\"prod\"} 2\n");
    assert_eq!(exporter.take_left_out(), 0, "the code series expired with the others");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every series leaves the scrape once it has not been updated for `expire_after` — gauges
/// counted from the last window that carried them — and a rule's `expire_after` overrides
/// the sink's for its series.
#[tokio::test]
async fn series_expire_after_their_expire_after_without_updates() {
    let dir = temp_dir("expiry");
    let mut config = config("127.0.0.1:0".parse().unwrap());
    config.expire_after = Duration::from_secs(15);
    let rule = "[[mappings]]\nmatch = \"short.*\"\nname = \"short_${1}\"\nexpire_after = \"5s\"\n";
    let mut exporter = exporter(&dir, &config, mappings(rule));
    let first = window(
        1,
        vec![
            Series { key: key("c", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("g", &[]), value: Value::Gauge { value: 4.0 } },
            Series { key: key("short.c", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("short.g", &[]), value: Value::Gauge { value: 9.0 } },
        ],
    );
    let served = deliver(&mut exporter, &first).await;
    assert_eq!(
        series(&served),
        "# TYPE c_total counter\nc_total{env=\"prod\"} 1\n# TYPE g gauge\ng{env=\"prod\"} 4\n\
         # TYPE short_c_total counter\nshort_c_total{env=\"prod\"} 1\n# TYPE short_g gauge\nshort_g{env=\"prod\"} 9\n"
    );
    // 10 s later, with nothing new (the aggregator expired the gauges): the rule's 5 s passed.
    let served = deliver(&mut exporter, &window(2, Vec::new())).await;
    assert_eq!(series(&served), "# TYPE c_total counter\nc_total{env=\"prod\"} 1\n# TYPE g gauge\ng{env=\"prod\"} 4\n");
    assert_eq!(exporter.kept_gauges(), 1);
    // 20 s after their last update: the sink's 15 s passed too.
    let served = deliver(&mut exporter, &window(3, Vec::new())).await;
    assert_eq!(series(&served), "");
    assert_eq!(openmetrics(&served), "# EOF\n");
    assert_eq!(exporter.kept_gauges(), 0, "nothing kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reload builds the replacing sink while the old one still runs on the same address: it
/// takes the listener over (no bind error, never a refused scrape), the old render stays
/// served until the new sink's first window, and the totals continue from what the old one
/// saved. Once the last sink is dropped the port is released.
#[tokio::test]
async fn a_reload_takes_over_the_listener_and_continues_the_totals() {
    let dir = temp_dir("reload");
    let config = config(free_addr());
    let mut old = exporter(&dir, &config, Arc::default());
    let addr = old.local_addr();
    let counter =
        |id, sum| window(id, vec![Series { key: key("hits", &[]), value: Value::Counter { sum, rate: 1.0 } }]);
    deliver(&mut old, &counter(1, 30.0)).await;
    let mut new = PrometheusExporter::new("scrape", &config, &dir, Arc::default()).expect("takes the address over");
    assert_eq!(new.local_addr(), addr);
    old.close().await;
    drop(old);
    let (_, _, body) = scrape(addr, None).await.expect("still served");
    assert_eq!(
        body,
        "# HELP hits_total Aggregated by sluice.\n# TYPE hits_total counter\nhits_total{env=\"prod\"} 30\n"
    );
    new.begin();
    let served = deliver(&mut new, &counter(2, 12.0)).await;
    assert_eq!(series(&served), "# TYPE hits_total counter\nhits_total{env=\"prod\"} 42\n");
    assert_eq!(scrape(addr, None).await.unwrap().2, text(&served));
    drop(new);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpListener::bind(addr).is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the port was not released");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An address another process holds is a build error that names `listen`.
#[tokio::test]
async fn an_address_in_use_is_a_build_error_naming_listen() {
    let dir = temp_dir("in-use");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = config(holder.local_addr().unwrap());
    let error = PrometheusExporter::new("scrape", &config, &dir, Arc::default()).unwrap_err();
    assert_eq!(error.key, Some("listen"));
    assert!(error.message.starts_with(&format!("cannot listen on {}: ", config.listen)), "{}", error.message);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `expire_after` must be longer than zero and the buckets increasing; the error names the key.
#[test]
fn invalid_keys_are_refused_by_name() {
    let mut config = config("127.0.0.1:9464".parse().unwrap());
    config.expire_after = Duration::from_secs(0);
    assert_eq!(config.validate().unwrap_err().key, Some("expire_after"));
    let mut config = super::PrometheusExporterConfig::new("127.0.0.1:9464".parse().unwrap());
    config.buckets = vec![1.0, 0.5];
    assert_eq!(config.validate().unwrap_err().key, Some("buckets"));
}
