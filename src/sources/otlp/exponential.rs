//! OTLP exponential histograms: their totals (for the cumulative-to-delta state), the
//! observations between two cumulative points, and the weighted values the window's sketch
//! takes.
//!
//! Bucket `i` of scale `s` holds the values in `(bⁱ, bⁱ⁺¹]` with `b = 2^(2^-s)`; the window gets
//! each non-empty bucket as its midpoint `(bⁱ + bⁱ⁺¹) / 2` weighted by its count (negative
//! buckets mirrored, the zero bucket as 0). Count, sum, min and max stay the client's.

use super::proto::{ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets};
use super::reject::RejectReason;
use crate::aggregator::input::Weighted;

/// The scales OpenTelemetry defines (`-10` to `20`).
const SCALES: std::ops::RangeInclusive<i32> = -10..=20;

/// Most buckets one range (positive or negative) may have: the sketch's own bin bound
/// (OpenTelemetry's SDKs default to 160).
pub(crate) const MAX_BUCKETS: usize = backends::sketch::MAX_BINS;

/// Consecutive buckets of one sign: `counts[k]` is bucket `offset + k`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Range {
    pub offset: i32,
    pub counts: Vec<u64>,
}

impl Range {
    fn from(buckets: Option<&Buckets>) -> Result<Self, RejectReason> {
        let Some(b) = buckets else { return Ok(Self::default()) };
        if b.bucket_counts.len() > MAX_BUCKETS
            || i64::from(b.offset) + b.bucket_counts.len() as i64 > i64::from(i32::MAX)
        {
            return Err(RejectReason::BadBuckets);
        }
        Ok(Self { offset: b.offset, counts: b.bucket_counts.clone() })
    }

    fn total(&self) -> u128 {
        self.counts.iter().map(|&c| u128::from(c)).sum()
    }

    /// `(index, count)` of every bucket.
    fn buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts.iter().enumerate().map(|(k, &c)| (self.offset + k as i32, c))
    }

    /// The same counts at a scale `by` steps coarser: bucket `i` goes to `i >> by`, as
    /// OpenTelemetry's SDKs merge buckets when they rescale.
    fn downscale(&self, by: u32) -> Self {
        if by == 0 || self.counts.is_empty() {
            return self.clone();
        }
        let by = by.min(31);
        let offset = self.offset >> by;
        let last = (self.offset + self.counts.len() as i32 - 1) >> by;
        let mut counts = vec![0_u64; (last - offset + 1) as usize];
        for (index, count) in self.buckets() {
            let slot = &mut counts[((index >> by) - offset) as usize];
            *slot = slot.saturating_add(count);
        }
        Self { offset, counts }
    }

    /// What `self` counts beyond `previous` (same scale), `None` when a bucket went down.
    fn since(&self, previous: &Self) -> Option<Self> {
        let mut counts = self.counts.clone();
        for (index, before) in previous.buckets().filter(|(_, c)| *c > 0) {
            let k = usize::try_from(i64::from(index) - i64::from(self.offset)).ok().filter(|&k| k < counts.len())?;
            counts[k] = counts[k].checked_sub(before)?;
        }
        Some(Self { offset: self.offset, counts })
    }
}

/// An exponential histogram point's totals: what the cumulative state keeps of it, and what a
/// delta point (or the difference of two cumulative ones) adds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Totals {
    pub scale: i32,
    pub zero_threshold: f64,
    pub zero: u64,
    pub positive: Range,
    pub negative: Range,
    pub count: u64,
    /// The client's sum, when it sent one.
    pub sum: Option<f64>,
}

impl Totals {
    /// The totals of `point`, or why it cannot be added up: a scale OpenTelemetry does not
    /// define, too many buckets, a count that is not the sum of the buckets, a non-finite
    /// sum or zero threshold.
    pub(crate) fn of(point: &ExponentialHistogramDataPoint) -> Result<Self, RejectReason> {
        if !SCALES.contains(&point.scale) {
            return Err(RejectReason::BadBuckets);
        }
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !(point.zero_threshold.is_finite() && finite(point.sum) && finite(point.min) && finite(point.max)) {
            return Err(RejectReason::NotFinite);
        }
        let totals = Self {
            scale: point.scale,
            zero_threshold: point.zero_threshold,
            zero: point.zero_count,
            positive: Range::from(point.positive.as_ref())?,
            negative: Range::from(point.negative.as_ref())?,
            count: point.count,
            sum: point.sum,
        };
        let buckets = u128::from(totals.zero) + totals.positive.total() + totals.negative.total();
        if buckets != u128::from(totals.count) {
            return Err(RejectReason::BadBuckets);
        }
        Ok(totals)
    }

    /// The observations counted by `self` and not by `previous`, an earlier point of the same
    /// cumulative series: `previous` is brought to `self`'s scale first (an SDK lowers the
    /// scale of a cumulative histogram as its range grows). `None` when that is no
    /// continuation — a count went down, the scale went up, the zero threshold changed — so
    /// the series was reset.
    pub(crate) fn since(&self, previous: &Self) -> Option<Self> {
        if self.scale > previous.scale || self.zero_threshold != previous.zero_threshold {
            return None;
        }
        let by = (previous.scale - self.scale) as u32;
        Some(Self {
            scale: self.scale,
            zero_threshold: self.zero_threshold,
            zero: self.zero.checked_sub(previous.zero)?,
            positive: self.positive.since(&previous.positive.downscale(by))?,
            negative: self.negative.since(&previous.negative.downscale(by))?,
            count: self.count.checked_sub(previous.count)?,
            sum: self.sum.zip(previous.sum).map(|(now, before)| now - before),
        })
    }

    /// The observations as weighted values for the window (see the [module docs](self)), with
    /// the client's `min` and `max` when it knows them for exactly these observations; `None`
    /// when there are none. Refused when a bucket's bounds are beyond `f64`.
    pub(crate) fn weighted(&self, min: Option<f64>, max: Option<f64>) -> Result<Option<Weighted>, RejectReason> {
        if self.count == 0 {
            return Ok(None);
        }
        let mut values = Vec::new();
        if self.zero > 0 {
            values.push((0.0, self.zero as f64));
        }
        for (range, sign) in [(&self.negative, -1.0), (&self.positive, 1.0)] {
            for (index, count) in range.buckets().filter(|(_, c)| *c > 0) {
                let mid = midpoint(index, self.scale).ok_or(RejectReason::NotFinite)?;
                values.push((sign * mid, count as f64));
            }
        }
        let estimated = || values.iter().map(|&(v, w)| v * w).sum::<f64>();
        let sum = self.sum.unwrap_or_else(estimated);
        let lowest = values.iter().map(|&(v, _)| v).fold(f64::INFINITY, f64::min);
        let highest = values.iter().map(|&(v, _)| v).fold(f64::NEG_INFINITY, f64::max);
        if !sum.is_finite() {
            return Err(RejectReason::NotFinite);
        }
        Ok(Some(Weighted {
            count: self.count as f64,
            sum,
            min: min.unwrap_or(lowest),
            max: max.unwrap_or(highest),
            values,
        }))
    }
}

/// The midpoint of bucket `index` at `scale`, `None` when its bounds are beyond `f64`.
pub(crate) fn midpoint(index: i32, scale: i32) -> Option<f64> {
    let width = f64::from(-scale).exp2();
    let lower = (f64::from(index) * width).exp2();
    let upper = ((f64::from(index) + 1.0) * width).exp2();
    let mid = f64::midpoint(lower, upper);
    (mid.is_finite() && mid > 0.0).then_some(mid)
}
