//! The flushed-window model: what the aggregator hands to every backend at each flush.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

use crate::sketch::Sketch;

/// The identity of a series: its name and its sorted, de-duplicated tags.
///
/// Tags are stored as written on the wire (`key:value`, or a bare `key`), sorted bytewise.
/// `hash` is computed once by the aggregator over the name and the sorted tags, so maps
/// keyed by series never rehash the strings.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesKey {
    /// The metric name as received.
    pub name: Box<str>,
    /// Sorted, de-duplicated tags, each `key:value` or a bare `key`.
    pub tags: Box<[Box<str>]>,
    /// A hash of `name` and `tags`, stable within one build of sluice.
    #[serde(skip)]
    pub hash: u64,
}

impl SeriesKey {
    /// Splits each tag into `(key, value)`; a bare tag has an empty value.
    pub fn tag_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|t| split_tag(t))
    }
}

/// Splits a `key:value` tag at its first colon; a bare tag has an empty value.
pub fn split_tag(tag: &str) -> (&str, &str) {
    tag.split_once(':').unwrap_or((tag, ""))
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.name == other.name && self.tags == other.tags
    }
}

impl Eq for SeriesKey {}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// One series of a window: its identity and what the window observed.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Name and tags. Shared with the aggregator's state, so a flush copies no strings.
    pub key: Arc<SeriesKey>,
    /// The aggregate for this window.
    pub value: Value,
}

/// What a window carries for one series (see the semantics table in `docs/translation.md`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    /// A StatsD counter (`c`): an incremental value.
    Counter {
        /// Sum of `value / rate` over the window: a delta, not a running total.
        sum: f64,
        /// `sum` divided by the window length in seconds.
        rate: f64,
    },
    /// A StatsD gauge (`g`): an absolute value, kept across windows until the series expires.
    Gauge {
        /// The last value, after every delta of the window applied in arrival order.
        value: f64,
    },
    /// A StatsD set (`s`): the distinct members seen in the window.
    Set {
        /// The number of distinct members.
        count: u64,
        /// A 64-bit hash of each distinct member, for backends that forward members.
        #[serde(skip)]
        members: Vec<u64>,
    },
    /// A timer (`ms`), histogram (`h`) or distribution (`d`).
    Summary(Box<Summary>),
    /// An explicit-bucket histogram, as OpenTelemetry and Prometheus clients count one: the
    /// window's observations per bucket of the bounds the client chose, kept exactly.
    Buckets(Box<Buckets>),
}

/// The kind of a sampled metric; backends name and scale them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryKind {
    /// `ms`: values are milliseconds.
    Timer,
    /// `h`: unitless samples.
    Histogram,
    /// `d`: unitless samples that backends should merge globally (sketches).
    Distribution,
}

/// The aggregate of a timer, histogram or distribution over one window.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Which StatsD type produced it.
    pub kind: SummaryKind,
    /// Number of samples, each weighted by `1 / rate` (so it can be fractional).
    pub count: f64,
    /// Sum of the sample values, each weighted by `1 / rate`.
    pub sum: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// `(q, value)` for each configured percentile `q` in `0..=100`, from the sketch.
    pub percentiles: Vec<(f64, f64)>,
    /// `(upper_bound, cumulative weighted count)` for each configured bucket, exact; the
    /// implicit `+Inf` bucket is `count`.
    pub buckets: Vec<(f64, f64)>,
    /// The window's mergeable sketch, for backends that take sketches.
    #[serde(skip)]
    pub sketch: Sketch,
}

impl Summary {
    /// The value at quantile `q` (`0.0..=1.0`) of the window's samples: from the sketch, within
    /// its 2 %, clamped to the exact minimum and maximum; `None` for an empty summary.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        self.sketch.quantile(q).map(|v| v.clamp(self.min, self.max))
    }

    /// The weighted mean, or 0 for an empty summary.
    pub fn mean(&self) -> f64 {
        if self.count > 0.0 { self.sum / self.count } else { 0.0 }
    }
}

/// An explicit-bucket histogram over one window (a delta, like a counter's `sum`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Buckets {
    /// Upper bounds, finite and strictly increasing; the `+Inf` bucket is implicit.
    pub bounds: Arc<[f64]>,
    /// Observations per bucket, not cumulative: `counts[i]` fell in `(bounds[i - 1],
    /// bounds[i]]`, and the last, `counts[bounds.len()]`, above every bound. One longer than
    /// `bounds`.
    pub counts: Vec<u64>,
    /// Sum of the observed values.
    pub sum: f64,
    /// Smallest observed value, when the client reported it.
    pub min: Option<f64>,
    /// Largest observed value, when the client reported it.
    pub max: Option<f64>,
}

impl Buckets {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(upper_bound, observations at or below it)` for each finite bound, as Prometheus'
    /// `le` buckets count; the `+Inf` bucket is [`count`](Self::count).
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.bounds.iter().zip(&self.counts).scan(0, |total, (&bound, &count)| {
            *total += count;
            Some((bound, *total))
        })
    }

    /// The weighted mean, or 0 for an empty histogram.
    pub fn mean(&self) -> f64 {
        let count = self.count();
        if count > 0 { self.sum / count as f64 } else { 0.0 }
    }
}

/// A DogStatsD event (`_e{…}`), forwarded to backends that take events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Event title.
    pub title: String,
    /// Event text (`\\n` in the wire form is a newline here).
    pub text: String,
    /// `d:` Unix seconds, if given.
    pub timestamp: Option<i64>,
    /// `h:` hostname, if given.
    pub hostname: Option<String>,
    /// `k:` aggregation key, if given.
    pub aggregation_key: Option<String>,
    /// `p:` priority (`normal` or `low`), if given.
    pub priority: Option<String>,
    /// `s:` source type name, if given.
    pub source_type: Option<String>,
    /// `t:` alert type (`error`, `warning`, `info`, `success`), if given.
    pub alert_type: Option<String>,
    /// `#` tags.
    pub tags: Vec<String>,
}

/// A DogStatsD service check (`_sc|…`), forwarded to backends that take them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCheck {
    /// Check name.
    pub name: String,
    /// 0 OK, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
    /// `d:` Unix seconds, if given.
    pub timestamp: Option<i64>,
    /// `h:` hostname, if given.
    pub hostname: Option<String>,
    /// `m:` message, if given.
    pub message: Option<String>,
    /// `#` tags.
    pub tags: Vec<String>,
}

/// Everything one flush interval observed, handed to every backend.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Sequence number of this window within the agent's run, from 1.
    pub id: u64,
    /// Start of the window, Unix milliseconds.
    pub start_ms: u64,
    /// End of the window (exclusive), Unix milliseconds; backends timestamp points with it.
    pub end_ms: u64,
    /// The host this agent runs on (`[agent].hostname`).
    pub hostname: Arc<str>,
    /// Tags the operator adds to every series (`[agent].tags`), as `key:value`, sorted.
    pub tags: Arc<[Box<str>]>,
    /// The series updated in this window, and every live gauge.
    pub series: Vec<Series>,
    /// Events received in this window.
    pub events: Vec<Event>,
    /// Service checks received in this window.
    pub service_checks: Vec<ServiceCheck>,
}

impl Window {
    /// An estimate of the memory the window holds, for buffer budgets (`buffer.max_bytes`).
    pub fn approx_bytes(&self) -> u64 {
        /// Pointers, lengths and the value enum of one series.
        const PER_SERIES: usize = 64;
        let series: usize = self
            .series
            .iter()
            .map(|s| {
                let key = s.key.name.len() + s.key.tags.iter().map(|t| t.len() + 16).sum::<usize>();
                let value = match &s.value {
                    Value::Set { members, .. } => members.len() * 8,
                    Value::Summary(sum) => {
                        std::mem::size_of::<Summary>()
                            + (sum.percentiles.len() + sum.buckets.len()) * 16
                            + sum.sketch.bin_count() * 8
                    }
                    Value::Buckets(b) => std::mem::size_of::<Buckets>() + b.counts.len() * 8,
                    Value::Counter { .. } | Value::Gauge { .. } => 0,
                };
                PER_SERIES + key + value
            })
            .sum();
        let other: usize = self.events.iter().map(|e| 128 + e.title.len() + e.text.len()).sum::<usize>()
            + self.service_checks.iter().map(|c| 96 + c.name.len()).sum::<usize>();
        (std::mem::size_of::<Self>() + series + other) as u64
    }
}
