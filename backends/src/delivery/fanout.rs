//! Fan-out: hands each flushed window to every backend's queue.

use std::sync::Arc;
use std::time::Duration;

use super::stats::BackendStats;
use super::task::DeliveryHandle;
use crate::model::Window;

/// Every backend's delivery, in config order.
#[derive(Debug, Default)]
pub struct Fanout {
    handles: Vec<DeliveryHandle>,
}

impl Fanout {
    /// A fan-out over the given backends.
    pub fn new(handles: Vec<DeliveryHandle>) -> Self {
        Self { handles }
    }

    /// Queues `window` for every backend. Never waits: a full queue drops its oldest window.
    pub fn publish(&self, window: &Arc<Window>) {
        for handle in &self.handles {
            handle.queue.push(Arc::clone(window));
        }
    }

    /// Removes the backend named `name` (its stats' name) and returns it, for a config reload
    /// that rebuilds or removes it; the caller finishes it so it delivers what it holds.
    pub fn take(&mut self, name: &str) -> Option<DeliveryHandle> {
        let i = self.handles.iter().position(|h| h.stats.name == name)?;
        Some(self.handles.remove(i))
    }

    /// Adds a backend; it receives every window published from now on.
    pub fn push(&mut self, handle: DeliveryHandle) {
        self.handles.push(handle);
    }

    /// Each backend's telemetry, for the API.
    pub fn stats(&self) -> Vec<Arc<BackendStats>> {
        self.handles.iter().map(|h| Arc::clone(&h.stats)).collect()
    }

    /// Closes every queue and lets every backend deliver what it holds, all within one
    /// `deadline`. Returns the number of windows left undelivered.
    pub async fn finish(self, deadline: Duration) -> usize {
        let waits = self.handles.into_iter().map(|h| h.finish(deadline));
        let mut left = 0;
        for n in futures_join_all(waits).await {
            left += n;
        }
        left
    }
}

/// Runs the futures concurrently on the current runtime and collects their outputs.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(v) = task.await {
            out.push(v);
        }
    }
    out
}
