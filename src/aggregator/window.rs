//! The pure window state: parsed lines in, one [`Window`] out per flush. No tokio, no clock:
//! the aggregator task owns a [`WindowState`], feeds it datagrams and calls
//! [`WindowState::flush`] on its tick.
//!
//! # Semantics (per window)
//!
//! | type | state | emitted |
//! | --- | --- | --- |
//! | `c` | Σ value / rate | `Counter { sum, rate: sum / window seconds }` when updated |
//! | `g` | last value; `+N`/`-N` deltas applied in arrival order, from 0 for a new gauge | `Gauge` every window until the series expires |
//! | `ms` `h` `d` | count and sum weighted by 1 / rate, min, max, a [`Sketch`], exact bucket counts | `Summary` when updated |
//! | `s` | 64-bit hashes of distinct members, at most [`MAX_SET_MEMBERS`] per window | `Set` when updated |
//!
//! # Identity
//!
//! A series is its name and its sorted, de-duplicated tags ([`SeriesKey`]). The container id
//! and the `|T` timestamp of a line are not part of it: a timestamped sample is folded into the
//! open window. The StatsD type is **not** part of the identity either: the first type seen for
//! a series owns it until the series expires, and a line of another type for the same name and
//! tags is refused and counted as [`DropReason::TypeConflict`]. Backends never see two series
//! with one key and two types (Prometheus, InfluxDB and Datadog would reject or mix them).
//!
//! # Bounds
//!
//! At most `max_series` live series; a line that would create one more is refused and its
//! samples counted as [`DropReason::MaxSeries`]. A series not updated for
//! `expire_after_windows` consecutive windows is removed at that flush (a gauge is re-emitted
//! in each idle window before that), which frees its slot. Events and service checks are kept
//! up to [`MAX_EVENTS_PER_WINDOW`] and [`MAX_SERVICE_CHECKS_PER_WINDOW`] per window.
//!
//! # Cost
//!
//! A line for a series already seen allocates nothing: the tags are sorted in a stack array,
//! hashed with the name, and looked up in a [`HashTable`] that compares against the stored
//! key. Memory is allocated only when a series is created (and by sketches and sets as they
//! grow, within their bounds).

use std::mem;
use std::sync::Arc;

use backends::{Event, Series, SeriesKey, ServiceCheck, Sketch, Summary, SummaryKind, Value, Window};
use hashbrown::HashTable;

use crate::sources::statsd::parser::{self, GaugeUpdate, Item, MAX_TAGS, Metric, MetricType, ParseError};

/// Most distinct members one set series counts per window; more are dropped as
/// [`DropReason::SetMembers`].
pub const MAX_SET_MEMBERS: usize = 4096;
/// Tags a line may carry and still be sorted in the small stack buffer.
const SMALL_TAGS: usize = 8;
/// Most events kept per window; more are dropped as [`DropReason::Events`].
pub const MAX_EVENTS_PER_WINDOW: usize = 1024;
/// Most service checks kept per window; more are dropped as [`DropReason::ServiceChecks`].
pub const MAX_SERVICE_CHECKS_PER_WINDOW: usize = 1024;

/// What shapes the windows; built from the config by the aggregator.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    /// Percentiles (`0..=100`) computed for timers, histograms and distributions, in the order
    /// they are emitted. Out-of-range values are ignored (config validation rejects them).
    pub percentiles: Vec<f64>,
    /// Upper bounds of the cumulative buckets counted for timers, histograms and
    /// distributions; sorted and de-duplicated here, non-finite bounds ignored.
    pub buckets: Vec<f64>,
    /// Most live series; a new series beyond it is refused and counted.
    pub max_series: usize,
    /// Windows without an update after which a series is removed; 0 is treated as 1.
    pub expire_after_windows: u32,
    /// Copied into every [`Window::hostname`].
    pub hostname: Arc<str>,
    /// Copied into every [`Window::tags`].
    pub tags: Arc<[Box<str>]>,
}

impl WindowSettings {
    fn normalized(mut self) -> Self {
        self.percentiles.retain(|p| (0.0..=100.0).contains(p));
        self.buckets.retain(|b| b.is_finite());
        self.buckets.sort_by(f64::total_cmp);
        self.buckets.dedup();
        self
    }
}

/// Why samples (or events) were refused after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The line would have created a series beyond `max_series`.
    MaxSeries,
    /// The series exists with another StatsD type.
    TypeConflict,
    /// A set already counts [`MAX_SET_MEMBERS`] distinct members this window.
    SetMembers,
    /// [`MAX_EVENTS_PER_WINDOW`] events were already kept this window.
    Events,
    /// [`MAX_SERVICE_CHECKS_PER_WINDOW`] service checks were already kept this window.
    ServiceChecks,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 5;

    /// Every reason, in [`DropReason::index`] order.
    pub const ALL: [DropReason; Self::COUNT] =
        [Self::MaxSeries, Self::TypeConflict, Self::SetMembers, Self::Events, Self::ServiceChecks];

    /// Every label, in [`DropReason::index`] order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = {
        let mut labels = [""; Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            labels[i] = Self::ALL[i].as_str();
            i += 1;
        }
        labels
    };

    /// The `reason` label, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MaxSeries => "max_series",
            Self::TypeConflict => "type_conflict",
            Self::SetMembers => "set_members",
            Self::Events => "events",
            Self::ServiceChecks => "service_checks",
        }
    }

    /// The position of this reason in [`DropReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counts accumulated by [`WindowState::ingest`] since the last [`WindowState::take_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Valid lines: metrics, events and service checks (whether kept or dropped later).
    pub lines: u64,
    /// Malformed lines, indexed by [`ParseError::index`].
    pub parse_errors: [u64; ParseError::COUNT],
    /// Refused samples (or events), indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::COUNT],
    /// Events received (kept or dropped).
    pub events: u64,
    /// Service checks received (kept or dropped).
    pub service_checks: u64,
}

impl IngestCounts {
    /// Malformed lines, all reasons together.
    pub fn parse_error_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

/// Lines of one datagram, for the listener's `lines` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    /// Non-empty lines, valid or not.
    pub lines: u64,
    /// Of those, lines rejected by the parser.
    pub errors: u64,
}

/// The state of the open window and every live series. See the module docs.
#[derive(Debug)]
pub struct WindowState {
    settings: WindowSettings,
    /// Indices into `slots`, hashed by [`SeriesKey::hash`].
    table: HashTable<u32>,
    /// Series storage; `None` marks a free slot listed in `free`.
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    live: usize,
    /// Id of the open window.
    window: u64,
    events: Vec<Event>,
    service_checks: Vec<ServiceCheck>,
    counts: IngestCounts,
}

#[derive(Debug)]
struct Slot {
    key: Arc<SeriesKey>,
    /// Copy of `key.hash`, so a probe compares it without a pointer chase.
    hash: u64,
    /// Id of the window in which the series was last updated.
    last_window: u64,
    state: State,
}

/// One variant per StatsD type, so the type check needs no pointer chase.
#[derive(Debug)]
enum State {
    Counter(f64),
    Gauge(f64),
    Timer(Box<SummaryState>),
    Histogram(Box<SummaryState>),
    Distribution(Box<SummaryState>),
    Set(Box<HashTable<u64>>),
}

impl State {
    fn new(kind: MetricType, buckets: usize) -> Self {
        match kind {
            MetricType::Counter => Self::Counter(0.0),
            MetricType::Gauge => Self::Gauge(0.0),
            MetricType::Timer => Self::Timer(Box::new(SummaryState::new(buckets))),
            MetricType::Histogram => Self::Histogram(Box::new(SummaryState::new(buckets))),
            MetricType::Distribution => Self::Distribution(Box::new(SummaryState::new(buckets))),
            MetricType::Set => Self::Set(Box::default()),
        }
    }

    fn kind(&self) -> MetricType {
        match self {
            Self::Counter(_) => MetricType::Counter,
            Self::Gauge(_) => MetricType::Gauge,
            Self::Timer(_) => MetricType::Timer,
            Self::Histogram(_) => MetricType::Histogram,
            Self::Distribution(_) => MetricType::Distribution,
            Self::Set(_) => MetricType::Set,
        }
    }
}

#[derive(Debug)]
struct SummaryState {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    sketch: Sketch,
    /// Weighted count per bucket (not cumulative), one per configured bound.
    buckets: Box<[f64]>,
}

impl SummaryState {
    fn new(buckets: usize) -> Self {
        Self {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sketch: Sketch::new(),
            buckets: vec![0.0; buckets].into_boxed_slice(),
        }
    }

    fn add(&mut self, value: f64, rate: f64, bounds: &[f64]) {
        let weight = 1.0 / rate;
        self.count += weight;
        self.sum += value / rate;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sketch.add(value, weight);
        let bucket = bounds.partition_point(|&b| b < value);
        if let Some(slot) = self.buckets.get_mut(bucket) {
            *slot += weight;
        }
    }

    /// The window's summary; resets the state for the next window.
    fn take(&mut self, kind: SummaryKind, settings: &WindowSettings) -> Summary {
        let (min, max) = (self.min, self.max);
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

impl WindowState {
    /// An empty state; the first flushed window has id 1.
    pub fn new(settings: WindowSettings) -> Self {
        Self {
            settings: settings.normalized(),
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            window: 1,
            events: Vec::new(),
            service_checks: Vec::new(),
            counts: IngestCounts::default(),
        }
    }

    /// Replaces the settings (config reload) and keeps every series. Bucket counts of the open
    /// window restart from zero when the bucket bounds changed.
    pub fn reconfigure(&mut self, settings: WindowSettings) {
        let settings = settings.normalized();
        if settings.buckets != self.settings.buckets {
            for slot in self.slots.iter_mut().flatten() {
                if let State::Timer(s) | State::Histogram(s) | State::Distribution(s) = &mut slot.state {
                    s.buckets = vec![0.0; settings.buckets.len()].into_boxed_slice();
                }
            }
        }
        self.settings = settings;
    }

    /// The settings in use (normalized).
    pub fn settings(&self) -> &WindowSettings {
        &self.settings
    }

    /// Live series (the `sluice_series` gauge).
    pub fn series_count(&self) -> usize {
        self.live
    }

    /// Parses `datagram` and folds every valid line into the open window. Malformed lines and
    /// refused samples are counted (see [`WindowState::take_counts`]); the returned counts are
    /// this datagram's lines, for the listener that read it.
    pub fn ingest(&mut self, datagram: &[u8]) -> DatagramCounts {
        let mut out = DatagramCounts::default();
        for item in parser::parse_datagram(datagram) {
            out.lines += 1;
            match item {
                Ok(Item::Metric(metric)) => {
                    self.counts.lines += 1;
                    self.insert(&metric);
                }
                Ok(Item::Event(event)) => {
                    self.counts.lines += 1;
                    self.push_event(*event);
                }
                Ok(Item::ServiceCheck(check)) => {
                    self.counts.lines += 1;
                    self.push_service_check(*check);
                }
                Err(error) => {
                    out.errors += 1;
                    self.counts.parse_errors[error.index()] += 1;
                }
            }
        }
        out
    }

    /// Returns the counts accumulated since the last call and resets them.
    pub fn take_counts(&mut self) -> IngestCounts {
        mem::take(&mut self.counts)
    }

    /// Keeps an event for this window, or counts it dropped when the window has enough.
    pub fn push_event(&mut self, event: Event) {
        self.counts.events += 1;
        if self.events.len() < MAX_EVENTS_PER_WINDOW {
            self.events.push(event);
        } else {
            self.counts.dropped[DropReason::Events.index()] += 1;
        }
    }

    /// Keeps a service check for this window, or counts it dropped when the window has enough.
    pub fn push_service_check(&mut self, check: ServiceCheck) {
        self.counts.service_checks += 1;
        if self.service_checks.len() < MAX_SERVICE_CHECKS_PER_WINDOW {
            self.service_checks.push(check);
        } else {
            self.counts.dropped[DropReason::ServiceChecks.index()] += 1;
        }
    }

    /// Folds one metric line into its series, creating the series if there is room.
    pub fn insert(&mut self, metric: &Metric<'_>) {
        // Most lines carry few tags: a small buffer keeps the per-line stack work small.
        if metric.tag_count() <= SMALL_TAGS {
            self.insert_with(metric, &mut [""; SMALL_TAGS]);
        } else {
            self.insert_with(metric, &mut [""; MAX_TAGS]);
        }
    }

    fn insert_with<'m>(&mut self, metric: &Metric<'m>, buffer: &mut [&'m str]) {
        let mut n = 0;
        for (slot, tag) in buffer.iter_mut().zip(metric.tags()) {
            *slot = tag;
            n += 1;
        }
        let tags = &mut buffer[..n];
        if !tags.is_sorted() {
            tags.sort_unstable();
        }
        let n = dedup_sorted(tags);
        let tags = &buffer[..n];
        let hash = series_hash(metric.name, tags);

        let slots = &self.slots;
        let found = self.table.find(hash, |&i| {
            slots[i as usize].as_ref().is_some_and(|s| {
                s.hash == hash
                    && *s.key.name == *metric.name
                    && s.key.tags.len() == tags.len()
                    && s.key.tags.iter().zip(tags).all(|(a, b)| **a == **b)
            })
        });
        let index = if let Some(i) = found.copied() {
            i as usize
        } else if let Some(i) = self.create(metric.name, tags, hash, metric.kind) {
            i
        } else {
            self.counts.dropped[DropReason::MaxSeries.index()] += metric.sample_count() as u64;
            return;
        };
        let Some(slot) = self.slots[index].as_mut() else { return };
        if slot.state.kind() != metric.kind {
            self.counts.dropped[DropReason::TypeConflict.index()] += metric.sample_count() as u64;
            return;
        }
        slot.last_window = self.window;
        let rate = metric.sample_rate;
        match &mut slot.state {
            State::Counter(sum) => {
                for value in metric.values() {
                    *sum += value / rate;
                }
            }
            State::Gauge(current) => {
                for update in metric.gauge_updates() {
                    match update {
                        GaugeUpdate::Set(value) => *current = value,
                        GaugeUpdate::Delta(delta) => *current += delta,
                    }
                }
            }
            State::Timer(s) | State::Histogram(s) | State::Distribution(s) => {
                for value in metric.values() {
                    s.add(value, rate, &self.settings.buckets);
                }
            }
            State::Set(members) => {
                let member = member_hash(metric.member().unwrap_or_default());
                if members.find(member, |&m| m == member).is_none() {
                    if members.len() < MAX_SET_MEMBERS {
                        members.insert_unique(member, member, |&m| m);
                    } else {
                        self.counts.dropped[DropReason::SetMembers.index()] += 1;
                    }
                }
            }
        }
    }

    /// Creates a series and returns its slot, or `None` at `max_series`.
    fn create(&mut self, name: &str, tags: &[&str], hash: u64, kind: MetricType) -> Option<usize> {
        if self.live >= self.settings.max_series {
            return None;
        }
        let key = Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|&t| Box::from(t)).collect(), hash });
        let slot = Slot { key, hash, last_window: self.window, state: State::new(kind, self.settings.buckets.len()) };
        let index = if let Some(free) = self.free.pop() {
            self.slots[free as usize] = Some(slot);
            free
        } else {
            self.slots.push(Some(slot));
            (self.slots.len() - 1) as u32
        };
        let slots = &self.slots;
        self.table.insert_unique(hash, index, |&i| slots[i as usize].as_ref().map_or(0, |s| s.hash));
        self.live += 1;
        Some(index as usize)
    }

    /// Closes the open window `[start_ms, end_ms)` and returns it: every series updated in it,
    /// and every live gauge. Series idle for `expire_after_windows` windows are removed first.
    pub fn flush(&mut self, start_ms: u64, end_ms: u64) -> Window {
        let id = self.window;
        let seconds = end_ms.saturating_sub(start_ms) as f64 / 1000.0;
        let expire = u64::from(self.settings.expire_after_windows.max(1));
        let mut series = Vec::new();
        for (index, entry) in self.slots.iter_mut().enumerate() {
            let Some(slot) = entry else { continue };
            let idle = id - slot.last_window;
            if idle >= expire {
                if let Ok(found) = self.table.find_entry(slot.hash, |&i| i as usize == index) {
                    found.remove();
                }
                *entry = None;
                self.free.push(index as u32);
                self.live -= 1;
                continue;
            }
            let value = match &mut slot.state {
                State::Gauge(value) => Value::Gauge { value: *value },
                _ if idle > 0 => continue,
                State::Counter(sum) => {
                    let sum = mem::take(sum);
                    Value::Counter { sum, rate: if seconds > 0.0 { sum / seconds } else { 0.0 } }
                }
                State::Timer(s) => Value::Summary(Box::new(s.take(SummaryKind::Timer, &self.settings))),
                State::Histogram(s) => Value::Summary(Box::new(s.take(SummaryKind::Histogram, &self.settings))),
                State::Distribution(s) => Value::Summary(Box::new(s.take(SummaryKind::Distribution, &self.settings))),
                State::Set(members) => {
                    let members: Vec<u64> = mem::take(&mut **members).into_iter().collect();
                    Value::Set { count: members.len() as u64, members }
                }
            };
            series.push(Series { key: Arc::clone(&slot.key), value });
        }
        self.window += 1;
        Window {
            id,
            start_ms,
            end_ms,
            hostname: Arc::clone(&self.settings.hostname),
            tags: Arc::clone(&self.settings.tags),
            series,
            events: mem::take(&mut self.events),
            service_checks: mem::take(&mut self.service_checks),
        }
    }
}

/// Removes adjacent duplicates in place; returns the new length.
fn dedup_sorted(tags: &mut [&str]) -> usize {
    if tags.is_empty() {
        return 0;
    }
    let mut kept = 1;
    for i in 1..tags.len() {
        if tags[i] != tags[kept - 1] {
            tags[kept] = tags[i];
            kept += 1;
        }
    }
    kept
}

/// [`SeriesKey::hash`] of a name and its sorted, de-duplicated tags. Deterministic, so it is
/// stable within one build of sluice.
pub fn series_hash(name: &str, sorted_tags: &[&str]) -> u64 {
    let mut hasher = KeyHasher(0x243F_6A88_85A3_08D3);
    hasher.write(name.as_bytes());
    for tag in sorted_tags {
        hasher.write(tag.as_bytes());
    }
    hasher.finish()
}

fn member_hash(member: &[u8]) -> u64 {
    let mut hasher = KeyHasher(0x1319_8A2E_0370_7344);
    hasher.write(member);
    hasher.finish()
}

/// A small, fast, deterministic hasher in the style of foldhash: each field is folded in
/// 16 bytes at a time with a 64×64→128-bit multiply whose halves are xored, the field's length
/// is mixed in so field boundaries count, and a `MurmurHash3` finaliser spreads every input bit
/// over the top bits hashbrown uses for its control bytes.
struct KeyHasher(u64);

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xA076_1D64_78BD_642F;

#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[inline]
fn read_u32(bytes: &[u8]) -> u64 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u64::from(u32::from_le_bytes(word))
}

impl KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        let mut state = self.0.wrapping_add(len as u64).wrapping_mul(K0);
        let (a, b) = if len <= 16 {
            if len >= 8 {
                (read_u64(bytes), read_u64(&bytes[len - 8..]))
            } else if len >= 4 {
                (read_u32(bytes), read_u32(&bytes[len - 4..]))
            } else if len > 0 {
                (u64::from(bytes[0]), u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]))
            } else {
                (0, 0)
            }
        } else {
            let mut rest = bytes;
            while rest.len() > 16 {
                state = folded_multiply(read_u64(rest) ^ state, read_u64(&rest[8..]) ^ K1);
                rest = &rest[16..];
            }
            (read_u64(&bytes[len - 16..]), read_u64(&bytes[len - 8..]))
        };
        self.0 = folded_multiply(a ^ state, b ^ K1);
    }

    #[inline]
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod alloc_counter;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
