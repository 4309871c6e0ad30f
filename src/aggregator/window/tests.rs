use std::fmt::Write as _;
use std::sync::Arc;

use backends::{Summary, SummaryKind, Value, Window};

use super::alloc_counter::measure;
use super::key::member_hash;
use super::*;
use crate::sources::statsd::parser::ParseError;

fn settings() -> WindowSettings {
    WindowSettings {
        percentiles: vec![50.0, 90.0, 99.0],
        buckets: vec![100.0, 10.0],
        max_series: 1000,
        expire_after_windows: 3,
        hostname: Arc::from("web-1"),
        tags: Arc::from(vec![Box::from("env:prod")]),
    }
}

fn state() -> WindowState {
    WindowState::new(settings())
}

/// The only series of a window, by name.
fn series<'w>(window: &'w Window, name: &str) -> &'w Value {
    let found: Vec<_> = window.series.iter().filter(|s| &*s.key.name == name).collect();
    assert_eq!(found.len(), 1, "series {name} in {:?}", window.series);
    &found[0].value
}

fn counter(value: &Value) -> (f64, f64) {
    match value {
        Value::Counter { sum, rate } => (*sum, *rate),
        other => panic!("not a counter: {other:?}"),
    }
}

fn gauge(value: &Value) -> f64 {
    match value {
        Value::Gauge { value } => *value,
        other => panic!("not a gauge: {other:?}"),
    }
}

fn summary(value: &Value) -> &Summary {
    match value {
        Value::Summary(s) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

/// Each counter sample counts `value / rate`; the rate is the sum over the window's seconds.
#[test]
fn counter_sum_weights_each_sample_by_its_rate() {
    let mut w = state();
    w.ingest(b"hits:1|c|@0.1\nhits:2|c|@0.5\nhits:3|c\nhits:1:1|c|@0.25");
    let window = w.flush(0, 10_000);
    assert_eq!(counter(series(&window, "hits")), (25.0, 2.5));
}

/// A counter is a delta: it restarts from zero and is not emitted in a window without samples.
#[test]
fn counter_restarts_each_window_and_is_silent_when_idle() {
    let mut w = state();
    w.ingest(b"hits:5|c");
    assert_eq!(counter(series(&w.flush(0, 1000), "hits")), (5.0, 5.0));
    assert_eq!(w.flush(1000, 2000).series.len(), 0);
    w.ingest(b"hits:2|c");
    assert_eq!(counter(series(&w.flush(2000, 4000), "hits")), (2.0, 1.0));
}

/// Gauge deltas apply in arrival order, start from 0 on a new gauge and carry across windows.
#[test]
fn gauge_deltas_apply_in_arrival_order_across_windows() {
    let mut w = state();
    w.ingest(b"q:+5|g\nq:-2|g");
    assert_eq!(gauge(series(&w.flush(0, 1000), "q")), 3.0);
    w.ingest(b"q:10|g\nq:-4:+1|g");
    assert_eq!(gauge(series(&w.flush(1000, 2000), "q")), 7.0);
    w.ingest(b"q:+0.5|g|@0.1");
    assert_eq!(gauge(series(&w.flush(2000, 3000), "q")), 7.5);
    assert_eq!(gauge(series(&w.flush(3000, 4000), "q")), 7.5);
}

/// An idle gauge is re-emitted until it has been idle `expire_after_windows` windows, then removed.
#[test]
fn idle_gauge_is_reemitted_until_it_expires() {
    let mut w = state();
    w.ingest(b"q:42|g");
    for window in 1..=3 {
        assert_eq!(gauge(series(&w.flush(0, 1000), "q")), 42.0, "window {window}");
    }
    assert_eq!(w.series_count(), 1);
    assert_eq!(w.flush(0, 1000).series.len(), 0);
    assert_eq!(w.series_count(), 0);
    w.ingest(b"q:+1|g");
    assert_eq!(gauge(series(&w.flush(0, 1000), "q")), 1.0, "an expired gauge starts again from 0");
}

/// A set counts distinct members, and carries one hash per member.
#[test]
fn set_counts_distinct_members() {
    let mut w = state();
    w.ingest(b"users:alice|s\nusers:bob|s\nusers:alice|s\nusers:[::1]:80|s");
    let window = w.flush(0, 1000);
    let Value::Set { count, members } = series(&window, "users") else { panic!("not a set") };
    assert_eq!(*count, 3);
    let mut members = members.clone();
    members.sort_unstable();
    let mut want = vec![member_hash(b"alice"), member_hash(b"bob"), member_hash(b"[::1]:80")];
    want.sort_unstable();
    assert_eq!(members, want);
    w.ingest(b"users:carol|s");
    let window = w.flush(0, 1000);
    let Value::Set { count, .. } = series(&window, "users") else { panic!("not a set") };
    assert_eq!(*count, 1, "a set restarts each window");
}

/// Members beyond the per-window cap are dropped and counted under their own reason.
#[test]
fn set_members_beyond_the_cap_are_counted() {
    let mut w = state();
    let lines = (0..MAX_SET_MEMBERS + 10).map(|i| format!("u:{i}|s\n")).collect::<Vec<_>>().concat();
    w.ingest(lines.as_bytes());
    w.ingest(b"u:0|s");
    let window = w.flush(0, 1000);
    let Value::Set { count, .. } = series(&window, "u") else { panic!("not a set") };
    assert_eq!(*count, MAX_SET_MEMBERS as u64);
    assert_eq!(w.take_counts().dropped[DropReason::SetMembers.index()], 10);
}

/// A timer's count, sum, min, max, percentiles and buckets are exact or within the sketch's error.
#[test]
fn timer_summary_has_exact_stats_and_bounded_percentiles() {
    let mut w = state();
    let lines = (1..=1000).rev().map(|i| format!("lat:{i}|ms\n")).collect::<Vec<_>>().concat();
    w.ingest(lines.as_bytes());
    let window = w.flush(0, 1000);
    let s = summary(series(&window, "lat"));
    assert_eq!(s.kind, SummaryKind::Timer);
    assert_eq!((s.count, s.sum, s.min, s.max), (1000.0, 500_500.0, 1.0, 1000.0));
    assert_eq!(s.mean(), 500.5);
    assert_eq!(s.buckets, [(10.0, 10.0), (100.0, 100.0)]);
    assert_eq!(s.sketch.count(), 1000.0);
    let qs: Vec<f64> = s.percentiles.iter().map(|&(q, _)| q).collect();
    assert_eq!(qs, [50.0, 90.0, 99.0]);
    for &(q, got) in &s.percentiles {
        let truth = ((q / 100.0 * 1000.0).floor() + 1.0).min(1000.0);
        assert!((got - truth).abs() <= truth * backends::sketch::RELATIVE_ACCURACY, "p{q}: {got} vs {truth}");
    }
}

/// Timer samples weigh `1 / rate` in count, sum and buckets; min and max are the raw values.
#[test]
fn timer_samples_are_weighted_by_their_rate() {
    let mut w = state();
    w.ingest(b"t:5|ms|@0.5\nt:50|ms\nt:500:1000|ms|@0.25");
    let window = w.flush(0, 1000);
    let s = summary(series(&window, "t"));
    assert_eq!((s.count, s.sum, s.min, s.max), (11.0, 10.0 + 50.0 + 2000.0 + 4000.0, 5.0, 1000.0));
    assert_eq!(s.buckets, [(10.0, 2.0), (100.0, 3.0)]);
    assert_eq!(s.sketch.count(), 11.0);
}

/// Percentiles never leave `[min, max]`, even where the sketch's bin value would.
#[test]
fn percentiles_are_clamped_to_min_and_max() {
    let mut w = state();
    w.ingest(b"one:7.3|h");
    let window = w.flush(0, 1000);
    let s = summary(series(&window, "one"));
    assert_eq!(s.kind, SummaryKind::Histogram);
    assert_eq!(s.percentiles, [(50.0, 7.3), (90.0, 7.3), (99.0, 7.3)]);
}

/// A distribution carries its sketch, whose quantiles are within 1 % of the true values.
#[test]
fn distribution_carries_a_mergeable_sketch() {
    let mut w = state();
    let lines = (1..=10_000).map(|i| format!("d:{}|d\n", f64::from(i) * 0.37)).collect::<Vec<_>>().concat();
    w.ingest(lines.as_bytes());
    let window = w.flush(0, 1000);
    let s = summary(series(&window, "d"));
    assert_eq!(s.kind, SummaryKind::Distribution);
    assert_eq!(s.sketch.count(), 10_000.0);
    for q in [0.01, 0.25, 0.5, 0.75, 0.95, 0.999] {
        let truth = ((q * 10_000.0_f64).floor() + 1.0) * 0.37;
        let got = s.sketch.quantile(q).unwrap();
        assert!((got - truth).abs() <= truth * 0.01, "q{q}: {got} vs {truth}");
    }
}

/// A new series beyond `max_series` is refused, and each of its samples is counted.
#[test]
fn series_beyond_max_series_are_refused_and_counted() {
    let mut w = WindowState::new(WindowSettings { max_series: 2, ..settings() });
    w.ingest(b"a:1|c\nb:1|g\nc:1|c\nd:1:2:3|ms\na:1|c");
    assert_eq!(w.series_count(), 2);
    let counts = w.take_counts();
    assert_eq!(counts.dropped[DropReason::MaxSeries.index()], 4);
    assert_eq!(counts.lines, 5);
    let window = w.flush(0, 1000);
    assert_eq!(counter(series(&window, "a")), (2.0, 2.0));
    assert_eq!(window.series.len(), 2);
}

/// An expired series frees its slot under `max_series` for a new one.
#[test]
fn expiry_frees_a_slot_under_max_series() {
    let mut w = WindowState::new(WindowSettings { max_series: 1, expire_after_windows: 2, ..settings() });
    w.ingest(b"old:1|c");
    w.flush(0, 1000);
    w.ingest(b"new:1|c");
    assert_eq!(w.take_counts().dropped[DropReason::MaxSeries.index()], 1);
    w.flush(1000, 2000);
    assert_eq!(w.series_count(), 1, "idle for one window only");
    w.flush(2000, 3000);
    assert_eq!(w.series_count(), 0);
    w.ingest(b"new:1|c");
    assert_eq!(counter(series(&w.flush(3000, 4000), "new")), (1.0, 1.0));
    assert_eq!(w.take_counts().dropped, [0; DropReason::COUNT]);
}

/// The first type owns a series; a line of another type for the same key is refused and counted.
#[test]
fn a_second_type_for_one_series_is_refused() {
    let mut w = state();
    w.ingest(b"x:1|c\nx:5|g\nx:1:2|ms\nx:1|c|#t");
    assert_eq!(w.take_counts().dropped[DropReason::TypeConflict.index()], 3);
    let window = w.flush(0, 1000);
    assert_eq!(window.series.len(), 2, "x and x{{t}} are different series");
    assert!(window.series.iter().all(|s| matches!(s.value, Value::Counter { sum: 1.0, .. })));
}

/// Tags are identity after sorting and de-duplication; the key carries the sorted tags and hash.
#[test]
fn tag_order_and_duplicates_do_not_split_a_series() {
    let mut w = state();
    w.ingest(b"r:1|c|#b:2,a:1,b:2\nr:1|c|#a:1,b:2\nr:1|c|#,a:1,,b:2,");
    let window = w.flush(0, 1000);
    assert_eq!(window.series.len(), 1);
    let key = &window.series[0].key;
    assert_eq!(&*key.tags, [Box::from("a:1"), Box::from("b:2")]);
    assert_eq!(key.hash, series_hash("r", &["a:1", "b:2"]));
    assert_eq!(counter(&window.series[0].value).0, 3.0);
}

/// Windows are numbered from 1 and carry the agent's hostname and tags.
#[test]
fn windows_are_numbered_from_one_with_host_and_tags() {
    let mut w = state();
    let first = w.flush(5000, 15_000);
    let second = w.flush(15_000, 25_000);
    assert_eq!((first.id, second.id), (1, 2));
    assert_eq!((first.start_ms, first.end_ms), (5000, 15_000));
    assert_eq!(&*first.hostname, "web-1");
    assert_eq!(&*first.tags, [Box::from("env:prod")]);
}

/// Events and service checks are kept for their window, capped, and counted.
#[test]
fn events_and_service_checks_are_kept_and_capped() {
    let mut w = state();
    let events: String = (0..MAX_EVENTS_PER_WINDOW + 2).map(|_| "_e{2,2}:hi|yo\n").collect();
    w.ingest(events.as_bytes());
    w.ingest(b"_sc|db|1|m:slow\n_sc|db|0");
    let counts = w.take_counts();
    assert_eq!(counts.events, MAX_EVENTS_PER_WINDOW as u64 + 2);
    assert_eq!(counts.service_checks, 2);
    assert_eq!(counts.dropped[DropReason::Events.index()], 2);
    assert_eq!(counts.lines, MAX_EVENTS_PER_WINDOW as u64 + 4);
    let window = w.flush(0, 1000);
    assert_eq!(window.events.len(), MAX_EVENTS_PER_WINDOW);
    assert_eq!(window.events[0].title, "hi");
    assert_eq!(window.service_checks.iter().map(|c| c.status).collect::<Vec<_>>(), [1, 0]);
    assert_eq!(window.service_checks[0].message.as_deref(), Some("slow"));
    assert_eq!(w.flush(1000, 2000).events.len(), 0);
}

/// Malformed lines are counted by reason and skipped; the datagram's good lines still count.
#[test]
fn malformed_lines_are_counted_by_reason() {
    let mut w = state();
    let got = w.ingest(b"a:1|c\nbad\n:1|c\na:x|c\n\na:2|c\r\n");
    assert_eq!(got, DatagramCounts { lines: 5, errors: 3 });
    let counts = w.take_counts();
    assert_eq!(counts.lines, 2);
    assert_eq!(counts.parse_error_total(), 3);
    assert_eq!(counts.parse_errors[ParseError::MissingValue.index()], 1);
    assert_eq!(counts.parse_errors[ParseError::EmptyName.index()], 1);
    assert_eq!(counts.parse_errors[ParseError::BadValue.index()], 1);
    assert_eq!(w.take_counts(), IngestCounts::default(), "take resets");
    assert_eq!(counter(series(&w.flush(0, 1000), "a")).0, 3.0);
}

/// Drop reason labels are unique and `index` is the position in `ALL`.
#[test]
fn drop_reason_labels_are_unique_and_indexed() {
    for (i, reason) in DropReason::ALL.into_iter().enumerate() {
        assert_eq!(reason.index(), i);
        assert_eq!(DropReason::LABELS[i], reason.as_str());
    }
    let mut labels = DropReason::LABELS.to_vec();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), DropReason::COUNT);
}

/// Reconfiguring keeps every series and its value; new buckets count from then on.
#[test]
fn reconfigure_keeps_series() {
    let mut w = state();
    w.ingest(b"g:3|g\nt:5|ms");
    w.reconfigure(WindowSettings { buckets: vec![1.0, 6.0, 60.0], percentiles: vec![50.0], ..settings() });
    w.ingest(b"t:50|ms");
    let window = w.flush(0, 1000);
    assert_eq!(gauge(series(&window, "g")), 3.0);
    let s = summary(series(&window, "t"));
    assert_eq!((s.count, s.min, s.max), (2.0, 5.0, 50.0));
    assert_eq!(s.buckets, [(1.0, 0.0), (6.0, 0.0), (60.0, 1.0)]);
    assert_eq!(s.percentiles.len(), 1);
}

/// A line for a series already seen allocates nothing, whatever its tags, once a summary's
/// first samples have gone into its sketch.
#[test]
fn known_series_are_updated_without_allocating() {
    let mut w = state();
    let lines = b"req:1|c|#env:prod,host:a,zone:z\nreq:2|c|#zone:z,env:prod,host:a\nq:+1|g\nt:3:4|ms|@0.5|#x";
    for _ in 0..super::series::RAW_SAMPLES {
        w.ingest(lines);
    }
    let ((), _, allocations) = measure(|| {
        for _ in 0..100 {
            w.ingest(lines);
        }
    });
    assert_eq!(allocations, 0);
}

/// The heap bytes a fresh state holds per series after ingesting `datagrams`, which make
/// `series` series.
fn heap_bytes_per_series(datagrams: &[String], series: usize) -> f64 {
    let (w, bytes, _) = measure(|| {
        let mut w = WindowState::new(WindowSettings { max_series: series, ..settings() });
        for datagram in datagrams {
            w.ingest(datagram.as_bytes());
        }
        w
    });
    assert_eq!(w.series_count(), series);
    bytes as f64 / series as f64
}

/// A live counter series with a 20-byte name and two tags costs at most 300 bytes.
#[test]
fn a_live_counter_series_costs_at_most_300_bytes() {
    const SERIES: usize = 20_000;
    let lines: Vec<String> =
        (0..SERIES).map(|i| format!("app.requests.{i:08}:1|c|#env:production,shard:{:04}", i % 1000)).collect();
    let per_series = heap_bytes_per_series(&lines, SERIES);
    assert!(per_series <= 300.0, "{per_series} bytes per series");
}

/// A live timer series with ten samples spread over a factor of 8 (about 104 sketch bins)
/// costs at most 1 KiB: its samples are kept raw until the flush.
#[test]
fn a_live_timer_series_with_ten_samples_costs_at_most_1_kib() {
    const SERIES: usize = 10_000;
    let lines: Vec<String> = (0..SERIES)
        .map(|i| {
            let base = (i % 200 + 1) as f64;
            let mut lines = String::new();
            for f in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0] {
                writeln!(lines, "app.latency.{i:08}:{}|ms|#env:production,shard:{:04}", base * f, i % 1000).unwrap();
            }
            lines
        })
        .collect();
    let per_series = heap_bytes_per_series(&lines, SERIES);
    assert!(per_series <= 1024.0, "{per_series} bytes per series");
}

/// An explicit-bucket histogram sample over `bounds`.
fn bucket_sample(
    bounds: &[f64],
    counts: &[u64],
    sum: f64,
    extremes: Option<(f64, f64)>,
) -> crate::aggregator::input::Sample {
    let buckets = backends::Buckets {
        bounds: Arc::from(bounds),
        counts: counts.to_vec(),
        sum,
        min: extremes.map(|e| e.0),
        max: extremes.map(|e| e.1),
    };
    crate::aggregator::input::Sample::new(
        "rpc",
        &[("route", "/a")],
        crate::aggregator::input::SampleValue::Buckets(Box::new(buckets)),
    )
    .unwrap()
}

fn buckets(value: &Value) -> &backends::Buckets {
    match value {
        Value::Buckets(b) => b,
        other => panic!("not explicit buckets: {other:?}"),
    }
}

/// Explicit-bucket samples add up exactly per bucket within a window, extremes merge while
/// every sample reports them, and the next window starts from zero under the same bounds
/// (an idle histogram is silent, like a counter).
#[test]
fn explicit_buckets_add_up_exactly_per_window() {
    let mut w = state();
    w.insert_sample(&bucket_sample(&[0.1, 0.25], &[3, 1, 2], 1.5, Some((0.05, 0.9))));
    w.insert_sample(&bucket_sample(&[0.1, 0.25], &[0, 4, 0], 0.8, Some((0.15, 0.2))));
    let window = w.flush(0, 10_000);
    let b = buckets(series(&window, "rpc"));
    assert_eq!((&*b.bounds, &b.counts[..], b.sum), (&[0.1, 0.25][..], &[3, 5, 2][..], 2.3));
    assert_eq!((b.min, b.max), (Some(0.05), Some(0.9)));

    w.insert_sample(&bucket_sample(&[0.1, 0.25], &[1, 0, 0], 0.01, None));
    w.insert_sample(&bucket_sample(&[0.1, 0.25], &[1, 0, 0], 0.02, Some((0.02, 0.02))));
    let window = w.flush(10_000, 20_000);
    let b = buckets(series(&window, "rpc"));
    assert_eq!((&b.counts[..], b.min, b.max), (&[2, 0, 0][..], None, None), "one sample had no extremes");
    assert!(w.flush(20_000, 30_000).series.is_empty());
    assert_eq!(w.take_counts().rebucketed, 0);
}

/// When a client's bounds change inside a window, what the window held moves to the new
/// bucket that contains its old upper bound: count, sum and unchanged bounds stay exact,
/// and the change is counted.
#[test]
fn changed_bounds_within_a_window_move_observations_and_are_counted() {
    let mut w = state();
    w.insert_sample(&bucket_sample(&[1.0, 10.0], &[2, 3, 1], 40.0, None));
    w.insert_sample(&bucket_sample(&[1.0, 5.0, 10.0], &[1, 1, 1, 1], 20.0, None));
    let window = w.flush(0, 10_000);
    let b = buckets(series(&window, "rpc"));
    assert_eq!((&*b.bounds, &b.counts[..], b.sum), (&[1.0, 5.0, 10.0][..], &[3, 1, 4, 2][..], 60.0));
    assert_eq!(w.take_counts().rebucketed, 1);
}

/// Explicit buckets the window cannot add up are refused with the reason, before the window.
#[test]
fn malformed_explicit_buckets_are_refused() {
    use crate::aggregator::input::{Sample, SampleError, SampleValue};
    let make = |bounds: &[f64], counts: &[u64], sum: f64| {
        let buckets =
            backends::Buckets { bounds: Arc::from(bounds), counts: counts.to_vec(), sum, min: None, max: None };
        Sample::new("rpc", &[], SampleValue::Buckets(Box::new(buckets)))
    };
    let reason = |r: Result<Sample, SampleError>| match r {
        Err(SampleError::BadBuckets { reason, .. }) => reason,
        other => panic!("not refused as bad buckets: {other:?}"),
    };
    assert_eq!(reason(make(&[1.0], &[1], 0.0)), "not one more count than bounds");
    assert_eq!(reason(make(&[2.0, 1.0], &[1, 1, 1], 0.0)), "bounds not strictly increasing");
    assert_eq!(reason(make(&[1.0, 1.0], &[1, 1, 1], 0.0)), "bounds not strictly increasing");
    assert_eq!(reason(make(&[f64::NAN], &[1, 1], 0.0)), "a NaN or infinite bound");
    assert_eq!(reason(make(&(0..257).map(f64::from).collect::<Vec<_>>(), &[0; 258], 0.0)), "more than 256 bounds");
    assert!(matches!(make(&[1.0], &[1, 1], f64::INFINITY), Err(SampleError::NotFinite { .. })));
}

fn weighted_sample(values: &[(f64, f64)], sum: f64, min: f64, max: f64) -> crate::aggregator::input::Sample {
    let count = values.iter().map(|&(_, w)| w).sum();
    let weighted = crate::aggregator::input::Weighted { values: values.to_vec(), count, sum, min, max };
    crate::aggregator::input::Sample::new(
        "size",
        &[],
        crate::aggregator::input::SampleValue::Weighted(Box::new(weighted)),
    )
    .unwrap()
}

/// Weighted values (an exponential histogram's buckets) fold into a distribution: count, sum,
/// min and max exactly the client's, each value into the sketch and the configured buckets
/// with its weight; StatsD samples of the same series add to it.
#[test]
fn weighted_values_fold_into_a_distribution_with_exact_totals() {
    let mut w = state();
    w.insert_sample(&weighted_sample(&[(3.0, 5.0), (12.0, 2.0), (300.0, 1.0)], 51.5, 2.5, 290.0));
    w.insert_sample(
        &crate::aggregator::input::Sample::new("size", &[], crate::aggregator::input::SampleValue::Distribution(1.0))
            .unwrap(),
    );
    let window = w.flush(0, 10_000);
    let Value::Summary(s) = series(&window, "size") else { panic!("{window:?}") };
    assert_eq!((s.kind, s.count, s.sum, s.min, s.max), (SummaryKind::Distribution, 9.0, 52.5, 1.0, 290.0));
    assert_eq!(s.sketch.count(), 9.0);
    // Configured bounds 10 and 100: 1 + 5 at or below 10, 2 more at or below 100.
    assert_eq!(s.buckets, [(10.0, 6.0), (100.0, 8.0)]);
    let p50 = s.percentiles.iter().find(|(p, _)| *p == 50.0).unwrap().1;
    assert!((p50 - 3.0).abs() <= 0.03, "the median is the weight-5 value: {p50}");
}

/// Weighted values the window cannot add up are refused with the reason.
#[test]
fn malformed_weighted_values_are_refused() {
    use crate::aggregator::input::{Sample, SampleError, SampleValue, Weighted};
    let make = |values: &[(f64, f64)], count: f64, min: f64, max: f64| {
        let weighted = Weighted { values: values.to_vec(), count, sum: 1.0, min, max };
        Sample::new("size", &[], SampleValue::Weighted(Box::new(weighted)))
    };
    let reason = |r: Result<Sample, SampleError>| match r {
        Err(SampleError::BadBuckets { reason, .. }) => reason,
        other => panic!("not refused as bad buckets: {other:?}"),
    };
    assert_eq!(reason(make(&[(1.0, 0.0)], 0.0, 1.0, 1.0)), "a weight that is not positive");
    assert_eq!(reason(make(&[], 0.0, 1.0, 1.0)), "no observations");
    assert_eq!(reason(make(&[(1.0, 2.0)], 3.0, 1.0, 1.0)), "weights that do not add up to its count");
    assert_eq!(reason(make(&[(1.0, 2.0)], 2.0, 2.0, 1.0)), "a minimum above its maximum");
    assert!(matches!(make(&[(f64::NAN, 1.0)], 1.0, 1.0, 1.0), Err(SampleError::NotFinite { .. })));
}
