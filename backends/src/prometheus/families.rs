//! The families form every Prometheus encoder takes: families by name, each with its type and
//! its metrics by sorted label set.

use std::collections::BTreeMap;

/// The type of a Prometheus metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FamilyType {
    /// A cumulative total.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, sum and count.
    Histogram,
    /// Quantiles of the last window, cumulative sum and count (a mapping rule's `quantiles`).
    Summary,
}

impl FamilyType {
    /// The type as the text format's `# TYPE` line names it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
        }
    }
}

/// The value of one metric (one label set) of a family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sample {
    /// A counter or gauge value.
    Value(f64),
    /// A histogram: weighted count, sum, and `(upper bound, cumulative count)` per bound.
    Histogram {
        /// Samples since first seen.
        count: f64,
        /// Sum of the samples since first seen.
        sum: f64,
        /// Cumulative count at or below each bound, `+Inf` excluded.
        buckets: Vec<(f64, f64)>,
    },
    /// A summary: weighted count and sum since first seen, and `(quantile, value)` over the
    /// last window (`NaN` when the window had no samples of the series).
    Summary {
        /// Samples since first seen.
        count: f64,
        /// Sum of the samples since first seen.
        sum: f64,
        /// Each quantile in `(0, 1)` and its value over the window.
        quantiles: Vec<(f64, f64)>,
    },
}

/// Sorted label pairs of one metric.
///
/// Shared: series with the same tags (and no mapping rule) get one label set per flush.
pub(crate) type Labels = std::sync::Arc<[(String, String)]>;

/// One metric family: its type and its metrics by label set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// Counter, gauge or histogram.
    pub kind: FamilyType,
    /// The unit of the values, when sluice knows it (`seconds` for timers): OpenMetrics
    /// writes it as `# UNIT` when the name ends with it.
    pub unit: Option<&'static str>,
    /// Each metric, keyed by its sorted labels.
    pub metrics: BTreeMap<Labels, Sample>,
}

/// Every family of one output, by name (so the body is sorted and reproducible).
pub(crate) type Families = BTreeMap<String, Family>;

/// A histogram count as encoded: Prometheus classic histograms count in integers, so the
/// (possibly fractional, sample-rate weighted) cumulative count is rounded to the nearest
/// integer. Rounding the running total keeps the error below 0.5 however long it runs.
pub(crate) fn whole(count: f64) -> u64 {
    count.max(0.0).round() as u64
}
