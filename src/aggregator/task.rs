//! The aggregator task: `select!` over the flush tick and the sources' input.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backends::Window;
use backends::delivery::WindowSender;
use tokio::sync::mpsc::{self, Receiver, error::TrySendError};
use tokio::time::{Instant, MissedTickBehavior};

use super::input::{BatchPool, Input};
use super::window::{WindowSettings, WindowState};
use crate::tap::Publisher;
use crate::telemetry::{ListenerStats, Telemetry};

/// A change to a running aggregator, from a config reload. Sinks are not its business: the
/// fan-out owns their lifecycles (see [`backends::delivery::FanoutControl`]).
#[derive(Debug)]
pub enum Control {
    /// New window settings and window length; the open window and every series are kept.
    Settings(WindowSettings, Duration),
}

/// Owns the window state; the only writer of it.
#[derive(Debug)]
pub struct Aggregator {
    /// The pure window state.
    pub state: WindowState,
    /// Length of a window.
    pub interval: Duration,
    /// Where counters go after each batch and flush.
    pub telemetry: Arc<Telemetry>,
    /// Processed batches go back here for the listeners to reuse.
    pub pool: Arc<BatchPool>,
    /// A copy of [`Telemetry::listeners`], refreshed when a batch names a listener it does
    /// not hold yet (one a reload started), so the hot path takes no lock. Starts empty.
    pub listeners: Vec<Arc<ListenerStats>>,
    /// Where every flushed window is also offered to `/tap` watchers. Dropped with the
    /// aggregator, which ends every tap after the final window.
    pub tap: Publisher,
    /// Where every flushed window goes to the alert rules (never waited for: a full queue
    /// skips the window for the rules and counts it). Dropped with the aggregator, which ends
    /// the rules' task after the final window.
    pub rules: mpsc::Sender<Arc<Window>>,
}

impl Aggregator {
    /// Consumes input until every sender is dropped, publishing a window at every multiple of
    /// the interval (wall clock), and once more at the end so nothing received is left behind.
    /// Applies [`Control`] messages between inputs. Returns the number of windows flushed;
    /// dropping `fanout` on return tells the fan-out no window follows.
    pub async fn run(
        mut self,
        mut input: Receiver<Input>,
        mut control: Receiver<Control>,
        fanout: WindowSender,
    ) -> u64 {
        let mut window_start = now_ms();
        let mut tick = ticker(self.interval);
        loop {
            tokio::select! {
                biased;
                next = input.recv() => match next {
                    Some(next) => self.ingest(next),
                    // Every listener has stopped and drained the kernel: flush what is left.
                    None => break,
                },
                Some(Control::Settings(settings, interval)) = control.recv() => {
                    self.state.reconfigure(settings);
                    if interval != self.interval {
                        // The open window keeps its start; it closes at the new boundary.
                        self.interval = interval;
                        tick = ticker(interval);
                    }
                }
                _ = tick.tick() => window_start = self.flush(window_start, &fanout).await,
            }
        }
        self.flush(window_start, &fanout).await;
        self.telemetry.flushes.load(Relaxed)
    }

    fn ingest(&mut self, input: Input) {
        let (listener, lines) = match input {
            Input::Statsd(batch) => {
                let mut lines = 0;
                for datagram in batch.datagrams() {
                    lines += self.state.ingest(datagram).lines;
                }
                let listener = batch.listener;
                self.pool.give(batch);
                (listener, lines)
            }
            Input::Samples(samples) => {
                for sample in &samples.samples {
                    self.state.insert_sample(sample);
                }
                (samples.listener, samples.samples.len() as u64)
            }
        };
        if listener >= self.listeners.len() {
            self.listeners = self.telemetry.listeners();
        }
        // Entries are only appended, so a listener's index stays its own across reloads.
        if let Some(stats) = self.listeners.get(listener) {
            stats.lines.fetch_add(lines, Relaxed);
        }
        let counts = self.state.take_counts();
        for (i, n) in counts.parse_errors.iter().enumerate() {
            self.telemetry.parse_errors.add(i, *n);
        }
        for (i, n) in counts.dropped.iter().enumerate() {
            self.telemetry.dropped_samples.add(i, *n);
        }
        self.telemetry.events.fetch_add(counts.events, Relaxed);
        self.telemetry.service_checks.fetch_add(counts.service_checks, Relaxed);
        self.telemetry.rebucketed.fetch_add(counts.rebucketed, Relaxed);
        // Live between flushes too: a new series counts from the input that created it.
        self.telemetry.series.store(self.state.series_count() as u64, Relaxed);
    }

    /// Flushes `[start, now)` and returns `now`, the next window's start.
    async fn flush(&mut self, start_ms: u64, fanout: &WindowSender) -> u64 {
        let end_ms = now_ms().max(start_ms + 1);
        let started = Instant::now();
        let window = Arc::new(self.state.flush(start_ms, end_ms));
        self.telemetry.last_flush_micros.store(started.elapsed().as_micros() as u64, Relaxed);
        self.telemetry.series.store(self.state.series_count() as u64, Relaxed);
        self.telemetry.flushes.fetch_add(1, Relaxed);
        tracing::debug!(window = window.id, series = window.series.len(), "Flushed window.");
        if fanout.publish(Arc::clone(&window)).await.is_err() {
            tracing::error!("The fan-out has stopped; this window reaches no backend.");
        }
        self.tap.publish(&window);
        if let Err(TrySendError::Full(_)) = self.rules.try_send(window) {
            self.telemetry.alerts.windows_skipped.fetch_add(1, Relaxed);
            tracing::warn!("The alert rules are behind; this window is not evaluated.");
        }
        end_ms
    }
}

/// A tick at every multiple of `interval` since the Unix epoch.
fn ticker(interval: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(Instant::now() + until_next_boundary(interval), interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Time from now to the next multiple of `interval` since the Unix epoch, so windows of
/// several agents line up.
fn until_next_boundary(interval: Duration) -> Duration {
    let interval_ms = interval.as_millis().max(1) as u64;
    let now = now_ms();
    Duration::from_millis(interval_ms - now % interval_ms)
}
