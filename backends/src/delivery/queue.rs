//! A bounded queue of windows for one backend that never blocks the producer.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::config::BufferConfig;
use super::stats::BackendStats;
use crate::model::Window;

/// Holds windows for one backend within `max_windows` and `max_bytes`. When a push exceeds
/// either, the oldest windows are dropped and their series counted
/// (`reason="buffer_full"`): the producer, the aggregator, never waits for a backend. The
/// newest window is always kept.
#[derive(Debug)]
pub struct WindowQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    max_windows: usize,
    max_bytes: u64,
    stats: Arc<BackendStats>,
}

#[derive(Debug, Default)]
struct Inner {
    windows: VecDeque<(Arc<Window>, u64)>,
    bytes: u64,
    closed: bool,
}

impl WindowQueue {
    /// An empty queue bounded as `config` says.
    pub fn new(config: &BufferConfig, stats: Arc<BackendStats>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            max_windows: config.max_windows.max(1),
            max_bytes: config.max_bytes.0,
            stats,
        }
    }

    /// Appends a window, dropping the oldest ones while a bound is exceeded. Never blocks.
    /// Returns how many windows were dropped.
    pub fn push(&self, window: Arc<Window>) -> usize {
        let size = window.approx_bytes();
        let mut dropped = Vec::new();
        {
            let mut inner = self.lock();
            inner.bytes += size;
            inner.windows.push_back((window, size));
            while inner.windows.len() > 1 && (inner.windows.len() > self.max_windows || inner.bytes > self.max_bytes) {
                if let Some((old, old_size)) = inner.windows.pop_front() {
                    inner.bytes -= old_size;
                    dropped.push(old);
                }
            }
            self.publish_depth(&inner);
        }
        for old in &dropped {
            self.stats.dropped_buffer_full.fetch_add(old.series.len() as u64, Relaxed);
            tracing::warn!(
                backend = %self.stats.name,
                window = old.id,
                series = old.series.len(),
                "Buffer full: dropped the oldest window."
            );
        }
        self.notify.notify_one();
        dropped.len()
    }

    /// The oldest window without removing it; waits while the queue is empty and open.
    /// Returns `None` once the queue is closed and empty.
    pub async fn front(&self) -> Option<Arc<Window>> {
        loop {
            let notified = self.notify.notified();
            {
                let inner = self.lock();
                if let Some((w, _)) = inner.windows.front() {
                    return Some(Arc::clone(w));
                }
                if inner.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// True while `window` is still the oldest queued: a full queue may have dropped it
    /// while its delivery was failing.
    pub fn is_front(&self, window: &Arc<Window>) -> bool {
        self.lock().windows.front().is_some_and(|(w, _)| Arc::ptr_eq(w, window))
    }

    /// Removes the front window once it was delivered (or given up), if it is still `window`.
    pub fn pop_if(&self, window: &Arc<Window>) {
        let mut inner = self.lock();
        if inner.windows.front().is_some_and(|(w, _)| Arc::ptr_eq(w, window))
            && let Some((_, size)) = inner.windows.pop_front()
        {
            inner.bytes -= size;
        }
        self.publish_depth(&inner);
    }

    /// No more windows will be pushed; the consumer drains what is queued and stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Windows currently queued.
    pub fn len(&self) -> usize {
        self.lock().windows.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns everything queued (used when a shutdown deadline passes).
    pub fn take_all(&self) -> Vec<Arc<Window>> {
        let mut inner = self.lock();
        let all = inner.windows.drain(..).map(|(w, _)| w).collect();
        inner.bytes = 0;
        self.publish_depth(&inner);
        all
    }

    fn publish_depth(&self, inner: &Inner) {
        self.stats.buffered_windows.store(inner.windows.len() as u64, Relaxed);
        self.stats.buffered_bytes.store(inner.bytes, Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
