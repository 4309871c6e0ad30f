//! The queue's state, shared by its handle, the delivery task and the spool's thread: the
//! entries in order, their bounds, and what is dropped when a bound is exceeded.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::delivery::config::{BufferConfig, WhenFull};
use crate::delivery::spool::{Location, Meta, Progress};
use crate::delivery::stats::{BackendStats, BufferMode};
use crate::model::Window;

/// A full buffer logs what it dropped at most once per this interval (each drop is counted).
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Spooled windows kept decoded in memory as well: the front one the delivery task works on
/// and the next. The others are read back from the disk when their turn comes, so a long
/// outage costs disk, not memory.
pub const DECODED_AHEAD: usize = 2;

/// What the queue's handle, its delivery task and its spool thread share.
#[derive(Debug)]
pub struct Shared {
    /// The entries and their counts.
    pub inner: Mutex<Inner>,
    /// Wakes the delivery task when an entry arrives or the queue closes.
    pub notify: Notify,
    /// `max_windows`: windows held in memory only.
    pub max_windows: usize,
    /// `max_bytes`: bytes of every entry, in memory and on disk.
    pub max_bytes: u64,
    /// What a full queue drops.
    pub when_full: WhenFull,
    /// The backend's telemetry.
    pub stats: Arc<BackendStats>,
}

/// One queued window.
#[derive(Debug)]
pub struct Entry {
    /// Its number in the queue, for the delivery task to name it.
    pub ticket: u64,
    /// The window, unless it waits on disk only (read back when its turn comes).
    pub window: Option<Arc<Window>>,
    /// What the queue needs to know of it without the window.
    pub meta: Meta,
    /// Bytes it counts against `max_bytes`.
    pub bytes: u64,
    /// Where the spool holds it, for a disk entry.
    pub disk: Option<OnDisk>,
}

/// A queued window's place in the spool.
#[derive(Debug)]
pub struct OnDisk {
    /// Its record.
    pub location: Location,
    /// Found in the spool at start (counted as replay).
    pub replayed: bool,
    /// How far its delivery got before a restart: those batches are not sent again.
    pub progress: Progress,
}

/// The entries, oldest first, and their running counts.
#[derive(Debug, Default)]
pub struct Inner {
    /// The windows waiting, oldest first.
    pub entries: VecDeque<Entry>,
    /// Bytes of every entry.
    pub bytes: u64,
    /// Entries held in memory only.
    pub in_memory: usize,
    /// Entries in the spool.
    pub spooled: u64,
    /// Bytes of the entries in the spool.
    pub spooled_bytes: u64,
    /// No more windows will be pushed.
    pub closed: bool,
    /// The next entry's ticket.
    pub next_ticket: u64,
    /// The spool's id, once it is open.
    pub spool_id: Option<u64>,
    /// What was dropped since the last log line.
    pub drop_log: DropLog,
}

/// Drops counted since the last log line about them.
#[derive(Debug, Default)]
pub struct DropLog {
    /// When the last line was logged.
    pub last: Option<Instant>,
    /// Windows dropped since.
    pub windows: u64,
    /// Their series.
    pub series: u64,
}

impl Shared {
    /// Empty, bounded as `config` says.
    pub fn new(config: &BufferConfig, stats: Arc<BackendStats>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            max_windows: config.max_windows.max(1),
            max_bytes: config.max_bytes.0,
            when_full: config.when_full,
            stats,
        }
    }

    /// The entries; a panic elsewhere cannot leave them inconsistent, so poison is ignored.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Says, in the log and `/status`, that new windows wait in memory, and why.
    pub fn fall_back(&self, reason: String) {
        tracing::error!(backend = %self.stats.name, reason = %reason, "Disk buffer unusable: buffering in memory.");
        self.stats.set_buffer(BufferMode::MemoryFallback, Some(reason));
    }

    /// No more windows will be pushed: wakes the delivery task to drain and stop.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Gives entry `ticket` its window, read back from the spool.
    pub fn set_window(&self, ticket: u64, window: Arc<Window>) {
        let mut inner = self.lock();
        if let Some(e) = inner.entries.iter_mut().find(|e| e.ticket == ticket) {
            e.window = Some(window);
        }
    }

    /// Queues a window held in memory only.
    pub fn admit_memory(&self, window: Arc<Window>) {
        let meta = Meta { end_ms: window.end_ms, series: window.series.len() as u64 };
        let bytes = window.approx_bytes();
        if self.refuses(bytes) {
            self.refuse(meta.series);
            return;
        }
        self.admit(Some(window), meta, bytes, None);
    }

    /// True when `drop_newest` keeps the queue as it is rather than take `bytes` more.
    pub fn refuses(&self, bytes: u64) -> bool {
        let inner = self.lock();
        self.when_full == WhenFull::DropNewest
            && !inner.entries.is_empty()
            && (inner.in_memory >= self.max_windows || inner.bytes + bytes > self.max_bytes)
    }

    pub fn refuse(&self, series: u64) {
        self.stats.dropped_buffer_full.fetch_add(series, Relaxed);
        self.lock().drop_log.note(&self.stats.name, series, "Buffer full: dropped the newest window.");
    }

    /// Queues an entry, then drops the oldest while a bound is exceeded (the newest entry is
    /// always kept). Returns the highest spool seq dropped, to release.
    pub fn admit(&self, window: Option<Arc<Window>>, meta: Meta, bytes: u64, disk: Option<OnDisk>) -> Option<u64> {
        let mut released = None;
        {
            let mut inner = self.lock();
            let ticket = inner.next_ticket;
            inner.next_ticket += 1;
            inner.bytes += bytes;
            inner.in_memory += usize::from(disk.is_none());
            if disk.is_some() {
                inner.spooled += 1;
                inner.spooled_bytes += bytes;
            }
            inner.entries.push_back(Entry { ticket, window, meta, bytes, disk });
            while inner.entries.len() > 1 && (inner.in_memory > self.max_windows || inner.bytes > self.max_bytes) {
                let old = inner.pop_front();
                self.stats.dropped_buffer_full.fetch_add(old.meta.series, Relaxed);
                if old.disk.as_ref().is_some_and(|d| d.replayed) {
                    self.stats.replay_pending.fetch_sub(1, Relaxed);
                }
                released = old.disk.map(|d| d.location.seq).or(released);
                inner.drop_log.note(&self.stats.name, old.meta.series, "Buffer full: dropped the oldest windows.");
            }
            self.publish_depth(&inner);
        }
        self.notify.notify_one();
        released
    }

    /// Copies the counts to the telemetry.
    pub fn publish_depth(&self, inner: &Inner) {
        self.stats.buffered_windows.store(inner.entries.len() as u64, Relaxed);
        self.stats.buffered_bytes.store(inner.bytes, Relaxed);
        self.stats.spooled_windows.store(inner.spooled, Relaxed);
        self.stats.spooled_bytes.store(inner.spooled_bytes, Relaxed);
        self.stats.oldest_end_ms.store(inner.entries.front().map_or(0, |e| e.meta.end_ms.max(1)), Relaxed);
    }
}

impl Inner {
    /// Removes the oldest entry and takes it off the counts.
    pub fn pop_front(&mut self) -> Entry {
        let entry = self.entries.pop_front().expect("a front entry");
        self.bytes -= entry.bytes;
        self.in_memory -= usize::from(entry.disk.is_none());
        if entry.disk.is_some() {
            self.spooled -= 1;
            self.spooled_bytes -= entry.bytes;
        }
        entry
    }
}

impl DropLog {
    /// Counts one dropped window and logs the drops since the last message, at most once per
    /// [`DROP_LOG_INTERVAL`].
    pub fn note(&mut self, backend: &str, series: u64, message: &'static str) {
        self.windows += 1;
        self.series += series;
        if self.last.is_some_and(|t| t.elapsed() < DROP_LOG_INTERVAL) {
            return;
        }
        tracing::warn!(backend, windows = self.windows, series = self.series, "{message}");
        *self = Self { last: Some(Instant::now()), windows: 0, series: 0 };
    }
}
