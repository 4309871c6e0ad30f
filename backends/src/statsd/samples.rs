//! The samples that stand for one timer, histogram or distribution on the wire.
//!
//! A window keeps, per series, the weighted `count`, the exact `sum`, `min` and `max`, and a
//! sketch whose bins hold every sample within 1 % relative error. The upstream only reads
//! samples, `value|ms|@rate`, and counts each as `1 / rate`. This module picks at most
//! `max_samples_per_series` lines so that:
//!
//! - **count is exact**: the lines' weights (`1 / rate`) are whole numbers except at most one,
//!   and they add up to `count` bit for bit; the line with the fractional weight is sent last,
//!   so an upstream adding `1 / rate` in arrival order in `f64` (Etsy StatsD, sluice) ends on
//!   exactly `count`. Every rate is chosen so that `1 / rate` gives the weight back exactly.
//! - **min and max are exact**: with three lines or more, the first line is `min` and the
//!   last `max`, each with weight 1.
//! - **sum is exact** for upstreams that weight values by `1 / rate` (DogStatsD, sluice):
//!   `Σ value · weight = sum`, up to the `f64` rounding of that sum (a few ulps). Etsy StatsD
//!   adds the sent values without weights, so its `sum` is exact only when every line has
//!   weight 1 (`count` is a whole number no larger than `max_samples_per_series`); otherwise
//!   it is the sum of the sent values, as for any sampled client.
//! - **each value is close to the samples it stands for**: the weights split the sorted
//!   samples into consecutive rank segments; a line's value starts as the mean of its segment
//!   as the sketch sees it (within 1 % of the true segment mean for samples of one sign),
//!   then every line is shifted by the same amount so the weighted sum equals `sum` (the
//!   sketch's own 1 % error, spread over the lines), and kept within `[min, max]`.

use crate::model::Summary;

/// One line: a value and the number of samples it stands for (`1 / rate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The value sent.
    pub value: f64,
    /// `1 / rate`; 1 means no `@rate` field.
    pub weight: f64,
}

/// The lines for `summary`, at most `max` (taken as at least 2, so a line without an exact
/// rate has a neighbour to trade with), in the order they must be sent.
/// Empty when the summary holds no samples.
pub fn samples(summary: &Summary, max: usize) -> Vec<Sample> {
    let count = summary.count;
    if !(count.is_finite() && count > 0.0) {
        return Vec::new();
    }
    let (min, max_value) = (summary.min, summary.max);
    if count < 1.0 || !(min.is_finite() && max_value.is_finite()) {
        // Every sample weighs at least 1 (rates are at most 1): only hand-made windows get
        // here. One line keeps the count and the sum.
        return vec![Sample { value: summary.sum / count, weight: count }];
    }
    let lines = (count.floor() as usize).clamp(1, max.max(2));
    let pinned = lines >= 3 && min < max_value;
    let weights = weights(count, lines, pinned);
    let mut values = if min == max_value { vec![min; lines] } else { segment_means(summary, &weights) };
    if pinned {
        values[0] = min;
        values[lines - 1] = max_value;
        let target = summary.sum - min - max_value;
        correct(&mut values[1..lines - 1], &weights[1..lines - 1], target, min, max_value);
    } else if min < max_value {
        correct(&mut values, &weights, summary.sum, min, max_value);
    }
    let mut out: Vec<Sample> =
        values.into_iter().zip(weights).map(|(value, weight)| Sample { value, weight }).collect();
    // The fractional weight goes last, so the upstream's running f64 total of whole numbers
    // stays exact until the final addition, which then lands on `count` exactly.
    if let Some(i) = out.iter().position(|s| s.weight.fract() != 0.0) {
        let fractional = out.remove(i);
        out.push(fractional);
    }
    out
}

/// Splits `count` into `lines` weights in value order: whole numbers as even as possible, the
/// fraction of `count` added to one line, and with `pinned` weight 1 for the first and last.
fn weights(count: f64, lines: usize, pinned: bool) -> Vec<f64> {
    let whole = count.floor();
    let (first, inner) = if pinned { (1, lines - 2) } else { (0, lines) };
    let shared = whole as u64 - 2 * first as u64;
    let (base, extra) = (shared / inner as u64, shared % inner as u64);
    let mut weights = vec![1.0; lines];
    for k in 0..inner {
        weights[first + k] = (base + u64::from((k as u64) < extra)) as f64;
    }
    // The line that carries the fraction: its weight is `count` less every other weight, an
    // exact subtraction, so the weights add up to `count` exactly.
    let carrier = first + inner - 1;
    let carry = |weights: &mut [f64]| {
        let others: f64 = weights.iter().enumerate().filter(|(i, _)| *i != carrier).map(|(_, w)| w).sum();
        weights[carrier] = count - others;
    };
    carry(&mut weights);
    // Some whole weights (49 is the first) have no decimal rate whose reciprocal is exactly
    // the weight. Such a line trades a few samples with its neighbour until both have one; the
    // total does not change.
    for i in first..carrier {
        if has_exact_rate(weights[i]) {
            continue;
        }
        let next = weights[i + 1];
        for d in TRADES {
            let (mine, theirs) = (weights[i] + d, next - d);
            if mine >= 1.0 && theirs >= 1.0 && has_exact_rate(mine) {
                weights[i] = mine;
                weights[i + 1] = theirs;
                break;
            }
        }
        carry(&mut weights);
    }
    if !has_exact_rate(weights[carrier]) && carrier > first {
        let (before, last) = (weights[carrier - 1], weights[carrier]);
        for d in TRADES {
            if before - d >= 1.0 && last + d >= 1.0 && has_exact_rate(before - d) && has_exact_rate(last + d) {
                weights[carrier - 1] = before - d;
                carry(&mut weights);
                break;
            }
        }
    }
    weights
}

/// The samples a line may give to or take from its neighbour to get an exact rate.
const TRADES: [f64; 8] = [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0];

fn has_exact_rate(weight: f64) -> bool {
    weight == 1.0 || exact_rate(weight).is_some()
}

/// The mean of each rank segment as the sketch sees it; segments follow `weights` in order.
/// Without a sketch every segment gets the mean of the summary.
fn segment_means(summary: &Summary, weights: &[f64]) -> Vec<f64> {
    let sketch = &summary.sketch;
    if sketch.is_empty() {
        return vec![summary.mean(); weights.len()];
    }
    // Ranks are counted in the sketch's own weight, which may differ from `count` by rounding.
    let scale = sketch.count() / summary.count;
    let mut bins = sketch.bins();
    let mut bin = bins.next();
    let mut left_in_bin = bin.map_or(0.0, |(_, w)| w);
    let mut means = Vec::with_capacity(weights.len());
    for &weight in weights {
        let want = weight * scale;
        let (mut taken, mut total) = (0.0, 0.0);
        while let Some((value, _)) = bin {
            let take = left_in_bin.min(want - taken);
            taken += take;
            total += take * value;
            left_in_bin -= take;
            if left_in_bin <= want * 1e-12 {
                bin = bins.next();
                left_in_bin = bin.map_or(0.0, |(_, w)| w);
            }
            if taken >= want * (1.0 - 1e-12) {
                break;
            }
        }
        means.push(if taken > 0.0 { total / taken } else { means.last().copied().unwrap_or(summary.min) });
    }
    means
}

/// Shifts `values` so that `Σ value · weight = target`, keeping every value within
/// `[lo, hi]`: the same shift for every line, lines that hit a bound stay there and the rest
/// share what is left ("water filling"). `target` lies within `[lo · Σw, hi · Σw]` for a real
/// window, so the loop ends with the exact sum.
fn correct(values: &mut [f64], weights: &[f64], target: f64, lo: f64, hi: f64) {
    for v in values.iter_mut() {
        *v = v.clamp(lo, hi);
    }
    for _ in 0..=values.len() {
        let current: f64 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
        let error = target - current;
        if error == 0.0 {
            return;
        }
        let free: f64 = values
            .iter()
            .zip(weights)
            .filter(|(v, _)| if error > 0.0 { **v < hi } else { **v > lo })
            .map(|(_, w)| w)
            .sum();
        if free == 0.0 {
            return;
        }
        let shift = error / free;
        let mut clamped = false;
        for v in values.iter_mut() {
            if (error > 0.0 && *v < hi) || (error < 0.0 && *v > lo) {
                let moved = *v + shift;
                clamped |= moved > hi || moved < lo;
                *v = moved.clamp(lo, hi);
            }
        }
        if !clamped {
            return;
        }
    }
}

/// The rate to write for `weight`: a decimal whose reciprocal, as the upstream computes it in
/// `f64`, is `weight` exactly when such a decimal exists (see [`samples`] for how weights are
/// chosen so that it does), else the nearest. `None` for weight 1 (no `@rate` field).
pub fn rate_for(weight: f64) -> Option<f64> {
    if weight == 1.0 {
        return None;
    }
    Some(exact_rate(weight).unwrap_or(1.0 / weight))
}

/// A rate `r` with `1 / r == weight` in `f64`, if there is one: the neighbours of `1 / weight`
/// are the only candidates.
fn exact_rate(weight: f64) -> Option<f64> {
    let rate = 1.0 / weight;
    [rate, rate.next_up(), rate.next_down(), rate.next_up().next_up(), rate.next_down().next_down()]
        .into_iter()
        .find(|r| 1.0 / r == weight)
}
