//! Cumulative points to per-window deltas: the last point of every cumulative series, and the
//! rules that decide what a new point adds.
//!
//! A series is identified by everything that identifies an OTLP stream (every resource and
//! scope attribute, not only those kept as tags; the scope's name and version; the metric's
//! name and type; the point's attributes), so two processes that differ only in a dropped
//! attribute each have their own baseline and their increases add up in the window.
//!
//! - A point continues its series when its `start_time_unix_nano` is the one seen before and no
//!   total went down: it adds the difference.
//! - A changed start time, or a total that went down, is a reset: the point's whole value is
//!   the increase since the reset (it counts from zero).
//! - A point older (`time_unix_nano`) than the last one seen is refused as `out_of_order`:
//!   comparing it would make a negative or doubled increase.
//! - The first point of a series counts in full when its start time is at or after the moment
//!   the receiver started (the series began while sluice was listening); otherwise it is only
//!   the baseline, since what it counts before that moment belongs to no window of sluice's.
//! - At most `max_series` series are kept (a point of a new one beyond it is refused as
//!   `max_series`); a series not reported for `expire_after` is forgotten.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::reject::RejectReason;

/// How often, at most, forgotten series are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A point's two timestamps, in Unix nanoseconds (0 when the client did not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// When the series' current count began.
    pub start: u64,
    /// When the point was taken.
    pub time: u64,
}

/// What a cumulative point adds to the window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step<T> {
    /// This much since the series' previous point (or since its start).
    Delta(T),
    /// Nothing: the point is the series' first and only sets the baseline.
    Baseline,
    /// Nothing, and the point is refused for this reason.
    Refused(RejectReason),
}

/// A series' last totals, per OTLP type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Last {
    /// A monotonic sum.
    Number(f64),
    /// An explicit-bucket histogram: bounds, count per bucket, sum.
    Histogram(std::sync::Arc<[f64]>, Vec<u64>, f64),
    /// An exponential histogram.
    Exponential(super::exponential::Totals),
    /// A summary's count and sum.
    Summary(u64, f64),
}

#[derive(Debug)]
struct Entry {
    stamp: Stamp,
    seen: Instant,
    last: Last,
}

/// The last point of every cumulative series. See the [module docs](self). Public for the
/// scrape benchmark, which keeps its state across reads.
#[derive(Debug)]
pub struct Cumulative {
    series: HashMap<Box<[u8]>, Entry>,
    max_series: usize,
    expire_after: Duration,
    /// When the receiver started, in Unix nanoseconds.
    started: u64,
    last_sweep: Option<Instant>,
}

impl Cumulative {
    /// No series yet; `started` is the receiver's start in Unix nanoseconds.
    pub fn new(max_series: usize, expire_after: Duration, started: u64) -> Self {
        Self { series: HashMap::new(), max_series, expire_after, started, last_sweep: None }
    }

    /// Series kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    /// Forgets the series `key` (a point flagged as having no recorded value ends it).
    pub(crate) fn forget(&mut self, key: &[u8]) {
        self.series.remove(key);
    }

    /// Records `last` as the series `key`'s totals at `stamp` and returns what it adds:
    /// `delta(previous, last)` while the series continues (`None` when a total went down: a
    /// reset), `whole(last)` after a reset or for a first point that counts in full.
    pub(crate) fn step<T>(
        &mut self,
        key: &[u8],
        stamp: Stamp,
        now: Instant,
        last: Last,
        delta: impl FnOnce(&Last, &Last) -> Option<T>,
        whole: impl FnOnce(&Last) -> T,
    ) -> Step<T> {
        let first_in_full = stamp.start != 0 && stamp.start >= self.started;
        self.step_first(key, stamp, now, last, first_in_full, delta, whole)
    }

    /// [`step`](Self::step), with the caller deciding whether a first point counts in full
    /// (the scrape source knows more than a start time: whether the target was read before).
    #[allow(clippy::too_many_arguments)] // `step`'s, and the one decision it makes itself.
    pub(crate) fn step_first<T>(
        &mut self,
        key: &[u8],
        stamp: Stamp,
        now: Instant,
        last: Last,
        first_in_full: bool,
        delta: impl FnOnce(&Last, &Last) -> Option<T>,
        whole: impl FnOnce(&Last) -> T,
    ) -> Step<T> {
        self.sweep(now);
        if let Some(entry) = self.series.get_mut(key) {
            if stamp.time < entry.stamp.time {
                return Step::Refused(RejectReason::OutOfOrder);
            }
            let added = if stamp.start == entry.stamp.start {
                delta(&entry.last, &last).unwrap_or_else(|| whole(&last))
            } else {
                whole(&last)
            };
            *entry = Entry { stamp, seen: now, last };
            return Step::Delta(added);
        }
        if self.series.len() >= self.max_series {
            return Step::Refused(RejectReason::MaxSeries);
        }
        let added = first_in_full.then(|| whole(&last));
        self.series.insert(key.into(), Entry { stamp, seen: now, last });
        added.map_or(Step::Baseline, Step::Delta)
    }

    /// Forgets the series not reported for `expire_after`, at most once per [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|last| now.saturating_duration_since(last) < SWEEP_EVERY) {
            return;
        }
        self.last_sweep = Some(now);
        let expire_after = self.expire_after;
        self.series.retain(|_, entry| now.saturating_duration_since(entry.seen) < expire_after);
    }
}

/// The increase of a monotonic sum from `previous` to `now`, `None` when it went down.
pub(crate) fn increase(previous: f64, now: f64) -> Option<f64> {
    (now >= previous).then_some(now - previous)
}
