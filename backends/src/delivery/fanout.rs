//! Fan-out: hands each flushed window to every backend's queue, and owns the backends'
//! lifecycles: a config reload adds, removes and replaces sinks through the fan-out's own
//! control channel, so the producer of windows only ever publishes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::handover::Predecessor;
use super::stats::BackendStats;
use super::task::DeliveryHandle;
use crate::model::Window;

/// Windows in flight between the producer and a running fan-out. The fan-out never waits on
/// a backend (a full queue drops its oldest window), so this only absorbs scheduling delays.
const WINDOWS_IN_FLIGHT: usize = 8;

/// Every backend's delivery, in config order.
#[derive(Debug, Default)]
pub struct Fanout {
    handles: Vec<DeliveryHandle>,
}

/// A change to the set of running backends, from a config reload.
#[derive(Debug)]
pub enum Change {
    /// A new sink: it receives every window published from now on.
    Add(DeliveryHandle),
    /// The sink `name` stops receiving windows and delivers what it holds within the
    /// deadline, in the background.
    Remove(String),
    /// The sink `name` was rebuilt: `successor` receives every window published from now on,
    /// and starts (opens the spool, reads its state) once the old backend has stopped and
    /// `predecessor` says so.
    Replace {
        /// The sink's name.
        name: String,
        /// The rebuilt backend, waiting on the other side of `predecessor`.
        successor: DeliveryHandle,
        /// Signalled once the replaced backend has stopped.
        predecessor: Predecessor,
    },
}

/// The fan-out has stopped: the producer's end came first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the fan-out has stopped")]
pub struct Stopped;

/// The producer's side of a running fan-out: it publishes windows and nothing else.
#[derive(Debug)]
pub struct WindowSender {
    windows: mpsc::Sender<Arc<Window>>,
}

/// The reload's side of a running fan-out.
#[derive(Debug, Clone)]
pub struct FanoutControl {
    changes: mpsc::Sender<Apply>,
}

#[derive(Debug)]
struct Apply {
    changes: Vec<Change>,
    deadline: Duration,
    reply: oneshot::Sender<Vec<Arc<BackendStats>>>,
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

    /// Each backend's telemetry, for the API.
    pub fn stats(&self) -> Vec<Arc<BackendStats>> {
        self.handles.iter().map(|h| Arc::clone(&h.stats)).collect()
    }

    /// Runs the fan-out as its own task: it publishes what the [`WindowSender`] sends and applies
    /// what the [`FanoutControl`] asks. The task ends once the publisher is dropped, after the
    /// backends a change retired have stopped (which lets their successors start), and returns
    /// the fan-out for the shutdown to [`Fanout::finish`].
    pub fn spawn(self) -> (WindowSender, FanoutControl, JoinHandle<Fanout>) {
        let (windows, windows_rx) = mpsc::channel(WINDOWS_IN_FLIGHT);
        let (changes, changes_rx) = mpsc::channel(4);
        let task = tokio::spawn(self.run(windows_rx, changes_rx));
        (WindowSender { windows }, FanoutControl { changes }, task)
    }

    async fn run(mut self, mut windows: mpsc::Receiver<Arc<Window>>, mut changes: mpsc::Receiver<Apply>) -> Self {
        let mut retiring = Vec::new();
        loop {
            tokio::select! {
                // Windows first: one published before a change was asked for reaches the
                // backends that ran when it was flushed.
                biased;
                window = windows.recv() => match window {
                    Some(window) => self.publish(&window),
                    None => break,
                },
                Some(apply) = changes.recv() => {
                    retiring.extend(self.apply(apply.changes, apply.deadline));
                    // The reload may have given up waiting: nothing to tell then.
                    let _ = apply.reply.send(self.stats());
                }
            }
        }
        for task in retiring {
            let _ = task.await;
        }
        self
    }

    /// Retires what `changes` removes or replaces, then adds what they add or replace with,
    /// in order. Returns the tasks in which the retired backends deliver what they hold.
    fn apply(&mut self, changes: Vec<Change>, deadline: Duration) -> Vec<JoinHandle<()>> {
        let mut retiring = Vec::new();
        let mut added = Vec::new();
        for change in changes {
            let (name, predecessor) = match change {
                Change::Add(handle) => {
                    added.push(handle);
                    continue;
                }
                Change::Remove(name) => (name, None),
                Change::Replace { name, successor, predecessor } => {
                    added.push(successor);
                    (name, Some(predecessor))
                }
            };
            let old = self.take(&name);
            retiring.push(tokio::spawn(async move {
                // Nothing runs under that name: nothing to wait for.
                if let Some(old) = old {
                    old.finish(deadline).await;
                }
                if let Some(predecessor) = predecessor {
                    predecessor.stopped();
                }
            }));
        }
        self.handles.extend(added);
        retiring
    }

    /// Removes the backend named `name` (its stats' name) and returns it.
    fn take(&mut self, name: &str) -> Option<DeliveryHandle> {
        let i = self.handles.iter().position(|h| h.stats.name == name)?;
        Some(self.handles.remove(i))
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

impl WindowSender {
    /// Hands `window` to every backend's queue; waits only if the fan-out is behind by
    /// `WINDOWS_IN_FLIGHT` windows.
    pub async fn publish(&self, window: Arc<Window>) -> Result<(), Stopped> {
        self.windows.send(window).await.map_err(|_| Stopped)
    }
}

impl FanoutControl {
    /// Applies `changes` (removals first, then additions, each in order); a retired backend
    /// may take `deadline` to deliver what it holds. Returns every backend's telemetry as it
    /// is now, in order.
    pub async fn apply(&self, changes: Vec<Change>, deadline: Duration) -> Result<Vec<Arc<BackendStats>>, Stopped> {
        let (reply, replied) = oneshot::channel();
        self.changes.send(Apply { changes, deadline, reply }).await.map_err(|_| Stopped)?;
        replied.await.map_err(|_| Stopped)
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
