//! [`WindowState`]: lines in, series updated, one window out per flush.

use std::mem;
use std::sync::Arc;

use backends::{Event, Series, SeriesKey, ServiceCheck, SummaryKind, Value, Window};
use hashbrown::HashTable;

use super::counts::{DatagramCounts, DropReason, IngestCounts};
use super::key::{dedup_sorted, member_hash, series_hash};
use super::series::{Slot, State};
use super::settings::{MAX_EVENTS_PER_WINDOW, MAX_SERVICE_CHECKS_PER_WINDOW, MAX_SET_MEMBERS, WindowSettings};
use crate::sources::statsd::parser::{self, GaugeUpdate, Item, MAX_TAGS, Metric, MetricType};

/// Tags a line may carry and still be sorted in the small stack buffer.
const SMALL_TAGS: usize = 8;

/// The state of the open window and every live series. See the [module docs](super).
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
