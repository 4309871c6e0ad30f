//! Alert rules: evaluating a window of 100,000 series against 20 rules, each matching 1,000
//! of them by name and a tag (the rules' task does this once per window, off the ingest
//! path), in its steady state where every alert already exists.

use std::hint::black_box;
use std::sync::Arc;

use backends::{Series, SeriesKey, Value, Window};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::alerting::eval::{Evaluator, Settings};
use sluice::alerting::{Rule, RuleConfig};

const SERIES: usize = 100_000;
const RULES: usize = 20;

fn window(n: u64) -> Window {
    let series = (0..SERIES)
        .map(|i| {
            let tags: Box<[Box<str>]> = [format!("route:/api/v{}", i % 97), format!("shard:{}", i % 5)]
                .into_iter()
                .map(String::into_boxed_str)
                .collect();
            let key =
                Arc::new(SeriesKey { name: format!("app.service{}.errors", i % 50).into(), tags, hash: i as u64 });
            Series { key, value: Value::Counter { sum: (i % 13) as f64, rate: (i % 13) as f64 / 10.0 } }
        })
        .collect();
    Window {
        id: n,
        start_ms: (n - 1) * 10_000,
        end_ms: n * 10_000,
        hostname: "bench".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn rules() -> Vec<Rule> {
    (0..RULES)
        .map(|i| {
            let text = format!(
                "metric = \"app.service{i}.errors\"\nwhere = {{ shard = \"{}\" }}\nvalue = \"rate\"\ncondition = \">\"\n\
                 threshold = 1.0\nfor = \"1m\"\nannotations = {{ summary = \"{{{{ labels.route }}}} at {{{{ value }}}}\" }}\n",
                i % 5
            );
            let config: RuleConfig = toml::from_str(&text).unwrap();
            Rule::compile(&format!("rule{i}"), &config).unwrap()
        })
        .collect()
}

fn evaluate(c: &mut Criterion) {
    let settings = Settings { window_ms: 10_000, resend_ms: 60_000, forget_ms: 60_000 };
    let mut evaluator = Evaluator::new(rules(), settings);
    let windows: Vec<Window> = (1..=2).map(window).collect();
    evaluator.evaluate(&windows[0]);
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.sample_size(20);
    // The same window again each time: every alert exists, as in the steady state.
    group.bench_function("evaluate_20_rules_over_100k_series", |b| {
        b.iter(|| black_box(evaluator.evaluate(black_box(&windows[1]))));
    });
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
