//! Ingest throughput: the parser alone (plain StatsD, DogStatsD with tags) and the window
//! state with 100k live series. Targets on one core: 10M plain lines/s, 3M tagged lines/s,
//! 5M window insertions/s.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::aggregator::window::{WindowSettings, WindowState};
use sluice::sources::statsd::parser::{Item, parse_datagram};

/// Lines per datagram, about what fits a 1432-byte UDP payload.
const LINES_PER_DATAGRAM: usize = 24;
const DATAGRAMS: usize = 512;

fn datagrams(line: impl Fn(usize) -> String) -> Vec<Vec<u8>> {
    (0..DATAGRAMS)
        .map(|d| {
            (0..LINES_PER_DATAGRAM).map(|l| line(d * LINES_PER_DATAGRAM + l) + "\n").collect::<String>().into_bytes()
        })
        .collect()
}

/// Parses every datagram and folds something of each item into the result, so nothing is
/// optimised away.
fn parse_all(datagrams: &[Vec<u8>]) -> f64 {
    let mut acc = 0.0;
    for d in datagrams {
        for item in parse_datagram(d) {
            if let Ok(Item::Metric(m)) = item {
                acc += m.values().sum::<f64>() + m.tag_count() as f64 + m.name.len() as f64;
            }
        }
    }
    acc
}

fn parser(c: &mut Criterion) {
    let kinds = ["c", "g", "ms", "h", "c", "ms"];
    let plain = datagrams(|i| format!("app.service{}.requests:{}|{}", i % 97, i % 1000, kinds[i % kinds.len()]));
    let tagged = datagrams(|i| {
        format!(
            "app.service{}.latency:{}.{}|ms|@0.5|#env:production,host:web-{},zone:eu-west-1a",
            i % 97,
            i % 1000,
            i % 10,
            i % 50
        )
    });
    let lines = (DATAGRAMS * LINES_PER_DATAGRAM) as u64;
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines));
    group.bench_function("plain_statsd", |b| b.iter(|| parse_all(black_box(&plain))));
    group.bench_function("dogstatsd_3_tags", |b| b.iter(|| parse_all(black_box(&tagged))));
    group.finish();
}

fn window(c: &mut Criterion) {
    const SERIES: usize = 100_000;
    let settings = WindowSettings {
        percentiles: vec![50.0, 90.0, 95.0, 99.0],
        buckets: vec![],
        max_series: 200_000,
        expire_after_windows: 1_000_000,
        hostname: Arc::from("bench"),
        tags: Arc::from(Vec::new()),
    };
    // 100k counter series with tags, visited in a scrambled order so lookups miss the cache
    // as they would with many clients.
    let order: Vec<usize> = (0..SERIES).map(|i| i * 48_271 % SERIES).collect();
    let datagrams: Vec<Vec<u8>> = order
        .chunks(LINES_PER_DATAGRAM)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| format!("app.requests.{i}:1|c|#env:production,shard:{}\n", i % 64))
                .collect::<Vec<_>>()
                .concat()
                .into_bytes()
        })
        .collect();
    let lines = SERIES as u64;
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(lines));
    // Series created in the order they are then visited, as when clients repeat their metrics
    // in a stable order every interval (the common case), and created in another order (the
    // worst case: every lookup touches cold series memory).
    for (bench, created_in_visit_order) in [("insert_100k_live_series", true), ("insert_100k_live_series_cold", false)]
    {
        let mut state = WindowState::new(settings.clone());
        if created_in_visit_order {
            for d in &datagrams {
                state.ingest(d);
            }
        } else {
            for i in 0..SERIES {
                state.ingest(format!("app.requests.{i}:1|c|#env:production,shard:{}", i % 64).as_bytes());
            }
        }
        assert_eq!(state.series_count(), SERIES);
        group.bench_function(bench, |b| {
            b.iter(|| {
                for d in &datagrams {
                    black_box(state.ingest(black_box(d)));
                }
            });
        });
        let window = state.flush(0, 10_000);
        assert_eq!(window.series.len(), SERIES);
    }
    group.finish();
}

criterion_group!(benches, parser, window);
criterion_main!(benches);
