//! The shared Prometheus encoder with mapping rules: one Pushgateway window of 10 000 series
//! (cumulative state advanced, families built, text written), with no rules and with 50 rules
//! whose results are cached after the first window; and one scrape endpoint window of 100 000
//! series (totals advanced, conflicts checked, text and OpenMetrics rendered).

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use backends::prometheus::Context;
use backends::prometheus::{MappingRule, Mappings};
use backends::prometheus_exporter::{PrometheusExporter, PrometheusExporterConfig};
use backends::pushgateway::{Format, Pushgateway, PushgatewayConfig};
use backends::{Backend, Series, SeriesKey, Sketch, Summary, SummaryKind, Value, Window};
use criterion::{Criterion, criterion_group, criterion_main};

const SERIES: usize = 10_000;

/// Series of the scrape endpoint's window.
const SCRAPE_SERIES: usize = 100_000;

fn timer(ms: f64) -> Value {
    let mut sketch = Sketch::new();
    sketch.add(ms, 1.0);
    Value::Summary(Box::new(Summary {
        kind: SummaryKind::Timer,
        count: 1.0,
        sum: ms,
        min: ms,
        max: ms,
        percentiles: Vec::new(),
        buckets: Vec::new(),
        sketch,
    }))
}

/// 1 000 names × 100 `shard` tags: 40 % counters, 20 % timers, 30 % gauges, 10 % sets.
fn scrape_window() -> Window {
    let series = (0..SCRAPE_SERIES)
        .map(|i| {
            let (name, value) = match i % 10 {
                0..=3 => (format!("app.requests{}", i % 1000), Value::Counter { sum: 1.0, rate: 0.1 }),
                4 | 5 => (format!("app.latency{}", i % 1000), timer(12.0)),
                6..=8 => (format!("app.queue{}", i % 1000), Value::Gauge { value: 21.5 }),
                _ => (format!("app.users{}", i % 1000), Value::Set { count: 3, members: vec![1, 2, 3] }),
            };
            let tags: Box<[Box<str>]> = vec![format!("shard:{}", i / 1000).into()].into();
            Series { key: Arc::new(SeriesKey { name: name.into(), tags, hash: i as u64 }), value }
        })
        .collect();
    Window {
        id: 1,
        start_ms: 0,
        end_ms: 10_000,
        hostname: "bench".into(),
        tags: Arc::new([]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn window() -> Window {
    let series = (0..SERIES)
        .map(|i| {
            let (name, value) = match i % 4 {
                0 | 1 => (format!("app.web{}.requests", i % 500), Value::Counter { sum: 1.0, rate: 0.1 }),
                2 => (format!("svc{}.db.select", i % 500), timer(12.0)),
                _ => (format!("host{}.temp", i % 500), Value::Gauge { value: 21.5 }),
            };
            let tags: Box<[Box<str>]> = vec![format!("shard:{}", i / 500).into()].into();
            Series { key: Arc::new(SeriesKey { name: name.into(), tags, hash: 0 }), value }
        })
        .collect();
    Window {
        id: 1,
        start_ms: 0,
        end_ms: 10_000,
        hostname: "bench".into(),
        tags: Arc::new([]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

/// 47 rules that never match, then three that map every series of the window.
fn rules() -> Vec<MappingRule> {
    #[derive(serde::Deserialize)]
    struct File {
        mappings: Vec<MappingRule>,
    }
    let mut text = String::new();
    for i in 0..47 {
        let _ = write!(text, "[[mappings]]\nmatch = \"other{i}.*.x\"\nname = \"other_{i}\"\n");
    }
    text.push_str("[[mappings]]\nmatch = \"app.*.requests\"\nname = \"app_requests\"\nlabels = { server = \"$1\" }\n");
    text.push_str(
        "[[mappings]]\nmatch = '(\\w+)\\.db\\.(select|insert)'\nmatch_type = \"regex\"\nname = \"db_seconds\"\n\
         labels = { service = \"$1\", op = \"$2\" }\nbuckets = [0.005, 0.05, 0.5]\n",
    );
    text.push_str("[[mappings]]\nmatch = \"*.temp\"\nname = \"temperature\"\nlabels = { host = \"$1\" }\n");
    toml::from_str::<File>(&text).unwrap().mappings
}

fn backend(mappings: Mappings, dir: &std::path::Path) -> Pushgateway {
    let mut config = PushgatewayConfig::new("http://127.0.0.1:9");
    config.format = Format::Text;
    let context = Context {
        client: backends::delivery::http::client().unwrap(),
        data_dir: dir.to_owned(),
        hostname: "bench".to_owned(),
        mappings: Arc::new(mappings),
    };
    Pushgateway::new("bench", &config, context).unwrap()
}

fn encode(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let window = window();
    let mut group = c.benchmark_group("prometheus_encode_10k_series");
    let rules = rules();
    assert_eq!(rules.len(), 50);
    for (label, mappings) in [("0_rules", Mappings::none()), ("50_rules_cached", Mappings::compile(&rules).unwrap())] {
        let mut pgw = backend(mappings, dir.path());
        pgw.encode(&window).unwrap();
        group.bench_function(label, |b| b.iter(|| black_box(pgw.encode(black_box(&window)).unwrap())));
    }
    group.finish();
}

/// One scrape endpoint window of 100 000 series: what its delivery task does once per window
/// before the listener serves the result (both formats rendered).
fn scrape(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let _entered = runtime.enter();
    let config = PrometheusExporterConfig::new("127.0.0.1:0".parse().unwrap());
    let mut exporter = PrometheusExporter::new("bench", &config, dir.path(), Arc::new(Mappings::none())).unwrap();
    let window = scrape_window();
    let first = exporter.encode(&window).unwrap();
    assert_eq!(first[0].series, SCRAPE_SERIES as u64, "every series rendered");
    let bytes = first[0].payload.text.len() + first[0].payload.openmetrics.len();
    eprintln!("scrape render of {SCRAPE_SERIES} series: {bytes} bytes in both formats");
    let mut group = c.benchmark_group("prometheus_exporter_render_100k_series");
    group.sample_size(10);
    group
        .bench_function("text_and_openmetrics", |b| b.iter(|| black_box(exporter.encode(black_box(&window)).unwrap())));
    group.finish();
}

criterion_group!(benches, encode, scrape);
criterion_main!(benches);
