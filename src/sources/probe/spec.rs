//! Probes in the source registry (one instance per `[sources.probe.NAME]` table), and the task
//! that runs one: at start, then every `interval`, each run bounded by `timeout`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::{Outcome, file, http, tcp};
use crate::aggregator::input::{Input, Samples};
use crate::config::{Config, ProbeConfig};
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::{ListenerStats, ProbeResult, ProbeStats};
use crate::topology::StartError;

/// A probe, identified by its name and whole table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// `NAME` of `[sources.probe.NAME]`.
    pub name: String,
    /// Its table.
    pub config: ProbeConfig,
}

/// A probe ready to run, its HTTP client built.
#[derive(Debug)]
pub struct ProbeSource {
    spec: ProbeSpec,
    client: Option<reqwest::Client>,
}

impl Spec for ProbeSpec {
    type Bound = ProbeSource;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        let probes = config.sources.probe.iter();
        Ok(probes.map(|(name, config)| Self { name: name.clone(), config: config.clone() }).collect())
    }

    fn describe(&self) -> String {
        format!("[sources.probe.{}]", self.name)
    }

    fn place(&self) -> Place<'_> {
        Place::Named("probe", &self.name)
    }

    fn bind(&self, _: &mut Activation) -> Result<(ProbeSource, bool), StartError> {
        let client = match &self.config {
            ProbeConfig::Http(probe) => Some(http::client(probe).map_err(|e| {
                StartError::Invalid(format!("cannot build the HTTP client of [sources.probe.{}]: {e}", self.name))
            })?),
            _ => None,
        };
        Ok((ProbeSource { spec: self.clone(), client }, false))
    }
}

impl Start for ProbeSource {
    fn label(&self) -> String {
        format!("probe:{}", self.spec.name)
    }

    /// Runs on the runtime; a file probe's `stat` runs on the blocking pool.
    fn start(self, index: usize, _: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let config = &self.spec.config;
        let stats = to.telemetry.probe(&self.spec.name, config.kind(), config.timing().critical);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(self, index, stats, to.tx.clone(), stopped));
        Ok(Handle::Task(stop, task))
    }
}

/// One run, within the timeout.
async fn once(source: &ProbeSource) -> Outcome {
    let timeout = source.spec.config.timing().timeout().0;
    let run = async {
        match (&source.spec.config, &source.client) {
            (ProbeConfig::Http(probe), Some(client)) => http::check(client, probe).await,
            (ProbeConfig::Tcp(probe), _) => tcp::check(probe).await,
            (ProbeConfig::File(probe), _) => {
                let probe = probe.clone();
                tokio::task::spawn_blocking(move || file::check(&probe))
                    .await
                    .unwrap_or_else(|e| Outcome::fail(format!("the check failed: {e}"), Vec::new()))
            }
            (ProbeConfig::Http(_), None) => Outcome::fail("no HTTP client", Vec::new()),
        }
    };
    tokio::time::timeout(timeout, run).await.unwrap_or_else(|_| {
        Outcome::fail(format!("no result within the timeout of {}s", timeout.as_secs_f64()), Vec::new())
    })
}

/// Runs the probe every interval until told to stop or the aggregator is gone; logs each
/// change between passing and failing, not every failed run.
async fn run(
    source: ProbeSource,
    listener: usize,
    stats: Arc<ProbeStats>,
    tx: mpsc::Sender<Input>,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let (name, kind) = (source.spec.name.clone(), source.spec.config.kind());
    let mut ticks = tokio::time::interval(source.spec.config.timing().interval.0);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut was_ok = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => break,
        }
        let started = Instant::now();
        let outcome = once(&source).await;
        let took = started.elapsed();
        match (&outcome.error, was_ok) {
            (Some(error), Some(true) | None) => tracing::warn!(probe = %name, %error, "Probe failing."),
            (None, Some(false)) => tracing::info!(probe = %name, "Probe passing again."),
            _ => {}
        }
        was_ok = Some(outcome.ok());
        stats.record(result(&outcome, took));
        let samples = Samples { listener, samples: outcome.samples(&name, kind, took) };
        if tx.send(samples.into()).await.is_err() {
            break;
        }
    }
    stats.running.store(false, Relaxed);
    Ok(())
}

fn result(outcome: &Outcome, took: Duration) -> ProbeResult {
    let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    ProbeResult { ok: outcome.ok(), error: outcome.error.clone(), duration_seconds: took.as_secs_f64(), at_ms }
}
