//! The StatsD backend against a real Etsy StatsD 0.9: what Etsy adds up equals what the
//! windows carried, and windows sent during an Etsy outage arrive after its restart.

use crate::common;
use crate::fixtures::key;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use backends::delivery::{BufferConfig, RetryConfig};
use backends::statsd::{Statsd, StatsdSinkConfig, TagFormat};
use backends::units::Duration as Human;
use backends::{Backend, Series, Sketch, Summary, SummaryKind, Value, Window};
use common::etsy::{Etsy, Totals};

fn counter(name: &str, tags: &[&str], sum: f64) -> Series {
    Series { key: key(name, tags), value: Value::Counter { sum, rate: sum / 10.0 } }
}

fn gauge(name: &str, value: f64) -> Series {
    Series { key: key(name, &[]), value: Value::Gauge { value } }
}

fn set(name: &str, members: &[u64]) -> Series {
    Series { key: key(name, &[]), value: Value::Set { count: members.len() as u64, members: members.to_vec() } }
}

/// A summary as the aggregator builds it from `(value, rate)` samples.
fn summary(name: &str, kind: SummaryKind, samples: &[(f64, f64)]) -> Series {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(v, rate) in samples {
        sketch.add(v, 1.0 / rate);
        count += 1.0 / rate;
        sum += v / rate;
        min = min.min(v);
        max = max.max(v);
    }
    let summary = Summary { kind, count, sum, min, max, percentiles: Vec::new(), buckets: Vec::new(), sketch };
    Series { key: key(name, &[]), value: Value::Summary(Box::new(summary)) }
}

/// Window `id`, the `id`-th ten seconds since the epoch, agent tag `env:test`.
fn window(id: u64, series: Vec<Series>) -> Arc<Window> {
    crate::fixtures::window(id, (id + 1) * 10_000, series)
}

fn sink(etsy: &Etsy) -> StatsdSinkConfig {
    StatsdSinkConfig {
        address: Some(etsy.addr),
        unix: None,
        transport: None,
        // Unpaced: these windows are 10 s long but carry a handful of datagrams.
        pace: 0.0,
        tag_format: TagFormat::Dogstatsd,
        max_datagram_bytes: None,
        max_samples_per_series: 64,
        pack_values: false,
        summaries_as_timers: true,
        buffer: BufferConfig::default(),
        retry: RetryConfig {
            initial_backoff: Human(Duration::from_millis(50)),
            max_backoff: Human(Duration::from_millis(200)),
            ..RetryConfig::default()
        },
    }
}

/// 1000 samples of 1..=100 ms, each sent at rate 0.1: a count of 10 000.
fn bulk() -> Vec<(f64, f64)> {
    (0..1000).map(|i| (f64::from(i % 100 + 1), 0.1)).collect()
}

/// Five samples at rate 0.3: a fractional count.
fn fractional() -> Vec<(f64, f64)> {
    [2.0, 4.0, 6.0, 8.0, 10.0].map(|v| (v, 0.3)).to_vec()
}

fn fractional_count() -> f64 {
    (0..5).fold(0.0, |total, _| total + 1.0 / 0.3)
}

/// Counter sums, last gauges, timer counts, exact unsampled timer sums, timer bounds and set
/// members forwarded over UDP add up in Etsy StatsD exactly to what the windows carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etsy_totals_equal_the_forwarded_windows() {
    let etsy = Etsy::start();
    let mut backend = Statsd::new(&sink(&etsy)).unwrap();
    let windows = [
        window(
            1,
            vec![
                counter("fwd.hits", &["route:/api"], 30.0),
                counter("fwd.sampled", &[], 2.5),
                counter("fwd.balance", &[], -4.5),
                gauge("fwd.temp", -5.0),
                set("fwd.users", &[1, 2, 3]),
                summary("fwd.latency", SummaryKind::Timer, &[(10.0, 1.0), (20.0, 1.0), (30.0, 1.0)]),
            ],
        ),
        window(
            2,
            vec![
                counter("fwd.hits", &["route:/api"], 12.0),
                counter("fwd.sampled", &[], 2.5),
                gauge("fwd.temp", 7.0),
                set("fwd.users", &[3, 4]),
                summary("fwd.bulk", SummaryKind::Timer, &bulk()),
                summary("fwd.size", SummaryKind::Histogram, &fractional()),
            ],
        ),
        window(3, vec![counter("fwd.balance", &[], 1.0), gauge("fwd.temp", -3.0)]),
    ];
    for w in &windows {
        for batch in backend.encode(w).unwrap() {
            backend.send(&batch.payload).await.unwrap();
        }
    }
    let totals = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| {
            t.counters.len() == 3 && t.gauges.get("fwd.temp;env=test") == Some(&-3.0)
        })
    });
    let expected = Totals {
        counters: [
            ("fwd.hits;env=test;route=-api", 42.0),
            ("fwd.sampled;env=test", 5.0),
            ("fwd.balance;env=test", -3.5),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        gauges: [("fwd.temp;env=test".to_owned(), -3.0)].into(),
        timer_counts: [
            ("fwd.latency;env=test", 3.0),
            ("fwd.bulk;env=test", 10_000.0),
            ("fwd.size;env=test", fractional_count()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        timer_sums: totals.timer_sums.clone(),
        timer_bounds: [
            ("fwd.latency;env=test", (10.0, 30.0)),
            ("fwd.bulk;env=test", (1.0, 100.0)),
            ("fwd.size;env=test", (2.0, 10.0)),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        sets: [("fwd.users;env=test".to_owned(), ["1", "2", "3", "4"].map(str::to_owned).into())].into(),
    };
    assert_eq!(totals, expected);
    // Unsampled timers arrive as one line per sample: Etsy's unweighted sum is exact too.
    assert_eq!(totals.timer_sums["fwd.latency;env=test"], 60.0);
    assert_eq!(fractional_count(), 16.666_666_666_666_668);
}

/// With Etsy StatsD stopped the sender sees "connection refused" on every datagram and the
/// delivery task retries; after a restart on the same port every buffered window arrives and
/// the totals are exact: nothing lost at the outage's first datagram, nothing sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_sent_during_an_etsy_outage_arrive_after_its_restart() {
    let mut etsy = Etsy::start();
    let config = sink(&etsy);
    let backend = Statsd::new(&config).unwrap();
    let delivery = backends::delivery::spawn("upstream", backend, &config.buffer, &config.retry);
    let push = |id: u64, series: Vec<Series>| delivery.queue.push(window(id, series));

    push(1, vec![counter("out.hits", &[], 10.0), gauge("out.level", 4.0), set("out.users", &[1])]);
    let before = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| t.counters.get("out.hits;env=test") == Some(&10.0))
    });
    assert_eq!(before.counters["out.hits;env=test"], 10.0);

    tokio::task::block_in_place(|| etsy.stop());
    push(
        2,
        vec![counter("out.hits", &[], 20.0), summary("out.t", SummaryKind::Timer, &bulk()), set("out.users", &[2])],
    );
    push(3, vec![counter("out.hits", &[], 30.0), gauge("out.level", -2.0), set("out.users", &[3])]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refused = delivery.stats.errors_retriable.load(Relaxed);
    assert!(refused >= 2, "retriable errors while Etsy was down: {refused}");
    assert_eq!(delivery.stats.status().last_error.as_deref(), Some("I/O error: Connection refused (os error 111)"));
    assert_eq!(delivery.queue.len(), 2);

    tokio::task::block_in_place(|| etsy.restart());
    let after = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| t.counters.get("out.hits;env=test") == Some(&60.0))
    });
    assert_eq!(after.counters["out.hits;env=test"], 60.0);
    assert_eq!(after.gauges["out.level;env=test"], -2.0);
    assert_eq!(after.timer_counts["out.t;env=test"], 10_000.0);
    assert_eq!(after.timer_bounds["out.t;env=test"], (1.0, 100.0));
    assert_eq!(after.sets["out.users;env=test"], ["1", "2", "3"].map(str::to_owned).into());
    assert_eq!(delivery.stats.sent_windows.load(Relaxed), 3);
    assert_eq!(delivery.finish(Duration::from_secs(5)).await, 0);
}
