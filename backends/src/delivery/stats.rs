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
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: BackendState,
    last_success_ms: Option<u64>,
    last_error: Option<String>,
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
    /// Bytes spooled to disk (0 with the memory buffer).
    pub spooled_bytes: u64,
    /// Series acknowledged since start.
    pub sent_series: u64,
    /// Series dropped since start, for any reason.
    pub dropped_series: u64,
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
            dropped_retry_exhausted: AtomicU64::new(0),
            dropped_too_old: AtomicU64::new(0),
            dropped_too_large: AtomicU64::new(0),
            buffered_windows: AtomicU64::new(0),
            buffered_bytes: AtomicU64::new(0),
            inner: Mutex::new(Inner { state: BackendState::Starting, last_success_ms: None, last_error: None }),
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

    /// Marks the backend stopped at shutdown.
    pub fn record_stopped(&self) {
        self.lock().state = BackendState::Stopped;
    }

    /// Series dropped since start, by the `reason` label of
    /// `sluice_backend_dropped_series_total`.
    pub fn dropped(&self) -> [(&'static str, u64); 5] {
        [
            ("buffer_full", self.dropped_buffer_full.load(Relaxed)),
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
            spooled_bytes: 0,
            sent_series: self.sent_series.load(Relaxed),
            dropped_series: self.dropped().iter().map(|(_, n)| n).sum(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent: keep going.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
