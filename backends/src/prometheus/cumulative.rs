//! The cumulative state behind a Prometheus output's counters, histograms and sets, and its
//! file in `data_dir`, so totals continue across restarts of the agent.
//!
//! Prometheus counters and histograms are totals since the series was first seen, while a
//! window carries only what happened during it. An output adds each window once (when it
//! encodes it) and writes the state to disk after each window was handled, atomically: a
//! temporary file renamed over the old one, so a crash leaves either file, never half of one.
//! The state is keyed by series and carries the spool position of the last window it counted,
//! so a window replayed from a disk spool is never counted twice.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::delivery::Position;
use crate::model::{Buckets, Summary, SummaryKind, Value, Window};
use crate::sketch::RELATIVE_ACCURACY;

/// Version of the state file's layout; a file of another version is refused (`StateError::Version`).
/// Version 2 keeps each histogram's bucket bounds with it (a mapping rule may give a series
/// its own); a version 1 file, whose histograms all used the file's `bounds`, still loads.
const FILE_VERSION: u32 = 2;

/// The version before per-series bounds, migrated on load.
const FILE_VERSION_SHARED_BOUNDS: u32 = 1;

/// What a cumulative series is, as kept in the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A StatsD counter: its running total.
    Counter,
    /// A StatsD set: the distinct count of the last window (0 when the last window saw none).
    Set,
    /// A timer: a histogram in seconds.
    Timer,
    /// A StatsD histogram: a histogram in its own unit.
    Histogram,
    /// A distribution: a histogram in its own unit.
    Distribution,
    /// An explicit-bucket histogram (OpenTelemetry, Prometheus clients): its own unit and the
    /// bounds its client chose, counted exactly.
    Buckets,
}

impl Kind {
    fn of_summary(kind: SummaryKind) -> Self {
        match kind {
            SummaryKind::Timer => Self::Timer,
            SummaryKind::Histogram => Self::Histogram,
            SummaryKind::Distribution => Self::Distribution,
        }
    }
}

/// The identity of a cumulative series: its kind, StatsD name and tags as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Key {
    /// Counter, set or one of the histogram kinds.
    pub kind: Kind,
    /// The metric name as received.
    pub name: Box<str>,
    /// The series' tags as received, sorted.
    pub tags: Box<[Box<str>]>,
}

/// The running value of one cumulative series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// End of the last window that updated the series, Unix milliseconds (for expiry).
    pub seen_ms: u64,
    /// Counter total, or the set's last distinct count.
    #[serde(default)]
    pub value: f64,
    /// Histograms: weighted sample count since first seen.
    #[serde(default)]
    pub count: f64,
    /// Histograms: sum of the samples since first seen (seconds for timers).
    #[serde(default)]
    pub sum: f64,
    /// Histograms: cumulative count at or below each of [`Entry::bounds`].
    #[serde(default)]
    pub buckets: Vec<f64>,
    /// Histograms: the bucket upper bounds the counts were cut at (the sink's `buckets`, or a
    /// mapping rule's); empty for a summary, a counter or a set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<f64>,
}

/// How one cumulative series is kept, as the sink's mapping rules decide for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Policy {
    /// Not kept at all (`action = "drop"`).
    pub drop: bool,
    /// Histograms: the bounds to count at; `None` for the state's own [`State::bounds`].
    pub bounds: Option<std::sync::Arc<[f64]>>,
    /// Forgotten when not updated since this time, Unix milliseconds.
    pub expire_before_ms: Option<u64>,
}

/// Every cumulative series an output has sent, and the bucket bounds their histograms use
/// unless a mapping rule gives them others.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    /// Default bucket upper bounds, in seconds for timers (the sink's `buckets` key).
    pub bounds: Vec<f64>,
    /// The series and their totals.
    pub entries: HashMap<Key, Entry>,
    /// The spool position of the last window added, when the sink has a disk buffer: a
    /// window replayed at or before it is already in the totals.
    pub applied: Option<Position>,
    /// True when the entries changed since the last [`State::save`].
    dirty: bool,
}

/// Why a state file cannot be loaded; the agent refuses to start rather than lose totals.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not a state file (or is damaged).
    #[error("{} is not a sluice state file ({source}); move it away to start from zero", path.display())]
    Parse {
        /// The state file.
        path: PathBuf,
        /// What the JSON parser refused.
        source: serde_json::Error,
    },
    /// The file was written by a sluice with another layout.
    #[error("{} has state version {found}, this sluice reads {FILE_VERSION_SHARED_BOUNDS} and {FILE_VERSION}; move it away to start from zero", path.display())]
    Version {
        /// The state file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
    },
}

/// The file form of [`State`].
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    bounds: Vec<f64>,
    #[serde(default)]
    applied: Option<Position>,
    series: Vec<(Key, Entry)>,
}

/// [`StateFile`] borrowed, for saving without copying.
#[derive(Serialize)]
struct StateFileRef<'a> {
    version: u32,
    bounds: &'a [f64],
    applied: Option<Position>,
    series: Vec<(&'a Key, &'a Entry)>,
}

impl State {
    /// An empty state for histograms with `bounds`.
    pub(crate) fn new(bounds: Vec<f64>) -> Self {
        Self { bounds, entries: HashMap::new(), applied: None, dirty: false }
    }

    /// Loads `path`, or starts empty when it does not exist. Histograms saved with the old
    /// default bounds restart from zero when `bounds` differs (their buckets cannot be re-cut);
    /// those a mapping rule gave bounds of their own are checked when they are next updated
    /// ([`State::apply_with`]). An unreadable or foreign file is an error, so an operator never
    /// loses totals silently. A version 1 file (one set of bounds for every histogram) loads
    /// as if each histogram carried the file's bounds.
    pub(crate) fn load(path: &Path, bounds: Vec<f64>) -> Result<Self, StateError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new(bounds)),
            Err(source) => return Err(StateError::Read { path: path.to_owned(), source }),
        };
        let mut file: StateFile =
            serde_json::from_slice(&text).map_err(|source| StateError::Parse { path: path.to_owned(), source })?;
        match file.version {
            FILE_VERSION => {}
            FILE_VERSION_SHARED_BOUNDS => {
                for (key, entry) in &mut file.series {
                    if !matches!(key.kind, Kind::Counter | Kind::Set) {
                        entry.bounds.clone_from(&file.bounds);
                    }
                }
                tracing::info!(path = %path.display(), "State file of version 1 read; it is saved as version 2.");
            }
            found => return Err(StateError::Version { path: path.to_owned(), found }),
        }
        let same_bounds = file.bounds == bounds;
        let mut entries = HashMap::with_capacity(file.series.len());
        let mut reset = 0_usize;
        for (key, entry) in file.series {
            let followed_default = entry.bounds == file.bounds;
            let own_bounds = matches!(key.kind, Kind::Counter | Kind::Set | Kind::Buckets);
            if own_bounds || same_bounds || !followed_default {
                entries.insert(key, entry);
            } else {
                reset += 1;
            }
        }
        if reset > 0 {
            tracing::warn!(
                path = %path.display(),
                histograms = reset,
                "The buckets changed since the state was saved: those histograms restart from zero."
            );
        }
        let migrated = file.version != FILE_VERSION;
        Ok(Self { bounds, entries, applied: file.applied, dirty: reset > 0 || migrated })
    }

    /// Writes the state to `path` atomically (a temporary file renamed over it), if it changed
    /// since the last save.
    pub(crate) fn save(&mut self, path: &Path) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut series: Vec<(&Key, &Entry)> = self.entries.iter().collect();
        series.sort_by(|a, b| (&a.0.name, &a.0.tags).cmp(&(&b.0.name, &b.0.tags)));
        let body = serde_json::to_vec(&StateFileRef {
            version: FILE_VERSION,
            bounds: &self.bounds,
            applied: self.applied,
            series,
        })
        .map_err(std::io::Error::other)?;
        let tmp = temp_path(path);
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&body)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        self.dirty = false;
        Ok(())
    }

    /// Adds one window: counters add their sum, histograms their count, sum and buckets, sets
    /// take their distinct count; sets the window did not update fall to 0. Each series is
    /// kept as `policy(kind, name)` says (mapping rules): dropped series are not kept, a
    /// histogram counts at its own bounds (and restarts from zero, logged, when those changed
    /// since it was last counted), and each series expires at its own cutoff. Returns how many
    /// of the window's series a rule dropped.
    pub(crate) fn apply_with(&mut self, window: &Window, policy: &dyn Fn(Kind, &str) -> Policy) -> u64 {
        for set in self.entries.iter_mut().filter(|(k, _)| k.kind == Kind::Set) {
            set.1.value = 0.0;
        }
        let mut rebucketed = 0_u64;
        let mut recut = 0_u64;
        let mut dropped = 0_u64;
        for series in &window.series {
            let kind = match &series.value {
                Value::Counter { .. } => Kind::Counter,
                Value::Set { .. } => Kind::Set,
                Value::Summary(s) => Kind::of_summary(s.kind),
                Value::Buckets(_) => Kind::Buckets,
                Value::Gauge { .. } => continue,
            };
            let rule = policy(kind, &series.key.name);
            if rule.drop {
                dropped += 1;
                continue;
            }
            let key = Key { kind, name: series.key.name.clone(), tags: series.key.tags.clone() };
            let entry = self.entries.entry(key).or_insert_with(|| Entry {
                seen_ms: 0,
                value: 0.0,
                count: 0.0,
                sum: 0.0,
                buckets: Vec::new(),
                bounds: Vec::new(),
            });
            entry.seen_ms = window.end_ms;
            match &series.value {
                Value::Counter { sum, .. } => entry.value += sum,
                Value::Set { count, .. } => entry.value = *count as f64,
                Value::Summary(s) => {
                    let bounds: &[f64] = rule.bounds.as_deref().unwrap_or(&self.bounds);
                    if entry.bounds != bounds {
                        if entry.count > 0.0 {
                            rebucketed += 1;
                            entry.count = 0.0;
                            entry.sum = 0.0;
                        }
                        entry.bounds = bounds.to_vec();
                        entry.buckets.clear();
                    }
                    let divisor = unit_divisor(s.kind);
                    entry.buckets.resize(bounds.len(), 0.0);
                    for (total, add) in entry.buckets.iter_mut().zip(bucket_counts(s, bounds, divisor)) {
                        *total += add;
                    }
                    entry.count += s.count;
                    entry.sum += s.sum / divisor;
                }
                Value::Buckets(b) => {
                    if add_buckets(entry, b) {
                        recut += 1;
                    }
                }
                Value::Gauge { .. } => {}
            }
        }
        if rebucketed > 0 {
            tracing::warn!(
                histograms = rebucketed,
                "The buckets of these histograms changed (a mapping rule or the sink's buckets); they restart from zero."
            );
        }
        if recut > 0 {
            tracing::warn!(
                histograms = recut,
                "Clients changed the bucket bounds of these histograms; their totals were re-cut to the new bounds."
            );
        }
        self.entries
            .retain(|key, e| policy(key.kind, &key.name).expire_before_ms.is_none_or(|before| e.seen_ms >= before));
        self.dirty = true;
        dropped
    }
}

/// Adds an explicit-bucket histogram's window to its entry, at the bounds the client sent.
/// When the client's bounds changed, the totals so far are re-cut rather than reset (the
/// aggregator does the same within a window): count and sum carry on, a new bound takes the
/// total at the largest old bound at or below it (observations known to be at or below it),
/// and a bound in both keeps its total exactly. Returns true when the bounds changed.
fn add_buckets(entry: &mut Entry, buckets: &Buckets) -> bool {
    let changed = entry.bounds[..] != buckets.bounds[..];
    if changed {
        let recut = buckets
            .bounds
            .iter()
            .map(|&bound| {
                let below = entry.bounds.iter().rposition(|&old| old <= bound);
                below.and_then(|i| entry.buckets.get(i)).copied().unwrap_or(0.0)
            })
            .collect();
        entry.buckets = recut;
        entry.bounds = buckets.bounds.to_vec();
    }
    for (total, (_, add)) in entry.buckets.iter_mut().zip(buckets.cumulative()) {
        *total += add as f64;
    }
    entry.count += buckets.count() as f64;
    entry.sum += buckets.sum;
    changed && entry.count > buckets.count() as f64
}

/// `path` with `.tmp` appended, in the same directory so the rename is atomic.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// What a summary's values are divided by to reach the pushed unit: timers go from
/// milliseconds to seconds, the others keep their unit.
fn unit_divisor(kind: SummaryKind) -> f64 {
    if kind == SummaryKind::Timer { 1000.0 } else { 1.0 }
}

/// The weighted count of samples at or below each of `bounds` (in the unit after dividing
/// by `divisor`).
///
/// Exact when the aggregator counted buckets at the same bounds (`[sources.statsd] buckets`,
/// in milliseconds for timers); exact too for a bound below the window's minimum (0) or at or
/// above its maximum (every sample). Otherwise the counts come from the window's sketch,
/// whose bins are 2 % wide: a bin that straddles a bound counts as at or below it, so a
/// sample up to 2 % above a bound may be counted in that bound's bucket. A sample exactly on
/// a bound (`le` is inclusive) is always counted right.
pub(crate) fn bucket_counts(summary: &Summary, bounds: &[f64], divisor: f64) -> Vec<f64> {
    if let Some(exact) = aggregator_buckets(summary, bounds, divisor) {
        return exact;
    }
    let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
    let (min, max) = (summary.min / divisor, summary.max / divisor);
    let bins: Vec<(f64, f64)> = summary
        .sketch
        .bins()
        .map(|(v, w)| {
            // The smallest value the bin can hold: its lower edge for positive bins, its
            // upper edge mirrored for negative ones.
            let low = if v > 0.0 { v * (gamma + 1.0) / (2.0 * gamma) } else { v * (gamma + 1.0) / 2.0 };
            (low / divisor, w)
        })
        .collect();
    bounds
        .iter()
        .map(|&bound| {
            if bound < min {
                0.0
            } else if bound >= max {
                summary.count
            } else {
                let below: f64 = bins.iter().filter(|(low, _)| *low <= bound).map(|(_, w)| w).sum();
                below.min(summary.count)
            }
        })
        .collect()
}

/// The aggregator's exact counts when it counted every one of `bounds`.
fn aggregator_buckets(summary: &Summary, bounds: &[f64], divisor: f64) -> Option<Vec<f64>> {
    bounds
        .iter()
        .map(|&bound| summary.buckets.iter().find(|(upper, _)| upper / divisor == bound).map(|&(_, count)| count))
        .collect()
}
