//! The running listeners, each with its own stop signal, so that a reload can replace some of
//! them while the others keep receiving untouched.
//!
//! A listener (any source: the host sampler too) is identified by its [`Key`] from the source
//! registry: kind, address or path, and the options it was bound with. Nothing here names a
//! source. A reload compares the running keys with the new config's: equal keys keep
//! running; the others are bound, started and stopped in an order that never loses the
//! running set to a listener that cannot be bound (see [`Listeners::reload`]).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use tokio::sync::mpsc;

use super::StartError;
use crate::aggregator::input::{BatchPool, Input};
use crate::config::Config;
use crate::sources::registry::{Bound, Feed, Handle, Key};
use crate::systemd::Activation;
use crate::telemetry::Telemetry;

/// Every source `config` asks for, in start order (see [`Key::all`]).
pub fn keys(config: &Config) -> Result<Vec<Key>, StartError> {
    Key::all(config)
}

/// Binds the source `key`, adopting the matching socket of `activation` if there is one.
/// Returns whether the socket was adopted.
pub fn bind(key: &Key, activation: &mut Activation) -> Result<(Bound, bool), StartError> {
    key.bind(activation)
}

/// One running listener.
struct Running {
    key: Key,
    /// Its socket came from the service manager, which still holds it.
    adopted: bool,
    /// Its entry in [`Telemetry::listeners`].
    index: usize,
    handle: Handle,
}

impl Running {
    /// Stops the listener and waits until it has drained what the kernel held and sent its
    /// last batch; then marks its telemetry as no longer running (the counts stay).
    async fn stop(self, telemetry: &Telemetry) {
        match self.handle {
            Handle::Thread(flag, thread) => {
                flag.store(true, Relaxed);
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Handle::Task(stop, task) => {
                let _ = stop.send(true);
                let _ = task.await;
            }
        }
        if let Some(stats) = telemetry.listeners().get(self.index) {
            stats.running.store(false, Relaxed);
            // The socket is gone: its kernel drop counter with it.
            stats.udp_inode.store(0, Relaxed);
        }
    }
}

/// Every running listener, and what a new one needs to start.
pub struct Listeners {
    running: Vec<Running>,
    telemetry: Arc<Telemetry>,
    /// Its sender is held until [`Listeners::shutdown`], so the aggregator's input stays open
    /// across a reload even while, for a moment, no listener runs.
    feed: Feed,
}

impl Listeners {
    /// An empty set whose listeners will count in `telemetry` and send to `tx`.
    pub fn new(telemetry: Arc<Telemetry>, pool: Arc<BatchPool>, tx: mpsc::Sender<Input>) -> Self {
        let feed = Feed { pool, tx, telemetry: Arc::clone(&telemetry) };
        Self { running: Vec::new(), telemetry, feed }
    }

    /// How many listeners run.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Starts `bound` as the listener `key`.
    pub fn start(&mut self, key: Key, bound: Bound, adopted: bool) -> Result<(), StartError> {
        let (index, stats) = self.telemetry.listener(&bound.label());
        let handle = bound
            .start(index, stats, &self.feed)
            .map_err(|e| StartError::Invalid(format!("cannot start a listener thread: {e}")))?;
        self.running.push(Running { key, adopted, index, handle });
        Ok(())
    }

    /// Makes the running listeners those of `next`. Listeners whose key is unchanged keep
    /// running untouched. New listeners at a new place are bound first; any that cannot be
    /// bound refuses the reload with nothing changed. A listener whose options changed at the
    /// same place (and the host sampler) is stopped, drained and bound again; if that fails,
    /// the previous ones are bound again and the reload is refused. Only then do the new
    /// listeners start, and the removed ones stop, each draining what the kernel holds.
    /// Returns how many listeners were `(stopped, started)`.
    pub async fn reload(&mut self, next: Vec<Key>) -> Result<(usize, usize), StartError> {
        let added: Vec<Key> = next.iter().filter(|k| !self.running.iter().any(|r| r.key == **k)).cloned().collect();
        let (retired, kept): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.running).into_iter().partition(|r| !next.contains(&r.key));
        self.running = kept;
        let holds_place = |key: &Key| retired.iter().any(|r| r.key.place() == key.place());
        if let Some(r) = retired.iter().find(|r| r.adopted && added.iter().any(|k| k.place() == r.key.place())) {
            let what = r.key.describe();
            self.running.extend(retired);
            return Err(StartError::Invalid(format!(
                "[sources.statsd] {what} is a socket handed over by the service manager: change its options in \
                 the socket unit and restart"
            )));
        }
        let (rebind, fresh): (Vec<Key>, Vec<Key>) = added.into_iter().partition(|k| holds_place(k));

        // Phase 1: new places. Nothing runs yet, so a failure drops what was bound and returns.
        let mut none = Activation::default();
        let mut bound = Vec::new();
        for key in fresh {
            match bind(&key, &mut none) {
                Ok((b, _)) => bound.push((key, b)),
                Err(e) => {
                    self.running.extend(retired);
                    return Err(e);
                }
            }
        }
        // Phase 2: places taken by a listener being replaced. Its socket must close first.
        let (moving, retired): (Vec<Running>, Vec<Running>) =
            retired.into_iter().partition(|r| rebind.iter().any(|k| k.place() == r.key.place()));
        let previous: Vec<Key> = moving.iter().map(|r| r.key.clone()).collect();
        for r in moving {
            r.stop(&self.telemetry).await;
        }
        for key in rebind {
            match bind(&key, &mut none) {
                Ok((b, _)) => bound.push((key, b)),
                Err(e) => {
                    // Close what the new config bound, then put the previous listeners back.
                    drop(bound);
                    for key in previous {
                        let restored = bind(&key, &mut none).and_then(|(b, _)| self.start(key, b, false));
                        if let Err(e) = restored {
                            tracing::error!(error = %e, "A listener stopped for the reload cannot be bound again.");
                        }
                    }
                    self.running.extend(retired);
                    return Err(e);
                }
            }
        }
        let started = bound.len();
        for (key, b) in bound {
            self.start(key, b, false)?;
        }
        let stopped = retired.len() + previous.len();
        for r in retired {
            r.stop(&self.telemetry).await;
        }
        Ok((stopped, started))
    }

    /// Stops every listener, each draining what the kernel holds, then drops the last sender:
    /// the aggregator sees the end of its input.
    pub async fn shutdown(self) {
        let Self { running, telemetry, feed } = self;
        // All at once: every listener drains in parallel.
        for r in &running {
            match &r.handle {
                Handle::Thread(flag, _) => flag.store(true, Relaxed),
                Handle::Task(stop, _) => {
                    let _ = stop.send(true);
                }
            }
        }
        for r in running {
            r.stop(&telemetry).await;
        }
        // The listeners' clones are gone: this is the last sender.
        drop(feed);
    }
}
