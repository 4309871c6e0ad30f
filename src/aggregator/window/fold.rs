//! [`Fold`]: one series, found or created and of the right kind, taking its samples.

use backends::Buckets;

use crate::aggregator::input::Weighted;

use super::key::member_hash;
use super::series::{State, add_buckets};
use super::settings::MAX_SET_MEMBERS;

/// A live series of the kind its samples have, borrowed from the window state for as long as
/// one line's (or one sample's) values are folded in.
#[derive(Debug)]
pub(crate) struct Fold<'s> {
    pub(super) state: &'s mut State,
    /// The configured bucket bounds, sorted.
    pub(super) bounds: &'s [f64],
    /// Where a set member beyond [`MAX_SET_MEMBERS`] is counted.
    pub(super) dropped_members: &'s mut u64,
}

impl Fold<'_> {
    /// A counter increment or a timer, histogram or distribution sample, weighed `1 / rate`.
    #[inline]
    pub(crate) fn add(&mut self, value: f64, rate: f64) {
        match self.state {
            State::Counter(sum) => *sum += value / rate,
            State::Timer(s) | State::Histogram(s) | State::Distribution(s) => s.add(value, rate, self.bounds),
            State::Gauge(_) | State::Set(_) | State::Buckets(_) => {}
        }
    }

    /// Distribution observations reported by bucket: their values and weights into the sketch
    /// and the configured buckets, the client's exact totals into count, sum, min and max.
    #[inline]
    pub(crate) fn weighted(&mut self, weighted: &Weighted) {
        if let State::Distribution(s) = self.state {
            s.add_weighted(weighted, self.bounds);
        }
    }

    /// Sets a gauge.
    #[inline]
    pub(crate) fn set_gauge(&mut self, value: f64) {
        if let State::Gauge(current) = self.state {
            *current = value;
        }
    }

    /// Moves a gauge by `delta`.
    #[inline]
    pub(crate) fn move_gauge(&mut self, delta: f64) {
        if let State::Gauge(current) = self.state {
            *current += delta;
        }
    }

    /// Adds a set member, unless the set already counts [`MAX_SET_MEMBERS`] others this window.
    #[inline]
    pub(crate) fn member(&mut self, member: &[u8]) {
        let State::Set(members) = self.state else { return };
        let member = member_hash(member);
        if members.find(member, |&m| m == member).is_none() {
            if members.len() < MAX_SET_MEMBERS {
                members.insert_unique(member, member, |&m| m);
            } else {
                *self.dropped_members += 1;
            }
        }
    }

    /// Adds an explicit-bucket histogram's observations; true when its bounds changed while
    /// the window held observations (they moved to the new bounds).
    pub(crate) fn buckets(&mut self, sample: &Buckets) -> bool {
        if let State::Buckets(window) = self.state { add_buckets(window, sample) } else { false }
    }
}
