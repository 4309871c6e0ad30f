//! Cumulative points to per-window deltas: continuations, resets, baselines, order, limits.

use std::sync::Arc;

use backends::Buckets;

use super::*;
use crate::sources::otlp::RejectReason;
use crate::sources::otlp::cumulative::{Last, Stamp, Step};
use crate::sources::otlp::exponential::{Totals, midpoint};

/// `points` of one cumulative monotonic sum `c`, one request each: what each added.
fn counter_steps(state: &mut Cumulative, points: &[(u64, u64, f64)]) -> Vec<Vec<SampleValue>> {
    points
        .iter()
        .map(|&(start, time, value)| {
            values(&run(state, &request(&[], vec![sum("c", true, true, vec![double(&[], start, time, value)])])))
        })
        .collect()
}

/// A cumulative sum adds its increase per point; a changed start time or a decrease is a
/// reset whose new value counts from zero; a series that began after the receiver counts its
/// first point in full.
#[test]
fn cumulative_sums_become_deltas_across_resets() {
    let mut state = state();
    let c = SampleValue::Counter;
    let steps = counter_steps(
        &mut state,
        &[
            (STARTED, 10, 5.0),     // began after the receiver: 5 in full
            (STARTED, 20, 12.0),    // +7
            (STARTED, 30, 12.0),    // +0
            (STARTED + 5, 40, 3.0), // a new start time: the process restarted, 3 since
            (STARTED + 5, 50, 1.0), // went down: a reset, 1 since
            (STARTED + 5, 60, 4.5), // +3.5
        ],
    );
    assert_eq!(steps, [vec![c(5.0)], vec![c(7.0)], vec![c(0.0)], vec![c(3.0)], vec![c(1.0)], vec![c(3.5)]]);
}

/// The first point of a series that began before the receiver started, or that does not say
/// when it began, only sets the baseline: what it counted before belongs to no window.
#[test]
fn a_series_older_than_the_receiver_starts_from_a_baseline() {
    let mut state = state();
    let steps = counter_steps(&mut state, &[(STARTED - 1, 10, 500.0), (STARTED - 1, 20, 503.0)]);
    assert_eq!(steps, [vec![], vec![SampleValue::Counter(3.0)]]);
    let mut state = super::state();
    let converted = run(&mut state, &request(&[], vec![sum("c", true, true, vec![double(&[], 0, 10, 7.0)])]));
    assert_eq!((converted.samples.len(), converted.baselines), (0, 1));
}

/// A point older than the last one of its series is refused (and counted): comparing it would
/// make a negative or doubled increase. The series then continues from the newest point.
#[test]
fn an_out_of_order_cumulative_point_is_refused() {
    let mut state = state();
    counter_steps(&mut state, &[(STARTED, 20, 10.0)]);
    let late = run(&mut state, &request(&[], vec![sum("c", true, true, vec![double(&[], STARTED, 15, 8.0)])]));
    assert!(late.samples.is_empty());
    assert_eq!(late.rejected.0[RejectReason::OutOfOrder.index()], 1);
    assert_eq!(counter_steps(&mut state, &[(STARTED, 30, 11.0)]), [vec![SampleValue::Counter(1.0)]]);
}

/// A NaN total is refused before it reaches the state: the baseline stays, and the next good
/// point adds its increase over the last good one.
#[test]
fn a_nan_total_is_refused_and_leaves_the_baseline_untouched() {
    let mut state = state();
    counter_steps(&mut state, &[(STARTED, 10, 4.0)]);
    let nan = run(&mut state, &request(&[], vec![sum("c", true, true, vec![double(&[], STARTED, 20, f64::NAN)])]));
    assert_eq!(nan.rejected.0[RejectReason::NotFinite.index()], 1);
    assert_eq!(counter_steps(&mut state, &[(STARTED, 30, 6.0)]), [vec![SampleValue::Counter(2.0)]]);
}

/// Series are told apart by every resource attribute, not only the kept ones: two instances
/// of a service have their own baselines, and their increases add up in one window series.
#[test]
fn instances_differing_only_in_a_dropped_attribute_keep_their_own_baselines() {
    let mut state = state();
    let export = |state: &mut Cumulative, instance: &str, time: u64, value: f64| {
        let resource = [("service.name", "shop"), ("service.instance.id", instance)];
        run(state, &request(&resource, vec![sum("c", true, true, vec![double(&[], STARTED, time, value)])]))
    };
    export(&mut state, "a", 10, 100.0);
    export(&mut state, "b", 10, 7.0);
    let a = export(&mut state, "a", 20, 101.0);
    let b = export(&mut state, "b", 20, 9.0);
    assert_eq!((values(&a), values(&b)), (vec![SampleValue::Counter(1.0)], vec![SampleValue::Counter(2.0)]));
    assert_eq!(a.samples[0].tags().collect::<Vec<_>>(), b.samples[0].tags().collect::<Vec<_>>());
    assert_eq!(state.len(), 2);
}

/// A cumulative explicit-bucket histogram adds per bucket what each point counts beyond the
/// last; a bucket that went down or new bounds are a reset (counted from zero, min and max
/// then known).
#[test]
fn cumulative_histograms_become_bucket_deltas_and_new_bounds_reset_them() {
    let mut state = state();
    let mut step = |time: u64, bounds: &[f64], counts: &[u64], sum: f64, min_max: Option<(f64, f64)>| {
        let mut point = buckets(STARTED, time, bounds, counts, sum);
        (point.min, point.max) = min_max.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        values(&run(&mut state, &request(&[], vec![histogram("h", true, vec![point])])))
    };
    let delta = |bounds: &[f64], counts: &[u64], sum: f64, min: Option<f64>, max: Option<f64>| {
        vec![SampleValue::Buckets(Box::new(Buckets {
            bounds: Arc::from(bounds),
            counts: counts.to_vec(),
            sum,
            min,
            max,
        }))]
    };
    let b = [1.0, 10.0];
    assert_eq!(step(10, &b, &[1, 2, 0], 9.0, Some((0.5, 4.0))), delta(&b, &[1, 2, 0], 9.0, Some(0.5), Some(4.0)));
    assert_eq!(step(20, &b, &[1, 5, 2], 70.0, Some((0.5, 30.0))), delta(&b, &[0, 3, 2], 61.0, None, None));
    assert_eq!(step(30, &b, &[0, 1, 0], 2.0, Some((2.0, 2.0))), delta(&b, &[0, 1, 0], 2.0, Some(2.0), Some(2.0)));
    let n = [2.0, 10.0];
    assert_eq!(step(40, &n, &[2, 1, 0], 5.0, None), delta(&n, &[2, 1, 0], 5.0, None, None), "new bounds: a reset");
    assert_eq!(step(50, &n, &[3, 1, 0], 6.5, None), delta(&n, &[1, 0, 0], 1.5, None, None));
}

/// Exponential totals: bucket `i` at scale `s` lowered by `k` steps lands in `i >> k`, so a
/// cumulative histogram whose SDK lowered the scale still yields exact per-bucket increases;
/// a higher scale or a bucket that went down is a reset.
#[test]
fn cumulative_exponential_histograms_follow_a_lowered_scale() {
    let totals = |scale: i32, offset: i32, positive: &[u64], zero: u64, sum: f64| {
        Totals::of(&exponential_point(1, 1, scale, offset, positive, zero, sum)).unwrap()
    };
    // Scale 1: buckets -1..=2; scale 0 merges (-1, 0) → -1 and (1, 2) → 0, 1.
    let before = totals(1, -1, &[1, 2, 3, 4], 1, 10.0);
    let after = totals(0, -1, &[2, 5, 8], 2, 30.0);
    let since = after.since(&before).unwrap();
    assert_eq!((since.scale, since.zero, since.count, since.sum), (0, 1, 6, Some(20.0)));
    assert_eq!((since.positive.offset, since.positive.counts.as_slice()), (-1, [1, 0, 4].as_slice()));
    assert_eq!(before.since(&after), None, "a higher scale: a reset");
    assert_eq!(totals(1, -1, &[1, 1, 3, 4], 1, 10.0).since(&before), None, "a bucket went down: a reset");

    let mut state = state();
    let mut step = |time: u64, scale: i32, counts: &[u64]| {
        let point = exponential_point(STARTED, time, scale, 0, counts, 0, counts.iter().sum::<u64>() as f64);
        values(&run(&mut state, &request(&[], vec![exponential("e", true, vec![point])])))
    };
    assert_eq!(step(10, 1, &[2, 2]).len(), 1);
    let SampleValue::Weighted(w) = &step(20, 0, &[5, 1])[0] else { panic!() };
    // Scale 1's buckets 0 and 1 are scale 0's bucket 0: 4 before, 5 now; bucket 1: new.
    assert_eq!(w.values, [(midpoint(0, 0).unwrap(), 1.0), (midpoint(1, 0).unwrap(), 1.0)]);
    assert_eq!((w.count, w.sum), (2.0, 2.0));
    assert!(step(30, 0, &[5, 1]).is_empty(), "no new observations: no sample");
}

/// At most `max_series` cumulative series are kept: a point of one more is refused and
/// counted, the kept series continue; series not reported for `expire_after` are forgotten,
/// which makes room.
#[test]
fn the_cumulative_state_is_capped_and_forgets_idle_series() {
    let mut state = Cumulative::new(2, Duration::from_mins(1), STARTED);
    let t0 = Instant::now();
    let step = |state: &mut Cumulative, series: &str, time: u64, value: f64, now: Instant| {
        let request = request(&[], vec![sum(series, true, true, vec![double(&[], STARTED, time, value)])]);
        let filter = AttributeFilter::new(&AttributeRules::default());
        convert(&request, &filter, state, now)
    };
    step(&mut state, "a", 10, 1.0, t0);
    step(&mut state, "b", 10, 1.0, t0);
    let refused = step(&mut state, "c", 10, 1.0, t0);
    assert_eq!(refused.rejected.0[RejectReason::MaxSeries.index()], 1);
    assert_eq!(values(&step(&mut state, "a", 20, 3.0, t0 + Duration::from_secs(30))), [SampleValue::Counter(2.0)]);
    // b was last seen at t0: 61 s later it is forgotten, and c takes its place.
    let later = t0 + Duration::from_secs(61);
    assert_eq!(values(&step(&mut state, "c", 30, 4.0, later)), [SampleValue::Counter(4.0)]);
    assert_eq!(state.len(), 2);
}

/// The state's own rule, without a request around it: the stamp of a first point decides
/// between a baseline and a whole first value.
#[test]
fn a_first_point_counts_in_full_only_when_its_series_began_after_the_receiver() {
    let mut state = state();
    let now = Instant::now();
    let whole = |state: &mut Cumulative, key: &[u8], start: u64| {
        state.step(key, Stamp { start, time: start + 1 }, now, Last::Number(5.0), |_, _| None, |_| 5.0)
    };
    assert_eq!(whole(&mut state, b"a", STARTED), Step::Delta(5.0));
    assert_eq!(whole(&mut state, b"b", STARTED - 1), Step::Baseline);
    assert_eq!(whole(&mut state, b"c", 0), Step::Baseline);
}
