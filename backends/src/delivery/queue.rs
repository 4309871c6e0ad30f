//! A bounded queue of windows for one backend that never blocks the producer.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::stats::BackendStats;
use crate::model::Window;

/// Holds up to `capacity` windows for one backend. When full, [`WindowQueue::push`] drops the
/// oldest window and counts its series as dropped (`reason="buffer_full"`): the producer, the
/// aggregator, must never wait for a backend.
#[derive(Debug)]
pub struct WindowQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
    stats: Arc<BackendStats>,
}

#[derive(Debug)]
struct Inner {
    windows: VecDeque<Arc<Window>>,
    closed: bool,
}

impl WindowQueue {
    /// An empty queue holding at most `capacity` windows (at least one).
    pub fn new(capacity: usize, stats: Arc<BackendStats>) -> Self {
        Self {
            inner: Mutex::new(Inner { windows: VecDeque::new(), closed: false }),
            notify: Notify::new(),
            capacity: capacity.max(1),
            stats,
        }
    }

    /// Appends a window, dropping the oldest queued one when full. Never blocks.
    /// Returns the window that was dropped, if any.
    pub fn push(&self, window: Arc<Window>) -> Option<Arc<Window>> {
        let dropped = {
            let mut inner = self.lock();
            let dropped = if inner.windows.len() >= self.capacity { inner.windows.pop_front() } else { None };
            inner.windows.push_back(window);
            self.stats.buffered_windows.store(inner.windows.len() as u64, Relaxed);
            dropped
        };
        if let Some(old) = &dropped {
            self.stats.dropped_buffer_full.fetch_add(old.series.len() as u64, Relaxed);
            tracing::warn!(
                backend = %self.stats.name,
                window = old.id,
                series = old.series.len(),
                "Queue full: dropped the oldest window."
            );
        }
        self.notify.notify_one();
        dropped
    }

    /// The oldest window without removing it; waits while the queue is empty and open.
    /// Returns `None` once the queue is closed and empty.
    pub async fn front(&self) -> Option<Arc<Window>> {
        loop {
            let notified = self.notify.notified();
            {
                let inner = self.lock();
                if let Some(w) = inner.windows.front() {
                    return Some(Arc::clone(w));
                }
                if inner.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Removes the front window once it was delivered (or given up), if it is still `window`:
    /// a full queue may have dropped it meanwhile.
    pub fn pop_if(&self, window: &Arc<Window>) {
        let mut inner = self.lock();
        if inner.windows.front().is_some_and(|w| Arc::ptr_eq(w, window)) {
            inner.windows.pop_front();
        }
        self.stats.buffered_windows.store(inner.windows.len() as u64, Relaxed);
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
        let all = inner.windows.drain(..).collect();
        self.stats.buffered_windows.store(0, Relaxed);
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
