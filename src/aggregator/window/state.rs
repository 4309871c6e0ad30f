//! [`WindowState`]: samples in, series updated, one window out per flush.

use std::mem;
use std::sync::Arc;

use backends::{Event, Series, SeriesKey, ServiceCheck, SummaryKind, Value, Window};
use hashbrown::HashTable;

use super::counts::{DropReason, IngestCounts};
use super::fold::Fold;
use super::key::{dedup_sorted, series_hash};
use super::series::{Slot, State, take_buckets};
use super::settings::{MAX_EVENTS_PER_WINDOW, MAX_SERVICE_CHECKS_PER_WINDOW, WindowSettings};
use crate::aggregator::input::{Kind, MAX_TAGS, Sample, SampleValue};

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

    /// Folds one typed sample into its series, creating the series if there is room.
    pub fn insert_sample(&mut self, sample: &Sample) {
        self.counts.lines += 1;
        let value = sample.value();
        let Some(mut fold) = self.fold(sample.name(), sample.tags(), sample.tags().len(), value.kind(), || 1) else {
            return;
        };
        match value {
            SampleValue::Counter(v)
            | SampleValue::Timer(v)
            | SampleValue::Histogram(v)
            | SampleValue::Distribution(v) => {
                fold.add(*v, sample.rate());
            }
            SampleValue::Gauge(v) => fold.set_gauge(*v),
            SampleValue::GaugeDelta(v) => fold.move_gauge(*v),
            SampleValue::Set(member) => fold.member(member),
            SampleValue::Weighted(weighted) => fold.weighted(weighted),
            SampleValue::Buckets(buckets) => {
                if fold.buckets(buckets) {
                    self.counts.rebucketed += 1;
                }
            }
        }
    }

    /// Counts one valid line (or sample) for [`IngestCounts::lines`].
    pub(crate) fn count_line(&mut self) {
        self.counts.lines += 1;
    }

    /// Counts one malformed line under the decoder's reason `index` (below
    /// [`PARSE_ERROR_REASONS`](super::PARSE_ERROR_REASONS)).
    pub(crate) fn count_malformed(&mut self, index: usize) {
        if let Some(n) = self.counts.parse_errors.get_mut(index) {
            *n += 1;
        }
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

    /// The series `name` with `tags` (any order, duplicates allowed; `tag_count` of them, at
    /// most [`MAX_TAGS`]) ready to take samples of `kind`, created if there is room. `None`
    /// when the series is refused (the cap, or another kind owns it): the `samples()` samples
    /// the caller had for it are counted as dropped. A series already seen allocates nothing.
    #[inline(always)]
    #[allow(clippy::inline_always, reason = "measured: see fold_with")]
    pub(crate) fn fold<'m>(
        &mut self,
        name: &'m str,
        tags: impl Iterator<Item = &'m str>,
        tag_count: usize,
        kind: Kind,
        samples: impl FnOnce() -> u64,
    ) -> Option<Fold<'_>> {
        // Most lines carry few tags: a small buffer keeps the per-line stack work small.
        if tag_count <= SMALL_TAGS {
            self.fold_with(name, tags, kind, samples, &mut [""; SMALL_TAGS])
        } else {
            self.fold_with(name, tags, kind, samples, &mut [""; MAX_TAGS])
        }
    }

    // Inlined into each caller (the StatsD line fold, the typed sample fold) as the single
    // function the code was before: measured with callgrind, a call here costs about 3 %.
    #[inline(always)]
    #[allow(clippy::inline_always, reason = "the hot path; measured with callgrind")]
    fn fold_with<'m>(
        &mut self,
        name: &'m str,
        tags: impl Iterator<Item = &'m str>,
        kind: Kind,
        samples: impl FnOnce() -> u64,
        buffer: &mut [&'m str],
    ) -> Option<Fold<'_>> {
        let mut n = 0;
        for (slot, tag) in buffer.iter_mut().zip(tags) {
            *slot = tag;
            n += 1;
        }
        let tags = &mut buffer[..n];
        if !tags.is_sorted() {
            tags.sort_unstable();
        }
        let n = dedup_sorted(tags);
        let tags = &buffer[..n];
        let hash = series_hash(name, tags);

        let slots = &self.slots;
        let found = self.table.find(hash, |&i| {
            slots[i as usize].as_ref().is_some_and(|s| {
                s.hash == hash
                    && *s.key.name == *name
                    && s.key.tags.len() == tags.len()
                    && s.key.tags.iter().zip(tags).all(|(a, b)| **a == **b)
            })
        });
        let index = if let Some(i) = found.copied() {
            i as usize
        } else if let Some(i) = self.create(name, tags, hash, kind) {
            i
        } else {
            self.counts.dropped[DropReason::MaxSeries.index()] += samples();
            return None;
        };
        let slot = self.slots[index].as_mut()?;
        if slot.state.kind() != kind {
            self.counts.dropped[DropReason::TypeConflict.index()] += samples();
            return None;
        }
        slot.last_window = self.window;
        Some(Fold {
            state: &mut slot.state,
            bounds: &self.settings.buckets,
            dropped_members: &mut self.counts.dropped[DropReason::SetMembers.index()],
        })
    }

    /// Creates a series and returns its slot, or `None` at `max_series`.
    fn create(&mut self, name: &str, tags: &[&str], hash: u64, kind: Kind) -> Option<usize> {
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
                State::Buckets(buckets) => Value::Buckets(Box::new(take_buckets(buckets))),
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
