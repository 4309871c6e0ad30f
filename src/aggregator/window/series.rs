//! One live series: its key, when it was last updated, and its per-type state.

use std::mem;
use std::sync::Arc;

use backends::{Buckets, SeriesKey, Sketch, Summary, SummaryKind};
use hashbrown::HashTable;

use super::settings::WindowSettings;
use crate::aggregator::input::{Kind, Weighted};

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) key: Arc<SeriesKey>,
    /// Copy of `key.hash`, so a probe compares it without a pointer chase.
    pub(super) hash: u64,
    /// Id of the window in which the series was last updated.
    pub(super) last_window: u64,
    pub(super) state: State,
}

/// One variant per [`Kind`], so the kind check needs no pointer chase.
#[derive(Debug)]
pub(super) enum State {
    Counter(f64),
    Gauge(f64),
    Timer(Box<SummaryState>),
    Histogram(Box<SummaryState>),
    Distribution(Box<SummaryState>),
    Set(Box<HashTable<u64>>),
    /// The window's observations so far, under the bounds of the latest sample.
    Buckets(Box<Buckets>),
}

impl State {
    pub(super) fn new(kind: Kind, buckets: usize) -> Self {
        match kind {
            Kind::Counter => Self::Counter(0.0),
            Kind::Gauge => Self::Gauge(0.0),
            Kind::Timer => Self::Timer(Box::new(SummaryState::new(buckets))),
            Kind::Histogram => Self::Histogram(Box::new(SummaryState::new(buckets))),
            Kind::Distribution => Self::Distribution(Box::new(SummaryState::new(buckets))),
            Kind::Set => Self::Set(Box::default()),
            Kind::Buckets => Self::Buckets(Box::new(empty_buckets(Arc::from([])))),
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Self::Counter(_) => Kind::Counter,
            Self::Gauge(_) => Kind::Gauge,
            Self::Timer(_) => Kind::Timer,
            Self::Histogram(_) => Kind::Histogram,
            Self::Distribution(_) => Kind::Distribution,
            Self::Set(_) => Kind::Set,
            Self::Buckets(_) => Kind::Buckets,
        }
    }
}

/// Most observations a summary keeps as (value, weight) pairs before they go into its
/// sketch. A series seeing a few samples a window, the common case at high cardinality, then
/// holds 16 bytes per sample instead of a dense store over its range: ten timer samples spread
/// over a factor of 8 span about 104 bins, 832 bytes or more. The pairs enter the sketch in
/// arrival order at the flush, so the summary is the same as if they had been added at once.
pub(super) const RAW_SAMPLES: usize = 16;

#[derive(Debug)]
pub(super) struct SummaryState {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    /// The window's first observations while there are at most [`RAW_SAMPLES`] of them and
    /// the sketch is empty.
    raw: Vec<(f64, f64)>,
    sketch: Sketch,
    /// Weighted count per bucket (not cumulative), one per configured bound.
    pub(super) buckets: Box<[f64]>,
}

impl SummaryState {
    fn new(buckets: usize) -> Self {
        Self {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            raw: Vec::new(),
            sketch: Sketch::new(),
            buckets: vec![0.0; buckets].into_boxed_slice(),
        }
    }

    pub(super) fn add(&mut self, value: f64, rate: f64, bounds: &[f64]) {
        let weight = 1.0 / rate;
        self.count += weight;
        self.sum += value / rate;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.observe(value, weight);
        let bucket = bounds.partition_point(|&b| b < value);
        if let Some(slot) = self.buckets.get_mut(bucket) {
            *slot += weight;
        }
    }

    /// Observations by bucket: each value with its weight into the sketch and the configured
    /// buckets; count, sum, min and max from the client's totals, so those stay exact.
    pub(super) fn add_weighted(&mut self, weighted: &Weighted, bounds: &[f64]) {
        self.count += weighted.count;
        self.sum += weighted.sum;
        self.min = self.min.min(weighted.min);
        self.max = self.max.max(weighted.max);
        for &(value, weight) in &weighted.values {
            self.observe(value, weight);
            if let Some(slot) = self.buckets.get_mut(bounds.partition_point(|&b| b < value)) {
                *slot += weight;
            }
        }
    }

    /// Keeps `value` as a raw pair while there is room, else adds it (and any pairs kept) to
    /// the sketch.
    fn observe(&mut self, value: f64, weight: f64) {
        if self.sketch.is_empty() && self.raw.len() < RAW_SAMPLES {
            if self.raw.is_empty() {
                // One allocation for all of them, made at the window's first sample.
                self.raw.reserve_exact(RAW_SAMPLES);
            }
            self.raw.push((value, weight));
            return;
        }
        if !self.raw.is_empty() {
            self.sketch_raw();
        }
        self.sketch.add(value, weight);
    }

    /// Moves the raw pairs into the sketch, in arrival order, and releases their memory.
    fn sketch_raw(&mut self) {
        for (value, weight) in mem::take(&mut self.raw) {
            self.sketch.add(value, weight);
        }
    }

    /// The window's summary; resets the state for the next window.
    pub(super) fn take(&mut self, kind: SummaryKind, settings: &WindowSettings) -> Summary {
        let (min, max) = (self.min, self.max);
        self.sketch_raw();
        let sketch = mem::take(&mut self.sketch);
        let percentiles = settings
            .percentiles
            .iter()
            .map(|&p| (p, sketch.quantile(p / 100.0).map_or(min, |v| v.clamp(min, max))))
            .collect();
        let mut cumulative = 0.0;
        let buckets = settings
            .buckets
            .iter()
            .zip(self.buckets.iter_mut())
            .map(|(&bound, count)| {
                cumulative += mem::take(count);
                (bound, cumulative)
            })
            .collect();
        let summary = Summary { kind, count: self.count, sum: self.sum, min, max, percentiles, buckets, sketch };
        self.count = 0.0;
        self.sum = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        summary
    }
}

/// No observations under `bounds`.
fn empty_buckets(bounds: Arc<[f64]>) -> Buckets {
    Buckets { counts: vec![0; bounds.len() + 1], bounds, sum: 0.0, min: None, max: None }
}

/// Adds `sample` to `window`, the histogram of the open window. Returns whether the bounds
/// changed while `window` held observations: those move to the bucket of the new bounds that
/// holds their old bucket's upper bound (so `count`, `sum` and every `le` count at an
/// unchanged bound stay exact).
pub(super) fn add_buckets(window: &mut Buckets, sample: &Buckets) -> bool {
    let before = window.count();
    let mut rebucketed = false;
    if window.bounds != sample.bounds {
        let mut moved = empty_buckets(Arc::clone(&sample.bounds));
        for (i, &count) in window.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let upper = window.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            moved.counts[sample.bounds.partition_point(|&b| b < upper)] += count;
            rebucketed = true;
        }
        window.bounds = moved.bounds;
        window.counts = moved.counts;
    }
    for (total, count) in window.counts.iter_mut().zip(&sample.counts) {
        *total = total.saturating_add(*count);
    }
    window.sum += sample.sum;
    if sample.count() > 0 {
        // Known only when every sample with observations reported it.
        let merge = |ours: Option<f64>, theirs: Option<f64>, pick: fn(f64, f64) -> f64| {
            if before == 0 { theirs } else { ours.zip(theirs).map(|(a, b)| pick(a, b)) }
        };
        window.min = merge(window.min, sample.min, f64::min);
        window.max = merge(window.max, sample.max, f64::max);
    }
    rebucketed
}

/// The window's histogram; leaves no observations under the same bounds for the next window.
pub(super) fn take_buckets(window: &mut Buckets) -> Buckets {
    mem::replace(window, empty_buckets(Arc::clone(&window.bounds)))
}
