//! The scrape source's parse and conversion of one read: a 10 000-series exposition in the
//! Prometheus text format (6000 labelled counters, 3000 gauges, 100 histograms of 10 bounds),
//! converted against the state its previous read left, as every read after the first is.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::sources::otlp::Cumulative;
use sluice::sources::scrape::{Context, Format, convert};

const COUNTERS: usize = 6000;
const GAUGES: usize = 3000;
const HISTOGRAMS: usize = 100;
const BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The exposition and its number of series (a histogram is one).
fn exposition() -> (Vec<u8>, usize) {
    let mut body = String::new();
    body += "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n";
    for i in 0..COUNTERS {
        let _ =
            writeln!(body, "http_requests_total{{route=\"/api/v1/r{}\",code=\"{}\"}} {}", i / 3, 200 + i % 3, i * 7);
    }
    body += "# HELP queue_depth Items.\n# TYPE queue_depth gauge\n";
    for i in 0..GAUGES {
        let _ = writeln!(body, "queue_depth{{queue=\"q{i}\"}} {}.5", i % 100);
    }
    body += "# HELP latency_seconds Latency.\n# TYPE latency_seconds histogram\n";
    for h in 0..HISTOGRAMS {
        for (b, le) in BOUNDS.iter().enumerate() {
            let _ = writeln!(body, "latency_seconds_bucket{{route=\"r{h}\",le=\"{le}\"}} {}", (b + 1) * 10);
        }
        let _ = writeln!(body, "latency_seconds_bucket{{route=\"r{h}\",le=\"+Inf\"}} 120");
        let _ =
            writeln!(body, "latency_seconds_sum{{route=\"r{h}\"}} 53.25\nlatency_seconds_count{{route=\"r{h}\"}} 120");
    }
    (body.into_bytes(), COUNTERS + GAUGES + HISTOGRAMS)
}

fn scrape(c: &mut Criterion) {
    let (body, series) = exposition();
    let mut state = Cumulative::new(100_000, Duration::from_mins(10), 0);
    let mut time = 0;
    let mut read = |state: &mut Cumulative, body: &[u8], known: bool| {
        time += 1;
        let context = Context { job: "app", instance: "127.0.0.1:9100", known, started: 0, time, now: Instant::now() };
        convert(body, Format::Text, &context, state)
    };
    let first = read(&mut state, &body, false);
    assert_eq!(first.baselines as usize, COUNTERS + HISTOGRAMS, "every cumulative series is a baseline");
    let mut group = c.benchmark_group("scrape");
    group.throughput(Throughput::Elements(series as u64));
    group.bench_function("parse_and_convert_10k_series", |b| {
        b.iter(|| {
            let converted = read(&mut state, black_box(&body), true);
            assert_eq!(converted.samples.len(), series);
            converted.samples.len()
        });
    });
    group.finish();
}

criterion_group!(benches, scrape);
criterion_main!(benches);
