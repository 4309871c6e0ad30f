//! Per-backend delivery telemetry, written by the delivery task and read by the HTTP API.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// What a backend is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendState {
    /// Nothing sent yet, nothing failed.
    Starting,
    /// The last window was delivered.
    Healthy,
    /// The last attempt failed; windows are queued.
    Failing,
    /// The backend has been closed at shutdown.
    Stopped,
}

/// Counters and state of one backend's delivery. All fields are cheap to update.
#[derive(Debug)]
pub struct BackendStats {
    /// The sink's name in the config (`[sinks.NAME]`).
    pub name: String,
    /// Series acknowledged by the backend.
    pub sent_series: AtomicU64,
    /// Windows acknowledged by the backend.
    pub sent_windows: AtomicU64,
    /// Failed requests whose retry could succeed.
    pub errors_retriable: AtomicU64,
    /// Failed requests the backend refused for good.
    pub errors_rejected: AtomicU64,
    /// Requests sent again after a failure.
    pub retries: AtomicU64,
    /// Series dropped because the queue was full.
    pub dropped_buffer_full: AtomicU64,
    /// Series dropped because the backend refused them.
    pub dropped_rejected: AtomicU64,
    /// Series left out because the backend's data model cannot hold them next to others (two
    /// Prometheus families of one name, or one family with other label names).
    pub dropped_conflict: AtomicU64,
    /// Series dropped because their window was retried for longer than `retry.max_elapsed`.
    pub dropped_retry_exhausted: AtomicU64,
    /// Series dropped because their points were older than the backend's API stores.
    pub dropped_too_old: AtomicU64,
    /// Series dropped because a batch of one could not be split below the backend's size limit.
    pub dropped_too_large: AtomicU64,
    /// Windows waiting in the queue.
    pub buffered_windows: AtomicU64,
    /// Estimated bytes of the windows waiting in the queue.
    pub buffered_bytes: AtomicU64,
    /// Windows waiting in the disk spool (a subset of `buffered_windows`).
    pub spooled_windows: AtomicU64,
    /// Bytes of the records of the windows waiting in the disk spool.
    pub spooled_bytes: AtomicU64,
    /// End of the oldest waiting window, Unix milliseconds (0 when none waits).
    pub oldest_end_ms: AtomicU64,
    /// Windows found in the spool at start, not yet delivered or given up.
    pub replay_pending: AtomicU64,
    /// Windows found in the spool at start and since delivered or given up.
    pub replayed_windows: AtomicU64,
    /// Torn or corrupt spool records skipped (their series cannot be counted).
    pub spool_corrupt_records: AtomicU64,
    /// Spool writes and syncs that failed (a full or failing disk); meanwhile new windows
    /// wait in memory, and each one tries the disk again.
    pub spool_errors: AtomicU64,
    inner: Mutex<Inner>,
}

/// Where a backend's windows wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferMode {
    /// In memory, as configured.
    Memory,
    /// On disk, as configured.
    Disk,
    /// Configured on disk, but the spool could not be opened or written: new windows wait
    /// in memory until a write to the spool succeeds again.
    MemoryFallback,
}

#[derive(Debug)]
struct Inner {
    state: BackendState,
    last_success_ms: Option<u64>,
    last_error: Option<String>,
    buffer: BufferMode,
    buffer_error: Option<String>,
}

/// A point-in-time copy of a backend's state, for `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    /// The sink's name.
    pub name: String,
    /// What the backend is doing.
    pub state: BackendState,
    /// When a window was last acknowledged, Unix milliseconds.
    pub last_success_ms: Option<u64>,
    /// The last error, as logged.
    pub last_error: Option<String>,
    /// Windows waiting in the queue.
    pub queue_depth: u64,
    /// Estimated bytes of the windows waiting in memory.
    pub buffered_bytes: u64,
    /// Where windows wait: `memory`, `disk`, or `memory_fallback` when the disk failed.
    pub buffer: BufferMode,
    /// Why the disk buffer fell back to memory.
    pub buffer_error: Option<String>,
    /// Windows spooled to disk (0 with the memory buffer).
    pub spooled_windows: u64,
    /// Bytes spooled to disk (0 with the memory buffer).
    pub spooled_bytes: u64,
    /// Age of the oldest waiting window (from its end), seconds; `None` when none waits.
    pub oldest_age_seconds: Option<f64>,
    /// Windows found in the spool at start: still to replay, and replayed.
    pub replay: Replay,
    /// Torn or corrupt spool records skipped.
    pub spool_corrupt_records: u64,
    /// Spool writes and syncs that failed.
    pub spool_errors: u64,
    /// Series acknowledged since start.
    pub sent_series: u64,
    /// Series dropped since start, for any reason.
    pub dropped_series: u64,
    /// Series dropped since start, by reason (only reasons that happened).
    pub dropped: std::collections::BTreeMap<&'static str, u64>,
}

/// Replay progress of the windows a disk buffer held at start.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Replay {
    /// Still waiting.
    pub pending: u64,
    /// Delivered or given up since start.
    pub done: u64,
}

impl BackendStats {
    /// Fresh counters for the sink `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            sent_series: AtomicU64::new(0),
            sent_windows: AtomicU64::new(0),
            errors_retriable: AtomicU64::new(0),
            errors_rejected: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dropped_buffer_full: AtomicU64::new(0),
            dropped_rejected: AtomicU64::new(0),
            dropped_conflict: AtomicU64::new(0),
            dropped_retry_exhausted: AtomicU64::new(0),
            dropped_too_old: AtomicU64::new(0),
            dropped_too_large: AtomicU64::new(0),
            buffered_windows: AtomicU64::new(0),
            buffered_bytes: AtomicU64::new(0),
            spooled_windows: AtomicU64::new(0),
            spooled_bytes: AtomicU64::new(0),
            oldest_end_ms: AtomicU64::new(0),
            replay_pending: AtomicU64::new(0),
            replayed_windows: AtomicU64::new(0),
            spool_corrupt_records: AtomicU64::new(0),
            spool_errors: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                state: BackendState::Starting,
                last_success_ms: None,
                last_error: None,
                buffer: BufferMode::Memory,
                buffer_error: None,
            }),
        }
    }

    /// Records a window the backend acknowledged (its series are counted batch by batch).
    pub fn record_success(&self) {
        self.sent_windows.fetch_add(1, Relaxed);
        let mut inner = self.lock();
        inner.state = BackendState::Healthy;
        inner.last_success_ms = Some(now_ms());
    }

    /// Records a failed attempt.
    pub fn record_error(&self, retriable: bool, message: String) {
        let counter = if retriable { &self.errors_retriable } else { &self.errors_rejected };
        counter.fetch_add(1, Relaxed);
        let mut inner = self.lock();
        inner.state = BackendState::Failing;
        inner.last_error = Some(message);
    }

    /// Records where windows wait, and why when the disk buffer fell back to memory.
    pub fn set_buffer(&self, mode: BufferMode, error: Option<String>) {
        let mut inner = self.lock();
        inner.buffer = mode;
        inner.buffer_error = error;
    }

    /// Where windows wait now.
    pub fn buffer(&self) -> BufferMode {
        self.lock().buffer
    }

    /// Age of the oldest waiting window in seconds, if one waits.
    pub fn oldest_age_seconds(&self) -> Option<f64> {
        let end = self.oldest_end_ms.load(Relaxed);
        (end > 0).then(|| now_ms().saturating_sub(end) as f64 / 1000.0)
    }

    /// Marks the backend stopped at shutdown.
    pub fn record_stopped(&self) {
        self.lock().state = BackendState::Stopped;
    }

    /// Series dropped since start, by the `reason` label of
    /// `sluice_backend_dropped_series_total`.
    pub fn dropped(&self) -> [(&'static str, u64); 6] {
        [
            ("buffer_full", self.dropped_buffer_full.load(Relaxed)),
            ("conflict", self.dropped_conflict.load(Relaxed)),
            ("rejected", self.dropped_rejected.load(Relaxed)),
            ("retry_exhausted", self.dropped_retry_exhausted.load(Relaxed)),
            ("too_large", self.dropped_too_large.load(Relaxed)),
            ("too_old", self.dropped_too_old.load(Relaxed)),
        ]
    }

    /// A copy for `/status`.
    pub fn status(&self) -> BackendStatus {
        let inner = self.lock();
        BackendStatus {
            name: self.name.clone(),
            state: inner.state,
            last_success_ms: inner.last_success_ms,
            last_error: inner.last_error.clone(),
            queue_depth: self.buffered_windows.load(Relaxed),
            buffered_bytes: self.buffered_bytes.load(Relaxed),
            buffer: inner.buffer,
            buffer_error: inner.buffer_error.clone(),
            spooled_windows: self.spooled_windows.load(Relaxed),
            spooled_bytes: self.spooled_bytes.load(Relaxed),
            oldest_age_seconds: self.oldest_age_seconds(),
            replay: Replay { pending: self.replay_pending.load(Relaxed), done: self.replayed_windows.load(Relaxed) },
            spool_corrupt_records: self.spool_corrupt_records.load(Relaxed),
            spool_errors: self.spool_errors.load(Relaxed),
            sent_series: self.sent_series.load(Relaxed),
            dropped_series: self.dropped().iter().map(|(_, n)| n).sum(),
            dropped: self.dropped().into_iter().filter(|(_, n)| *n > 0).collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent: keep going.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Now, Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
