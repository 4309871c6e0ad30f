//! The shared Prometheus encoder with mapping rules: one Pushgateway window of 10 000 series
//! (cumulative state advanced, families built, text written), with no rules and with 50 rules
//! whose results are cached after the first window.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use backends::prometheus::{MappingRule, Mappings};
use backends::pushgateway::{Context, Format, Pushgateway, PushgatewayConfig};
use backends::{Backend, Series, SeriesKey, Sketch, Summary, SummaryKind, Value, Window};
use criterion::{Criterion, criterion_group, criterion_main};

const SERIES: usize = 10_000;

fn window() -> Window {
    let series = (0..SERIES)
        .map(|i| {
            let (name, value) = match i % 4 {
                0 | 1 => (format!("app.web{}.requests", i % 500), Value::Counter { sum: 1.0, rate: 0.1 }),
                2 => (format!("svc{}.db.select", i % 500), {
                    let mut sketch = Sketch::new();
                    sketch.add(12.0, 1.0);
                    Value::Summary(Box::new(Summary {
                        kind: SummaryKind::Timer,
                        count: 1.0,
                        sum: 12.0,
                        min: 12.0,
                        max: 12.0,
                        percentiles: Vec::new(),
                        buckets: Vec::new(),
                        sketch,
                    }))
                }),
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

criterion_group!(benches, encode);
criterion_main!(benches);
