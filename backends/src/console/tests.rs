use std::sync::Arc;

use super::encode;
use crate::model::{Series, SeriesKey, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// The console prints one header and one sorted line per series with exact values.
#[test]
fn console_prints_every_series_sorted_with_exact_values() {
    let window = Window {
        id: 7,
        start_ms: 1_000,
        end_ms: 11_000,
        hostname: "web-1".into(),
        tags: Arc::new([]),
        series: vec![
            Series {
                key: key("b.latency", &[]),
                value: Value::Summary(Box::new(Summary {
                    kind: SummaryKind::Timer,
                    count: 3.0,
                    sum: 60.0,
                    min: 10.0,
                    max: 30.0,
                    percentiles: vec![(50.0, 20.0)],
                    buckets: Vec::new(),
                    sketch: Sketch::new(),
                })),
            },
            Series { key: key("a.hits", &["route:/", "env:prod"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("c.temp", &[]), value: Value::Gauge { value: -1.5 } },
            Series { key: key("d.users", &[]), value: Value::Set { count: 2, members: vec![1, 2] } },
        ],
        events: Vec::new(),
        service_checks: Vec::new(),
    };
    assert_eq!(
        encode(&window),
        "window 7 [1.000, 11.000) host=web-1 series=4 events=0 service_checks=0\n\
         \x20 counter a.hits{route:/,env:prod} sum=30 rate=3\n\
         \x20 timer   b.latency count=3 sum=60 min=10 max=30 mean=20 p50=20\n\
         \x20 gauge   c.temp value=-1.5\n\
         \x20 set     d.users count=2\n"
    );
}

/// An explicit-bucket histogram over bounds 0.1 and 0.25: 3, 1 and 2 observations per
/// bucket (the last above 0.25), summing to 1.5, with or without the client's extremes.
fn explicit_buckets(extremes: Option<(f64, f64)>) -> Value {
    Value::Buckets(Box::new(crate::model::Buckets {
        bounds: Arc::from(&[0.1, 0.25][..]),
        counts: vec![3, 1, 2],
        sum: 1.5,
        min: extremes.map(|e| e.0),
        max: extremes.map(|e| e.1),
    }))
}

/// An explicit-bucket histogram prints its count, sum, mean, the client's extremes and its
/// buckets cumulatively.
#[test]
fn console_prints_explicit_buckets_cumulatively() {
    let window = Window {
        id: 7,
        start_ms: 1_000,
        end_ms: 11_000,
        hostname: "web-1".into(),
        tags: Arc::new([]),
        series: vec![Series { key: key("rpc.seconds", &[]), value: explicit_buckets(Some((0.05, 0.9))) }],
        events: Vec::new(),
        service_checks: Vec::new(),
    };
    assert!(
        encode(&window)
            .ends_with("  buckets rpc.seconds count=6 sum=1.5 mean=0.25 min=0.05 max=0.9 le0.1=3 le0.25=4\n"),
        "{}",
        encode(&window)
    );
}
