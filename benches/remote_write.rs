//! Remote write encoding: one window of 100,000 series (half counters, half gauges, three
//! tags each) through the whole encode stage — cumulative totals, Prometheus families, time
//! series with sorted labels, stale tracking, batches of 2000 samples, prost and snappy.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use backends::prometheus::Context;
use backends::prometheus::Mappings;
use backends::remote_write::{RemoteWrite, RemoteWriteConfig};
use backends::{Backend, Series, SeriesKey, Value, Window};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SERIES: usize = 100_000;

fn window() -> Window {
    let end_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let series = (0..SERIES)
        .map(|i| {
            let tags: Box<[Box<str>]> =
                [format!("code:{}", 200 + i % 5), format!("route:/api/v{}", i % 97), format!("shard:{i}")]
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect();
            let key =
                Arc::new(SeriesKey { name: format!("app.service{}.requests", i % 50).into(), tags, hash: i as u64 });
            let value =
                if i % 2 == 0 { Value::Counter { sum: 3.0, rate: 0.3 } } else { Value::Gauge { value: i as f64 } };
            Series { key, value }
        })
        .collect();
    Window {
        id: 1,
        start_ms: end_ms - 10_000,
        end_ms,
        hostname: "bench".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn encode(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let context = Context {
        client: backends::delivery::http::client().unwrap(),
        data_dir: dir.path().to_owned(),
        hostname: "bench".to_owned(),
        mappings: Arc::new(Mappings::none()),
    };
    let mut sink =
        RemoteWrite::new("bench", &RemoteWriteConfig::new("http://127.0.0.1:9/api/v1/write"), context).unwrap();
    let window = window();
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.sample_size(10);
    group.bench_function("encode_compress_100k_series", |b| {
        b.iter(|| {
            let requests = sink.encode(black_box(&window)).unwrap();
            assert_eq!(requests.iter().map(|r| r.series).sum::<u64>(), SERIES as u64);
            requests
        });
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
