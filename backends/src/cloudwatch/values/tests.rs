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
    Summary {
        kind: SummaryKind::Timer,
        count,
        sum,
        min,
        max,
        percentiles: Vec::new(),
        buckets: Vec::new(),
        sketch,
    }
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
