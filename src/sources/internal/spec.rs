//! The internal source in the source registry (one instance per `[sources.internal]` table),
//! and its task: a reading at start, one every `interval`, and a last one when it stops, so
//! the final window holds the counts up to the shutdown.

use std::io;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use crate::aggregator::input::{Input, Samples};
use crate::config::{Config, InternalConfig};
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::{ListenerStats, Telemetry};
use crate::topology::StartError;

/// The `listener` label of the internal source in the telemetry.
const LABEL: &str = "internal";

/// The internal source, identified by its whole `[sources.internal]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct InternalSpec(pub InternalConfig);

/// The internal source, configured and waiting to run.
#[derive(Debug)]
pub struct InternalSource {
    interval: Duration,
}

impl Spec for InternalSpec {
    type Bound = InternalSource;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        Ok(config.sources.internal.iter().cloned().map(Self).collect())
    }

    fn describe(&self) -> String {
        "[sources.internal]".to_owned()
    }

    fn place(&self) -> Place<'_> {
        Place::Singleton(LABEL)
    }

    fn bind(&self, _: &mut Activation) -> Result<(InternalSource, bool), StartError> {
        Ok((InternalSource { interval: self.0.interval.0 }, false))
    }
}

impl Start for InternalSource {
    fn label(&self) -> String {
        LABEL.to_owned()
    }

    /// Reads on the runtime (a reading is a few hundred atomic loads and one read of
    /// `/proc/net/udp`); it counts no bytes.
    fn start(self, index: usize, _: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(self.interval, index, Arc::clone(&to.telemetry), to.tx.clone(), stopped));
        Ok(Handle::Task(stop, task))
    }
}

/// Reads every `interval` until told to stop (or the aggregator is gone), then once more.
async fn run(
    interval: Duration,
    listener: usize,
    telemetry: Arc<Telemetry>,
    tx: mpsc::Sender<Input>,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut capacity = 0;
    loop {
        let last = tokio::select! {
            _ = ticks.tick() => false,
            _ = stopped.wait_for(|stop| *stop) => true,
        };
        let mut samples = Samples { listener, samples: Vec::with_capacity(capacity) };
        telemetry.reported.lock().unwrap_or_else(PoisonError::into_inner).read(&telemetry, &mut samples.samples);
        capacity = samples.samples.len();
        if tx.send(samples.into()).await.is_err() || last {
            return Ok(());
        }
    }
}
