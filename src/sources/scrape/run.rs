//! A scrape source at work: one task per target on the runtime, each reading its target every
//! `interval` (one read at a time; a slow target delays no other), converting the body under
//! the source's shared cumulative state and sending the samples with the target's `up`.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::convert::{Context, convert};
use super::fetch::{FailReason, FetchError, fetch};
use super::parse::sample_lines;
use crate::aggregator::input::{Input, Sample, SampleValue, Samples};
use crate::config::ScrapeConfig;
use crate::sources::otlp::Cumulative;
use crate::telemetry::{ListenerStats, ScrapeStats};

/// What every target of a source shares.
#[derive(Debug)]
pub(crate) struct Source {
    /// The table's name: the `job` tag.
    pub name: String,
    /// The table.
    pub config: ScrapeConfig,
    /// The HTTP client every target's reads share.
    pub client: reqwest::Client,
    /// Counters, histograms and summaries of every target.
    pub state: Mutex<Cumulative>,
    /// When the source started, in Unix nanoseconds.
    pub started_unix: u64,
    /// When the source started, for the scrapes' own clock.
    pub started: Instant,
    /// Its entry in the telemetry's listeners.
    pub listener: usize,
    /// Its listener counters: bytes as sent, lines of good reads.
    pub stats: Arc<ListenerStats>,
    /// Its `sluice_scrape_*` counters.
    pub scrape: Arc<ScrapeStats>,
    /// The aggregator's input.
    pub tx: mpsc::Sender<Input>,
}

/// One target and what its reads so far decided.
#[derive(Debug)]
pub(crate) struct Target {
    /// What is read.
    pub url: reqwest::Url,
    /// The `instance` tag: `host:port`.
    pub instance: String,
    /// A read succeeded before: a series new since then began since then.
    pub known: bool,
    /// Why the last read failed, while it keeps failing (logged once per change).
    pub failing: Option<FailReason>,
}

impl Target {
    /// The target `url` (checked by the config's validation).
    pub(crate) fn new(url: reqwest::Url) -> Self {
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(0);
        let instance = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        Self { url, instance, known: false, failing: None }
    }
}

/// Reads every target until `stop` turns true.
pub(crate) async fn run(source: Arc<Source>, targets: Vec<Target>, stop: watch::Receiver<bool>) -> io::Result<()> {
    let tasks: Vec<_> =
        targets.into_iter().map(|t| tokio::spawn(scrape_target(Arc::clone(&source), t, stop.clone()))).collect();
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

async fn scrape_target(source: Arc<Source>, mut target: Target, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(source.config.interval.0);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let samples = tokio::select! {
            samples = scrape_once(&source, &mut target) => samples,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let input = Input::Samples(Samples { listener: source.listener, samples });
        if source.tx.send(input).await.is_err() {
            return;
        }
    }
}

/// One read of `target`: its samples and its `up`, or only its `up` of 0.
pub(super) async fn scrape_once(source: &Source, target: &mut Target) -> Vec<Sample> {
    let read = fetch(&source.client, &target.url, &source.config).await.and_then(|body| {
        let lines = sample_lines(&body.text, body.format);
        let limit = source.config.sample_limit;
        if lines > limit { Err(FetchError::SampleLimit { lines, limit }) } else { Ok(body) }
    });
    let body = match read {
        Ok(body) => body,
        Err(e) => {
            let reason = e.reason();
            source.scrape.failures.add(reason as usize, 1);
            if target.failing != Some(reason) {
                tracing::warn!(source = %source.name, target = %target.url, reason = reason.as_str(), error = %e, "Scrape failed; the target's up is 0 until a read succeeds.");
            }
            target.failing = Some(reason);
            return up(source, target, 0.0).into_iter().collect();
        }
    };
    if target.failing.take().is_some() {
        tracing::info!(source = %source.name, target = %target.url, "Scrape target is back.");
    }
    let context = Context {
        job: &source.name,
        instance: &target.instance,
        known: target.known,
        started: source.started_unix,
        time: source.started.elapsed().as_nanos() as u64,
        now: Instant::now(),
    };
    let converted = {
        let mut state = source.state.lock().unwrap_or_else(PoisonError::into_inner);
        convert(&body.text, body.format, &context, &mut state)
    };
    target.known = true;
    source.stats.bytes.fetch_add(body.sent as u64, Relaxed);
    source.stats.lines.fetch_add(converted.lines + converted.malformed, Relaxed);
    let stats = &source.scrape;
    stats.scrapes.fetch_add(1, Relaxed);
    stats.malformed.fetch_add(converted.malformed, Relaxed);
    stats.baselines.fetch_add(converted.baselines, Relaxed);
    for (i, n) in converted.skipped.iter().enumerate() {
        stats.skipped.add(i, *n);
    }
    if converted.malformed > 0 {
        tracing::debug!(source = %source.name, target = %target.url, lines = converted.malformed, "Malformed lines skipped.");
    }
    let mut samples = converted.samples;
    samples.extend(up(source, target, 1.0));
    samples
}

/// The target's `up` gauge.
fn up(source: &Source, target: &Target, value: f64) -> Option<Sample> {
    Sample::new("up", &[("job", &source.name), ("instance", &target.instance)], SampleValue::Gauge(value)).ok()
}
