//! A summary as `Values`/`Counts` whose `SampleCount`, `Sum`, `Minimum` and `Maximum` come out
//! exact at CloudWatch, with the sketch's bins kept for its percentiles.
//!
//! The true minimum and maximum are sent as values of their own with count 1 each: both are
//! samples, and a sample's weight (`1 / rate`, rates in `(0, 1]`) is at least 1, so the rest
//! of the lowest and the highest bin's weight stays in the bin. Every other sample lies inside
//! its bin (clamped to `[min, max]`), so the exact remaining sum lies between `Σ wᵢ·lowerᵢ` and
//! `Σ wᵢ·upperᵢ`, and moving every representative by one common parameter `t ∈ [−1, 1]`
//! (toward the bin's lower bound for `t < 0`, toward the upper for `t > 0`; `t = 0` is the
//! sketch's own representative) reaches it: the sum is continuous and monotone in `t`. Each
//! sent value stays in the bin of the samples it stands for, so each percentile CloudWatch
//! computes from them lies in the bin of the true one: within `γ − 1 ≈ 2.02 %` of it, and
//! within the sketch's `1 %` when `t` is near 0, which it is unless the samples crowd one end
//! of their bins.
//!
//! The numbers are written in shortest round-trip form (`encode::number`), so CloudWatch
//! reads the very `f64`s summed here.

use super::encode::{MAX_DISTINCT_VALUES, Measure};
use crate::model::Summary;

/// How far past `t = ±1` float error may push the solution, as a fraction of the summary's
/// `Σ w·|v|`: the sum and the bounds each carry a relative error of about `n·ε` (`ε ≈ 1.1e-16`),
/// so anything beyond 10⁻⁹ means a sample outside its bin, not rounding.
const SOLVE_SLACK: f64 = 1e-9;

/// One bin's weight (without the minimum's or maximum's count), its bounds clamped to
/// `[min, max]` and its representative clamped to them.
#[derive(Debug, Clone, Copy)]
struct Slot {
    value: f64,
    lower: f64,
    upper: f64,
    weight: f64,
}

impl Slot {
    /// The value moved by `t`: toward `lower` for `t < 0`, toward `upper` for `t > 0`.
    fn at(&self, t: f64) -> f64 {
        let moved = if t < 0.0 {
            self.value + t * (self.value - self.lower)
        } else {
            self.value + t * (self.upper - self.value)
        };
        moved.clamp(self.lower, self.upper)
    }
}

/// `Values`/`Counts` with an exact count, sum, minimum and maximum, or `StatisticValues` when
/// they do not fit in [`MAX_DISTINCT_VALUES`] values (or the sketch has no bins, or its bins
/// cannot carry the count or the sum: only for a sketch that does not match its summary).
pub(super) fn summary_measure(summary: &Summary) -> Measure {
    exact_values(summary).unwrap_or(Measure::Statistics {
        count: summary.count,
        sum: summary.sum,
        min: summary.min,
        max: summary.max,
    })
}

fn exact_values(summary: &Summary) -> Option<Measure> {
    let (min, max) = (summary.min, summary.max);
    let bins = summary.sketch.bin_count();
    if bins == 0 || bins > MAX_DISTINCT_VALUES || !min.is_finite() || !max.is_finite() || min > max {
        return None;
    }
    if min == max {
        // Every sample is the same number.
        return Some(Measure::Values { values: vec![min], counts: vec![summary.count] });
    }
    let mut slots: Vec<Slot> = summary
        .sketch
        .bounded_bins()
        .map(|bin| {
            let lower = bin.lower.clamp(min, max);
            let upper = bin.upper.clamp(min, max);
            Slot { value: bin.value.clamp(lower, upper), lower, upper, weight: bin.weight }
        })
        .collect();
    // A sketch that does not hold the summary's weight (a spool record from elsewhere) cannot
    // carry its count: the summary's own numbers go instead.
    let weight: f64 = slots.iter().map(|s| s.weight).sum();
    if (weight - summary.count).abs() > SOLVE_SLACK * summary.count {
        return None;
    }
    // The minimum is a sample of the lowest bin and the maximum of the highest (they may be
    // one bin); each takes a count of 1 from it. `w − 1` is exact for 1 ≤ w < 2⁵³.
    let last = slots.len() - 1;
    for i in [0, last] {
        if slots[i].weight < 1.0 {
            return None;
        }
        slots[i].weight -= 1.0;
    }
    let t = solve(&slots, summary.sum - min - max)?;

    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(slots.len() + 2);
    pairs.push((min, 1.0));
    pairs.extend(slots.iter().filter(|s| s.weight > 0.0).map(|s| (s.at(t), s.weight)));
    pairs.push((max, 1.0));
    // Clamping can make a value equal the minimum, the maximum or a neighbour: CloudWatch
    // wants each value once, in any order; sorted keeps the body reproducible.
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut values, mut counts) = (Vec::with_capacity(pairs.len()), Vec::with_capacity(pairs.len()));
    for (value, count) in pairs {
        if values.last() == Some(&value) {
            *counts.last_mut()? += count;
        } else {
            values.push(value);
            counts.push(count);
        }
    }
    (values.len() <= MAX_DISTINCT_VALUES).then_some(Measure::Values { values, counts })
}

/// The `t ∈ [−1, 1]` at which `Σ wᵢ·valueᵢ(t)` is `target`, or `None` when `target` is out of
/// reach by more than float error.
fn solve(slots: &[Slot], target: f64) -> Option<f64> {
    let (mut base, mut up, mut down, mut scale) = (0.0, 0.0, 0.0, 0.0);
    for s in slots {
        base += s.weight * s.value;
        up += s.weight * (s.upper - s.value);
        down += s.weight * (s.value - s.lower);
        scale += s.weight * s.value.abs();
    }
    let gap = target - base;
    let room = if gap > 0.0 { up } else { down };
    let slack = SOLVE_SLACK * (scale + target.abs());
    if gap.abs() > room + slack {
        return None;
    }
    // Within slack of the end (all remaining samples at their bounds, up to rounding), or no
    // room at all (every bin clamped to one point): the end is as exact as the float sum.
    if room <= 0.0 {
        return Some(0.0);
    }
    let t = gap / room;
    t.is_finite().then_some(t.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests;
