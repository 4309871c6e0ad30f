//! The delivery task: takes windows from a backend's queue in order and sends them.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::queue::WindowQueue;
use super::stats::BackendStats;
use crate::backend::Backend;

/// Pause between attempts when a retriable error leaves a window at the front of the queue.
/// The network backends replace this with capped exponential backoff.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The producer's side of one backend: its queue, its telemetry and its task.
#[derive(Debug)]
pub struct DeliveryHandle {
    /// Windows waiting for this backend.
    pub queue: Arc<WindowQueue>,
    /// This backend's telemetry.
    pub stats: Arc<BackendStats>,
    task: JoinHandle<()>,
}

impl DeliveryHandle {
    /// Closes the queue and waits up to `deadline` for the backend to deliver what is queued.
    /// Returns the number of windows still undelivered when the deadline passed.
    pub async fn finish(self, deadline: Duration) -> usize {
        self.queue.close();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(deadline, self.task).await.is_ok() {
            return 0;
        }
        abort.abort();
        let left = self.queue.take_all();
        let series: usize = left.iter().map(|w| w.series.len()).sum();
        self.stats.dropped_buffer_full.fetch_add(series as u64, Relaxed);
        tracing::error!(
            backend = %self.stats.name,
            windows = left.len(),
            series,
            "Shutdown deadline passed: windows not delivered."
        );
        left.len()
    }
}

/// Starts the delivery task for `backend`, fed by a queue of `capacity` windows.
pub fn spawn<B: Backend>(name: &str, mut backend: B, capacity: usize) -> DeliveryHandle {
    let stats = Arc::new(BackendStats::new(name));
    let queue = Arc::new(WindowQueue::new(capacity, Arc::clone(&stats)));
    let task = {
        let (queue, stats) = (Arc::clone(&queue), Arc::clone(&stats));
        tokio::spawn(async move {
            while let Some(window) = queue.front().await {
                match backend.send(&window).await {
                    Ok(series) => {
                        stats.record_success(series);
                        queue.pop_if(&window);
                    }
                    Err(err) if err.is_retriable() => {
                        tracing::warn!(backend = %stats.name, window = window.id, error = %err, "Delivery failed; will retry.");
                        stats.record_error(true, err.to_string());
                        stats.retries.fetch_add(1, Relaxed);
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                    Err(err) => {
                        tracing::error!(backend = %stats.name, window = window.id, error = %err, "Window rejected; dropped.");
                        stats.record_error(false, err.to_string());
                        stats.dropped_rejected.fetch_add(window.series.len() as u64, Relaxed);
                        queue.pop_if(&window);
                    }
                }
            }
            backend.close().await;
            stats.record_stopped();
        })
    };
    DeliveryHandle { queue, stats, task }
}
