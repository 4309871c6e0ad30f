//! The encoder's `Values`/`Counts` read back as CloudWatch (and moto) reads them.
//!
//! "Exact" is checked against the true sum computed in integers (samples are whole
//! thousandths, weights whole numbers), with a tolerance of `10⁻¹² · Σ w·|v|`: the rounding any
//! `f64` summation carries (moto adds each value `count` times in order, about `n·1.1e-16`
//! relative at worst), invisible in the digits an operator reads, and 10¹⁰ times finer than
//! the 1 % the sketch's representatives alone were off by.

use proptest::prelude::*;

use super::summary_measure;
use crate::cloudwatch::encode::{MAX_DISTINCT_VALUES, Measure, number};
use crate::model::{Summary, SummaryKind};
use crate::sketch::{RELATIVE_ACCURACY, Sketch};

const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
/// How far a percentile may be from the true one, relative: the width of one bin (`γ − 1`),
/// plus the bounds' widening for float error.
const BIN_WIDTH: f64 = GAMMA - 1.0 + 1e-8;
/// How far a percentile in the zero bin may be from the true one, absolute.
const ZERO_BIN_WIDTH: f64 = 2e-9;
/// The tolerance on `Sum`, relative to `Σ w·|v|` (see the module comment).
const SUM_TOLERANCE: f64 = 1e-12;

/// A sample of `thousandths / 1000` with sample rate `rate`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    thousandths: i64,
    rate: f64,
}

impl Sample {
    fn value(self) -> f64 {
        self.thousandths as f64 / 1000.0
    }

    fn weight(self) -> f64 {
        1.0 / self.rate
    }
}

fn samples(pairs: &[(f64, f64)]) -> Vec<Sample> {
    pairs.iter().map(|&(v, rate)| Sample { thousandths: (v * 1000.0).round() as i64, rate }).collect()
}

/// The summary the aggregator builds from `samples` (the same float operations, in order).
fn summary(samples: &[Sample]) -> Summary {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for s in samples {
        let (value, rate) = (s.value(), s.rate);
        count += 1.0 / rate;
        sum += value / rate;
        min = min.min(value);
        max = max.max(value);
        sketch.add(value, 1.0 / rate);
    }
    Summary { kind: SummaryKind::Timer, count, sum, min, max, percentiles: Vec::new(), buckets: Vec::new(), sketch }
}

/// `SampleCount`, `Sum`, `Minimum`, `Maximum` as moto computes them from a datum: each value
/// added `count` times in the order sent (a fractional count as `count · value`).
fn read_back(measure: &Measure) -> (f64, f64, f64, f64) {
    match measure {
        Measure::Values { values, counts } => {
            let (mut count, mut sum) = (0.0, 0.0);
            for (&v, &c) in values.iter().zip(counts) {
                count += c;
                if c.fract() == 0.0 && c < 1e6 {
                    for _ in 0..c as u32 {
                        sum += v;
                    }
                } else {
                    sum += c * v;
                }
            }
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (count, sum, min, max)
        }
        Measure::Statistics { count, sum, min, max } => (*count, *sum, *min, *max),
        Measure::Value(v) => (1.0, *v, *v, *v),
    }
}

/// The true count (exact for whole weights) and sum (from integers), and `Σ w·|v|`.
fn truth(samples: &[Sample]) -> (f64, f64, f64) {
    let count: f64 = samples.iter().map(|s| s.weight()).sum();
    let thousandths: i128 = samples.iter().map(|s| i128::from(s.thousandths) * s.weight() as i128).sum();
    let magnitude: f64 = samples.iter().map(|s| s.weight() * s.value().abs()).sum();
    (count, thousandths as f64 / 1000.0, magnitude)
}

/// The weighted value at quantile `q` by the sketch's rank rule: the first whose cumulative
/// weight exceeds `q · count`, else the last.
fn quantile(pairs: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut seen = 0.0;
    for &(value, weight) in pairs {
        seen += weight;
        if seen > q * total {
            return value;
        }
    }
    pairs.last().unwrap().0
}

const QUANTILES: [f64; 11] = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0];

/// The largest relative error of a percentile of the sent values against the true samples'
/// (absolute within the zero bin), or a message naming the first beyond the bin width.
fn percentile_error(samples: &[Sample], values: &[f64], counts: &[f64]) -> Result<f64, String> {
    let mut truth: Vec<(f64, f64)> = samples.iter().map(|s| (s.value(), s.weight())).collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sent: Vec<(f64, f64)> = values.iter().copied().zip(counts.iter().copied()).collect();
    let mut worst: f64 = 0.0;
    for q in QUANTILES {
        let (want, got) = (quantile(&truth, q), quantile(&sent, q));
        let error = (got - want).abs();
        if error > BIN_WIDTH * want.abs() + ZERO_BIN_WIDTH {
            return Err(format!("p{q}: sent {got}, true {want}"));
        }
        if want.abs() > 1e-6 {
            worst = worst.max(error / want.abs());
        }
    }
    Ok(worst)
}

/// Checks everything CloudWatch reads from the datum of `samples`: exact count, minimum and
/// maximum, the sum within [`SUM_TOLERANCE`], each value once and increasing, every number
/// printed so that it parses back to itself, and (for `Values`) each percentile within one bin.
fn check(samples: &[Sample]) -> Result<Measure, String> {
    let summary = summary(samples);
    let measure = summary_measure(&summary);
    let (count, sum, min, max) = read_back(&measure);
    let (true_count, true_sum, magnitude) = truth(samples);
    let true_min = samples.iter().map(|s| s.value()).fold(f64::INFINITY, f64::min);
    let true_max = samples.iter().map(|s| s.value()).fold(f64::NEG_INFINITY, f64::max);
    if (count, min, max) != (true_count, true_min, true_max) {
        return Err(format!("count/min/max {:?} != {:?}", (count, min, max), (true_count, true_min, true_max)));
    }
    if (sum - true_sum).abs() > SUM_TOLERANCE * magnitude {
        return Err(format!("sum {sum} != {true_sum} (off by {:e} of {magnitude})", (sum - true_sum).abs()));
    }
    if let Measure::Values { values, counts } = &measure {
        if values.len() > MAX_DISTINCT_VALUES || values.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("values not distinct and increasing: {values:?}"));
        }
        if let Some(v) = values.iter().chain(counts).find(|v| number(**v).parse::<f64>() != Ok(**v)) {
            return Err(format!("{v} prints as {}", number(*v)));
        }
        percentile_error(samples, values, counts)?;
    }
    Ok(measure)
}

fn values_of(measure: &Measure) -> (&[f64], &[f64]) {
    match measure {
        Measure::Values { values, counts } => (values, counts),
        other => panic!("Values, got {other:?}"),
    }
}

/// A timer with `@0.5` and `@0.1` samples reads back with its exact weighted count and sum,
/// the exact minimum and maximum sent once each with count 1, the rest of their bins' weight
/// kept in the bins.
#[test]
fn a_sampled_timer_reads_back_with_its_exact_count_sum_minimum_and_maximum() {
    let samples = samples(&[(10.0, 0.5), (20.0, 1.0), (20.3, 0.1), (40.0, 1.0), (40.1, 0.5), (97.25, 1.0)]);
    let measure = check(&samples).unwrap();
    let (values, counts) = values_of(&measure);
    assert_eq!(values.len(), 6, "{values:?}");
    assert_eq!((values[0], counts[0], values[5], counts[5]), (10.0, 1.0, 97.25, 1.0));
    // 10 @0.5 leaves a weight of 1 in its bin, 97.25 none; 40 and 40.1 @0.5 share a bin.
    assert_eq!(counts, &[1.0, 1.0, 1.0, 10.0, 3.0, 1.0][..]);
}

/// Identical samples are one value carrying the whole weight.
#[test]
fn identical_samples_are_one_value_with_the_whole_weight() {
    let measure = check(&samples(&[(7.5, 1.0), (7.5, 0.1), (7.5, 0.5)])).unwrap();
    assert_eq!(measure, Measure::Values { values: vec![7.5], counts: vec![13.0] });
}

/// A minimum and a maximum in one bin split it into three values: the minimum, the rest of the
/// bin, the maximum.
#[test]
fn a_minimum_and_maximum_in_one_bin_split_it_into_three_values() {
    let samples = samples(&[(100.0, 1.0), (100.4, 0.5), (100.2, 0.25)]);
    assert_eq!(summary(&samples).sketch.bin_count(), 1);
    let measure = check(&samples).unwrap();
    let (values, counts) = values_of(&measure);
    assert_eq!((values.len(), values[0], values[2]), (3, 100.0, 100.4));
    assert_eq!(counts, &[1.0, 5.0, 1.0][..]);
}

/// Samples crowding the low end of their bins (`t = −1`) and the high end (`t = +1`) still sum
/// exactly: the values land on the bounds, here the minimum and the maximum themselves.
#[test]
fn samples_at_the_ends_of_their_bins_still_sum_exactly() {
    let low = check(&samples(&[(50.0, 1.0), (50.0, 0.1), (50.0, 1.0), (900.0, 1.0)])).unwrap();
    assert_eq!(low, Measure::Values { values: vec![50.0, 900.0], counts: vec![12.0, 1.0] });
    let high = check(&samples(&[(3.0, 1.0), (60.0, 0.5), (60.0, 0.1), (60.0, 1.0)])).unwrap();
    assert_eq!(high, Measure::Values { values: vec![3.0, 60.0], counts: vec![1.0, 13.0] });
}

/// Negative values, zero and values closer to zero than the sketch indexes sum exactly.
#[test]
fn negative_values_and_zero_sum_exactly() {
    let measure = check(&samples(&[
        (-250.5, 1.0),
        (-3.001, 0.5),
        (-0.001, 0.1),
        (0.0, 1.0),
        (0.0, 0.25),
        (0.001, 1.0),
        (12.0, 0.5),
    ]))
    .unwrap();
    let (values, counts) = values_of(&measure);
    assert_eq!((values[0], *values.last().unwrap()), (-250.5, 12.0));
    assert_eq!(values.iter().filter(|v| v.abs() <= 1e-9).count(), 1, "the zero bin stays in its bin: {values:?}");
    assert_eq!(counts.iter().sum::<f64>(), 1.0 + 2.0 + 10.0 + 1.0 + 4.0 + 1.0 + 2.0);
}

/// A sketch spanning more than its 2048 bins folds its smallest values into its lowest bin;
/// that bin's bounds reach down to them, so the sum is still exact.
#[test]
fn values_folded_into_the_lowest_bin_still_sum_exactly() {
    // 0.001 to 10¹⁵ is about 2417 bins at 1 %: the lowest ones fold.
    let samples = samples(&[(0.001, 1.0), (0.002, 1.0), (0.003, 0.5), (1e15, 1.0), (5e14, 0.1), (1e15, 1.0)]);
    let measure = check(&samples).unwrap();
    let (values, _) = values_of(&measure);
    assert_eq!((values[0], *values.last().unwrap()), (0.001, 1e15));
}

/// The minimum and maximum use two of the 150 values: 150 bins of one sample each fit (their
/// end bins empty out), but when the lowest of 150 bins holds two samples they need 151 and go
/// as exact `StatisticValues`.
#[test]
fn the_minimum_and_maximum_count_against_the_150_values() {
    // 1.1^k lands in a bin of its own for every k.
    let distinct = || (0..150).map(|k| ((1.1_f64.powi(k) * 1000.0).round() / 1000.0, 1.0)).collect::<Vec<_>>();
    let measure = check(&samples(&distinct())).unwrap();
    assert_eq!(values_of(&measure).0.len(), 150);
    let mut over = distinct();
    over.push((1.0, 1.0));
    let samples = samples(&over);
    let summary = summary(&samples);
    assert_eq!(summary.sketch.bin_count(), 150);
    assert_eq!(
        check(&samples).unwrap(),
        Measure::Statistics { count: 151.0, sum: summary.sum, min: 1.0, max: summary.max }
    );
}

/// A sketch that does not hold what its summary counted (a count or a sum from elsewhere) sends
/// the summary's exact numbers as `StatisticValues`, never a wrong count or sum.
#[test]
fn a_sketch_that_disagrees_with_its_summary_sends_the_summary() {
    let samples = samples(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]);
    let statistics = |s: &Summary| Measure::Statistics { count: s.count, sum: s.sum, min: s.min, max: s.max };
    let wrong_count = Summary { count: 4.0, ..summary(&samples) };
    assert_eq!(summary_measure(&wrong_count), statistics(&wrong_count));
    let wrong_sum = Summary { sum: 9.0, ..summary(&samples) };
    assert_eq!(summary_measure(&wrong_sum), statistics(&wrong_sum));
}

/// One sample, sampled or not, is sent as itself.
#[test]
fn a_single_sample_is_sent_as_itself() {
    let measure = check(&samples(&[(-42.125, 0.1)])).unwrap();
    assert_eq!(measure, Measure::Values { values: vec![-42.125], counts: vec![10.0] });
}

/// Sample sets as timers see them: latencies over several decades, negatives, zeros and
/// repeats, unsampled or sampled at 1/2, 1/4 and 1/10.
fn sample_sets() -> impl Strategy<Value = Vec<Sample>> {
    let rate = prop::sample::select(vec![1.0, 1.0, 0.5, 0.25, 0.1]);
    let spread = (0i64..1000, 0u32..10, prop::bool::weighted(0.1))
        .prop_map(|(m, decade, negative)| if negative { -m } else { m } * 10_i64.pow(decade));
    let spread = (spread, rate.clone()).prop_map(|(thousandths, rate)| Sample { thousandths, rate });
    let repeats = (prop::sample::select(vec![0_i64, 1, 1500, 1501, 20_000, 99_999]), rate)
        .prop_map(|(thousandths, rate)| Sample { thousandths, rate });
    prop_oneof![
        prop::collection::vec(spread.clone(), 1..400),
        prop::collection::vec(repeats.clone(), 1..50),
        (prop::collection::vec(spread, 1..200), prop::collection::vec(repeats, 1..50)).prop_map(|(mut a, b)| {
            a.extend(b);
            a
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every value added to a sketch lies within the bounds of the bin whose weight it raised,
    /// over the whole range CloudWatch takes (±2³⁶⁰) and when the sketch folds its smallest
    /// values.
    #[test]
    fn every_value_lies_within_the_bounds_of_its_bin(
        values in prop::collection::vec((1.0f64..10.0, -12i32..108, prop::bool::ANY), 1..64),
    ) {
        let mut sketch = Sketch::new();
        for (m, e, negative) in values {
            let v = if negative { -m } else { m } * 10f64.powi(e);
            let before: Vec<_> = sketch.bounded_bins().collect();
            sketch.add(v, 1.0);
            let raised: Vec<_> = sketch
                .bounded_bins()
                .filter(|b| !before.iter().any(|o| o.value == b.value && o.weight >= b.weight))
                .collect();
            prop_assert!(raised.iter().any(|b| b.lower <= v && v <= b.upper), "{v} in none of {raised:?}");
        }
    }

    /// For any sample set and rates, `SampleCount`, `Minimum` and `Maximum` read back exact,
    /// `Sum` within float rounding of the integer truth, and each percentile of the sent values
    /// within one bin of the true one.
    #[test]
    fn count_sum_minimum_and_maximum_read_back_exact_and_percentiles_stay_in_their_bin(samples in sample_sets()) {
        check(&samples).map_err(TestCaseError::fail)?;
    }
}

/// For 2000 realistic timers (log-normal latencies, 5 to 400 samples, half at `@0.5` or `@0.1`), the
/// exact sum moves the values little: the median timer's worst percentile is within the
/// sketch's own 1 % (0.91 %), and no percentile is off by more than 1.75 % (1.64 %; the bound
/// is one bin, 2.02 %).
#[test]
fn realistic_timers_keep_their_percentiles_near_the_sketch_accuracy() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut worst = Vec::new();
    for _ in 0..2000 {
        let median = rng.f64() * 500.0 + 1.0;
        let set: Vec<Sample> = (0..rng.usize(5..400))
            .map(|_| {
                let v = median * (rng.f64() * 3.0 - 1.5).exp();
                Sample { thousandths: (v * 1000.0).round() as i64, rate: [1.0, 1.0, 0.5, 0.1][rng.usize(0..4)] }
            })
            .collect();
        let measure = check(&set).unwrap();
        let (values, counts) = values_of(&measure);
        worst.push(percentile_error(&set, values, counts).unwrap());
    }
    worst.sort_by(f64::total_cmp);
    let (median, max) = (worst[worst.len() / 2], worst[worst.len() - 1]);
    assert!(median <= RELATIVE_ACCURACY && max <= 0.0175, "median {median}, max {max}");
}
