//! A mergeable quantile sketch with bounded relative error (DDSketch, Masson et al., VLDB 2019).
//!
//! Every positive value `v` falls in bin `ceil(log_γ v)` with `γ = (1 + α) / (1 − α)`; a bin
//! answers with `2γⁱ / (γ + 1)`, which is within a relative error `α` of every value in it.
//! Negative values use a mirrored store, values closer to zero than [`MIN_INDEXABLE`] share
//! one zero bin. Two sketches with the same `α` merge by adding their bins, so windows and
//! hosts combine exactly. Weights are `f64` so sample rates weight counts exactly.
//!
//! Memory is bounded: each store keeps at most [`MAX_BINS`] bins and, when a value would need
//! more, folds its lowest-magnitude bins together. With `α = 1 %` 2048 bins span a dynamic
//! range of about 10¹⁷ before any folding, so the bound only ever bites on pathological input.

/// Relative accuracy `α` of every quantile the sketch answers: 1 %.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// The largest number of bins one store (positive or negative) holds.
pub const MAX_BINS: usize = 2048;
/// Magnitudes below this go to the zero bin.
pub const MIN_INDEXABLE: f64 = 1e-9;

const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
/// How much [`Bin`]'s bounds are widened, relative, beyond `γⁱ⁻¹` and `γⁱ`: far more than the
/// float error of `ln` and `powi` in the index (a few 10⁻¹² at ±10³⁰⁸), far less than a bin.
const BOUND_SLACK: f64 = 1e-9;

/// One non-empty bin with the interval every value added to it lies in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bin {
    /// The representative [`Sketch::bins`] reports.
    pub value: f64,
    /// No value in the bin is below this.
    pub lower: f64,
    /// No value in the bin is above this.
    pub upper: f64,
    /// The bin's weight.
    pub weight: f64,
}

/// A sketch's state borrowed as plain numbers (see [`Sketch::raw_parts`]).
pub(crate) struct RawParts<'a> {
    pub positive: (i32, &'a [f64]),
    pub negative: (i32, &'a [f64]),
    pub zero: f64,
    pub count: f64,
}

/// A DDSketch with relative accuracy [`RELATIVE_ACCURACY`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    positive: Store,
    negative: Store,
    zero: f64,
    count: f64,
}

/// Dense bins for one sign: `bins[k]` counts index `offset + k`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Store {
    bins: Vec<f64>,
    offset: i32,
}

impl Store {
    fn add(&mut self, index: i32, weight: f64) {
        if self.bins.is_empty() {
            self.bins.push(weight);
            self.offset = index;
            return;
        }
        let index = self.fit(index);
        let slot = (index - self.offset) as usize;
        self.bins[slot] += weight;
    }

    /// Grows the store to cover `index` and returns the index to use: `index` itself, or the
    /// lowest kept index when the store is full and `index` is below it.
    fn fit(&mut self, index: i32) -> i32 {
        let top = self.offset + self.bins.len() as i32 - 1;
        if index < self.offset {
            let wanted = (top - index + 1) as usize;
            if wanted > MAX_BINS {
                let lowest = top - MAX_BINS as i32 + 1;
                self.extend_down(lowest.min(self.offset));
                return lowest.max(index);
            }
            self.extend_down(index);
        } else if index > top {
            let wanted = (index - self.offset + 1) as usize;
            if wanted > MAX_BINS {
                self.fold_below(index - MAX_BINS as i32 + 1);
            }
            let len = (index - self.offset + 1) as usize;
            self.bins.resize(len, 0.0);
        }
        index
    }

    fn extend_down(&mut self, new_offset: i32) {
        let grow = (self.offset - new_offset) as usize;
        if grow > 0 {
            self.bins.splice(0..0, std::iter::repeat_n(0.0, grow));
            self.offset = new_offset;
        }
    }

    /// Adds every bin below `lowest` into `lowest`, so at most [`MAX_BINS`] remain.
    fn fold_below(&mut self, lowest: i32) {
        let cut = ((lowest - self.offset) as usize).min(self.bins.len());
        if cut == 0 {
            return;
        }
        let folded: f64 = self.bins.drain(..cut).sum();
        self.offset = lowest;
        if self.bins.is_empty() {
            self.bins.push(0.0);
        }
        self.bins[0] += folded;
    }

    fn merge(&mut self, other: &Store) {
        for (k, &w) in other.bins.iter().enumerate() {
            if w != 0.0 {
                self.add(other.offset + k as i32, w);
            }
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (i32, f64)> + '_ {
        self.bins.iter().enumerate().filter(|(_, w)| **w != 0.0).map(|(k, &w)| (self.offset + k as i32, w))
    }

    /// The magnitudes every value in bin `index` lies between: `(γⁱ⁻¹, γⁱ]`, widened by
    /// [`BOUND_SLACK`]. A full store's lowest bin also holds every value folded into it (see
    /// [`Store::fit`]; merges keep that bin lowest), so its lower bound is [`MIN_INDEXABLE`].
    fn magnitude_bounds(&self, index: i32) -> (f64, f64) {
        let upper = GAMMA.powi(index) * (1.0 + BOUND_SLACK);
        if index == self.offset && self.bins.len() >= MAX_BINS {
            return (MIN_INDEXABLE, upper);
        }
        (GAMMA.powi(index - 1) * (1.0 - BOUND_SLACK), upper)
    }
}

fn index_of(magnitude: f64) -> i32 {
    (magnitude.ln() / GAMMA.ln()).ceil() as i32
}

/// Whether `len` bins from index `offset` are a store some sequence of [`Sketch::add`] can
/// build: at most [`MAX_BINS`], every index between those of [`MIN_INDEXABLE`] and
/// `f64::MAX`. An empty store's offset is never read.
fn store_fits(offset: i32, len: usize) -> bool {
    len == 0
        || (len <= MAX_BINS
            && offset >= index_of(MIN_INDEXABLE)
            && i64::from(offset) + len as i64 - 1 <= i64::from(index_of(f64::MAX)))
}

/// A bin named by its store and index, before its value is computed.
#[derive(Clone, Copy)]
enum RawBin {
    Negative(i32),
    Zero,
    Positive(i32),
}

fn value_of(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

impl Sketch {
    /// An empty sketch; allocates nothing until the first value.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` with `weight` (`1 / sample_rate`). Non-finite values and non-positive
    /// weights are ignored: the parser never produces them.
    pub fn add(&mut self, value: f64, weight: f64) {
        if !value.is_finite() || weight.is_nan() || weight <= 0.0 {
            return;
        }
        if value.abs() < MIN_INDEXABLE {
            self.zero += weight;
        } else if value > 0.0 {
            self.positive.add(index_of(value), weight);
        } else {
            self.negative.add(index_of(-value), weight);
        }
        self.count += weight;
    }

    /// Adds every bin of `other` into `self`.
    pub fn merge(&mut self, other: &Sketch) {
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zero += other.zero;
        self.count += other.count;
    }

    /// The raw state, for the spool's binary form: each store's first index and bins
    /// (positive, then negative), the zero bin and the total weight.
    pub(crate) fn raw_parts(&self) -> RawParts<'_> {
        RawParts {
            positive: (self.positive.offset, &self.positive.bins),
            negative: (self.negative.offset, &self.negative.bins),
            zero: self.zero,
            count: self.count,
        }
    }

    /// A sketch rebuilt from [`Sketch::raw_parts`], bin for bin. `None` when a store holds
    /// more than [`MAX_BINS`] bins, or bins at indexes no finite value has (the index
    /// arithmetic of a store would overflow on them), which no sketch of this build produces.
    pub(crate) fn from_raw_parts(
        positive: (i32, Vec<f64>),
        negative: (i32, Vec<f64>),
        zero: f64,
        count: f64,
    ) -> Option<Self> {
        if !store_fits(positive.0, positive.1.len()) || !store_fits(negative.0, negative.1.len()) {
            return None;
        }
        Some(Self {
            positive: Store { offset: positive.0, bins: positive.1 },
            negative: Store { offset: negative.0, bins: negative.1 },
            zero,
            count,
        })
    }

    /// Total weight added.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0.0
    }

    /// Forgets every value and releases the bins' memory.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The value at quantile `q` in `0.0..=1.0`, within [`RELATIVE_ACCURACY`] of the true
    /// sample at that rank; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * self.count;
        let mut seen = 0.0;
        let mut last = None;
        // Bins as (which, weight), in increasing value order; a bin's value is computed only
        // for the answer (it costs a `powi`, and a window's sketch has hundreds of bins).
        for (bin, weight) in self.raw_bins() {
            seen += weight;
            last = Some(bin);
            if seen > rank {
                break;
            }
        }
        last.map(|bin| match bin {
            RawBin::Negative(i) => -value_of(i),
            RawBin::Zero => 0.0,
            RawBin::Positive(i) => value_of(i),
        })
    }

    /// Each non-empty bin as its store and index, with its weight, in increasing value order.
    fn raw_bins(&self) -> impl Iterator<Item = (RawBin, f64)> + '_ {
        let negative = self.negative.iter().rev().map(|(i, w)| (RawBin::Negative(i), w));
        let zero = (self.zero > 0.0).then_some((RawBin::Zero, self.zero));
        let positive = self.positive.iter().map(|(i, w)| (RawBin::Positive(i), w));
        negative.chain(zero).chain(positive)
    }

    /// Each non-empty bin as `(representative value, weight)`, in increasing value order.
    pub fn bins(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let negative = self.negative.iter().rev().map(|(i, w)| (-value_of(i), w));
        let zero = (self.zero > 0.0).then_some((0.0, self.zero));
        let positive = self.positive.iter().map(|(i, w)| (value_of(i), w));
        negative.chain(zero).chain(positive)
    }

    /// Each non-empty bin with its bounds, in increasing value order, as [`Sketch::bins`].
    pub(crate) fn bounded_bins(&self) -> impl Iterator<Item = Bin> + '_ {
        let negative = self.negative.iter().rev().map(|(i, weight)| {
            let (lower, upper) = self.negative.magnitude_bounds(i);
            Bin { value: -value_of(i), lower: -upper, upper: -lower, weight }
        });
        let zero = (self.zero > 0.0).then_some(Bin {
            value: 0.0,
            lower: -MIN_INDEXABLE,
            upper: MIN_INDEXABLE,
            weight: self.zero,
        });
        let positive = self.positive.iter().map(|(i, weight)| {
            let (lower, upper) = self.positive.magnitude_bounds(i);
            Bin { value: value_of(i), lower, upper, weight }
        });
        negative.chain(zero).chain(positive)
    }

    /// Number of non-empty bins.
    pub fn bin_count(&self) -> usize {
        self.raw_bins().count()
    }
}
