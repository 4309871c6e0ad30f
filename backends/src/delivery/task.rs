//! The delivery task: takes windows from a backend's queue in order and sends them, retrying
//! with backoff what may succeed later.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::config::{BufferConfig, RetryConfig};
use super::handover::Handover;
use super::queue::{Front, WindowQueue};
use super::spool::Progress;
use super::stats::{BackendStats, now_ms};
use crate::backend::{Backend, Encoded, SendError};

/// The producer's side of one backend: its queue, its telemetry and its task.
#[derive(Debug)]
pub struct DeliveryHandle {
    /// Windows waiting for this backend.
    pub queue: Arc<WindowQueue>,
    /// This backend's telemetry.
    pub stats: Arc<BackendStats>,
    task: JoinHandle<()>,
    /// The hand-over the task waits for, for a finish that comes before the task started.
    after: Option<Handover>,
}

/// Where and how one sink's delivery runs: the `[sinks.NAME]` and `[agent]` settings it
/// needs, and the running sink it replaces, if a reload rebuilt it.
#[derive(Debug)]
pub struct Sink<'a> {
    /// The sink's name (`[sinks.NAME]`): its telemetry's label and its spool's directory.
    pub name: &'a str,
    /// `[agent] data_dir`: a disk buffer spools in `data_dir/spool/NAME/`.
    pub data_dir: &'a Path,
    /// `[sinks.NAME.buffer]`.
    pub buffer: &'a BufferConfig,
    /// `[sinks.NAME.retry]`.
    pub retry: &'a RetryConfig,
    /// The sink this one replaces: nothing starts (no spool opened, no
    /// [`Backend::begin`], nothing sent) before it has stopped; windows pushed meanwhile wait
    /// in the queue. `None` starts at once.
    pub after: Option<Handover>,
}

impl DeliveryHandle {
    /// Closes the queue and waits up to `deadline` for the backend to deliver what is queued.
    /// Returns the number of windows still undelivered when the deadline passed. A disk
    /// buffer keeps its windows for the next start (every window was spooled before it was
    /// sent); windows only memory held are counted as dropped (`reason="buffer_full"`) and
    /// logged. A backend still waiting for the one it replaces when the deadline passed opens
    /// its spool once that one has stopped (it has a deadline of its own), so what it was
    /// given is kept too.
    pub async fn finish(self, deadline: Duration) -> usize {
        self.queue.close();
        let abort = self.task.abort_handle();
        let delivered = tokio::time::timeout(deadline, self.task).await.is_ok();
        if !delivered {
            abort.abort();
            // The task may have stopped before it started the spool: the windows wait in the
            // spool thread's channel. Spool them, unless the spool is not this backend's to open.
            let handed_over = match self.after {
                Some(mut handover) => handover.wait().await.is_ok(),
                None => true,
            };
            if handed_over {
                self.queue.start_spool();
            } else {
                self.queue.cancel_spool();
            }
        }
        // Write and sync what the spool thread still holds before the process exits; only
        // then is it known what memory alone holds.
        let queue = Arc::clone(&self.queue);
        let _ = tokio::task::spawn_blocking(move || queue.stop_spool()).await;
        // Also what a backend that never started holds: its task stopped without delivering.
        let (lost, series) = self.queue.take_unspooled();
        let spooled = self.queue.spooled();
        if lost > 0 {
            self.stats.dropped_buffer_full.fetch_add(series, Relaxed);
            tracing::error!(
                backend = %self.stats.name,
                windows = lost,
                series,
                "Shutdown deadline passed: windows not delivered."
            );
        }
        if spooled > 0 {
            tracing::warn!(
                backend = %self.stats.name,
                windows = spooled,
                "Shutdown deadline passed: windows kept in the spool for the next start."
            );
        }
        lost + spooled
    }
}

/// Starts the delivery task for `backend`, fed by a memory queue bounded by `buffer` (a disk
/// buffer falls back to memory: use `spawn_at`).
pub fn spawn<B: Backend>(name: &str, backend: B, buffer: &BufferConfig, retry: &RetryConfig) -> DeliveryHandle {
    let stats = Arc::new(BackendStats::new(name));
    let queue = Arc::new(WindowQueue::new(buffer, Arc::clone(&stats)));
    start(backend, queue, stats, retry, None)
}

/// Starts the delivery task for `backend` as `sink` says, fed by a queue bounded by its
/// buffer; a disk buffer spools in `data_dir/spool/NAME/`. The queue takes windows at once;
/// the backend starts once the sink it replaces has stopped.
pub fn spawn_at<B: Backend>(sink: Sink<'_>, backend: B) -> DeliveryHandle {
    let stats = Arc::new(BackendStats::new(sink.name));
    let dir = sink.data_dir.join("spool").join(sink.name);
    let queue = Arc::new(WindowQueue::create(sink.buffer, dir, Arc::clone(&stats)));
    start(backend, queue, stats, sink.retry, sink.after)
}

fn start<B: Backend>(
    backend: B,
    queue: Arc<WindowQueue>,
    stats: Arc<BackendStats>,
    retry: &RetryConfig,
    after: Option<Handover>,
) -> DeliveryHandle {
    let worker = Worker { backend, queue: Arc::clone(&queue), stats: Arc::clone(&stats), retry: retry.clone() };
    DeliveryHandle { queue, stats, task: tokio::spawn(worker.run(after.clone())), after }
}

struct Worker<B> {
    backend: B,
    queue: Arc<WindowQueue>,
    stats: Arc<BackendStats>,
    retry: RetryConfig,
}

/// How one window's delivery ended.
enum Outcome {
    /// Every batch was acknowledged, refused for good or dropped as too large.
    Done,
    /// The queue dropped the window to make room while it was being retried.
    Evicted,
    /// Retried for longer than `retry.max_elapsed`.
    Exhausted,
}

impl<B: Backend> Worker<B> {
    async fn run(mut self, after: Option<Handover>) {
        if let Some(mut handover) = after {
            if handover.wait().await.is_err() {
                // The reload that built this backend was refused (or the one it was to replace
                // could not be retired): that one keeps its spool and state. Touch neither.
                self.queue.cancel_spool();
                self.stats.record_stopped();
                return;
            }
            tracing::info!(backend = %self.stats.name, "The sink this one replaces has stopped; starting.");
        }
        // Replays what the spool holds (what the replaced backend left included) first, then
        // the windows pushed while this one waited.
        self.queue.start_spool();
        self.backend.begin();
        while let Some(front) = self.queue.front().await {
            let window = &front.window;
            match self.deliver(&front).await {
                Outcome::Done => {}
                Outcome::Evicted => tracing::warn!(
                    backend = %self.stats.name,
                    window = window.id,
                    "Window dropped from the full buffer while its delivery was failing."
                ),
                Outcome::Exhausted => tracing::error!(
                    backend = %self.stats.name,
                    window = window.id,
                    "Gave up on a window after retry.max_elapsed."
                ),
            }
            self.backend.delivered(window);
            self.queue.pop_if(front.ticket);
        }
        self.backend.close().await;
        self.stats.record_stopped();
    }

    /// Encodes `window` once, then sends its batches in order, retrying each as needed.
    async fn deliver(&mut self, front: &Front) -> Outcome {
        let window = &front.window;
        // A window replayed after a long outage may be older than the backend stores: count
        // it rather than send it to be refused.
        if let Some(max_age) = self.backend.max_age() {
            let age = Duration::from_millis(now_ms().saturating_sub(window.end_ms));
            if age > max_age {
                let err = SendError::TooOld(format!(
                    "window {} ended {}s ago; the backend stores points up to {}s old",
                    window.id,
                    age.as_secs(),
                    max_age.as_secs()
                ));
                self.give_up(&err, window.series.len() as u64, &self.stats.dropped_too_old);
                return Outcome::Done;
            }
        }
        let encoded = match front.position {
            Some(position) => self.backend.encode_spooled(window, position),
            None => self.backend.encode(window),
        };
        // Series the encoding could not express next to others are counted, never silent.
        let left_out = self.backend.take_left_out();
        if left_out > 0 {
            self.stats.dropped_conflict.fetch_add(left_out, Relaxed);
        }
        // Each batch with its index in the encoding: the halves of a split batch share it.
        let mut pending: VecDeque<(u32, Encoded<B::Batch>)> = match encoded {
            Ok(batches) => (0..).zip(batches).collect(),
            Err(err) => {
                self.give_up(&err, window.series.len() as u64, self.refused(&err));
                return Outcome::Done;
            }
        };
        // Series before each batch, to record (and check) how far the delivery got.
        let before: Vec<u64> = pending
            .iter()
            .scan(0, |series, (_, batch)| {
                let at = *series;
                *series += batch.series;
                Some(at)
            })
            .collect();
        self.skip_done(front, &mut pending, &before);
        let started = Instant::now();
        let mut backoff = Backoff::new(&self.retry);
        let mut sent_series = 0;
        while let Some((index, batch)) = pending.pop_front() {
            let result = self.backend.send(&batch.payload).await;
            let finished = match result {
                Ok(()) => {
                    sent_series += batch.series;
                    self.stats.sent_series.fetch_add(batch.series, Relaxed);
                    backoff.reset();
                    true
                }
                Err(err) if err.is_too_large() => match self.backend.split(batch) {
                    Ok((first, second)) => {
                        tracing::info!(backend = %self.stats.name, window = window.id, "Batch too large: sending it in halves.");
                        pending.push_front((index, second));
                        pending.push_front((index, first));
                        false
                    }
                    Err(batch) => {
                        self.give_up(&err, batch.series, &self.stats.dropped_too_large);
                        true
                    }
                },
                Err(err) if !err.is_retriable() => {
                    // A partial write stored part of the batch: count that part as sent.
                    let dropped = err.dropped_of(batch.series);
                    let stored = batch.series - dropped;
                    sent_series += stored;
                    self.stats.sent_series.fetch_add(stored, Relaxed);
                    self.give_up(&err, dropped, self.refused(&err));
                    true
                }
                Err(err) => {
                    let left = batch.series + pending.iter().map(|(_, b)| b.series).sum::<u64>();
                    if let Some(outcome) = self.retry_later(&err, front, started, &mut backoff, left).await {
                        return outcome;
                    }
                    pending.push_front((index, batch));
                    false
                }
            };
            // The whole of batch `index` is done and more follow: say so durably, so a replay
            // after a crash resumes after it rather than send it twice.
            if let Some((next, _)) = pending.front()
                && finished
                && *next != index
            {
                let series = before.get(*next as usize).copied().unwrap_or_default();
                self.queue.progress(front.ticket, Progress { batches: *next, series });
            }
        }
        if sent_series > 0 || window.series.is_empty() {
            self.stats.record_success();
        }
        Outcome::Done
    }

    /// For a window replayed after a crash: drops from `pending` the batches the backend
    /// acknowledged before it, if this encoding splits the window as the one recorded did
    /// (same series before the first batch left). Otherwise every batch is sent again: a
    /// batch sent twice is better than one never sent.
    fn skip_done(&self, front: &Front, pending: &mut VecDeque<(u32, Encoded<B::Batch>)>, before: &[u64]) {
        let done = front.progress;
        if done.batches == 0 {
            return;
        }
        if before.get(done.batches as usize) != Some(&done.series) {
            tracing::warn!(
                backend = %self.stats.name,
                window = front.window.id,
                batches = done.batches,
                series = done.series,
                "A replayed window encodes differently than before the restart: sending all of it again."
            );
            return;
        }
        pending.retain(|(i, _)| *i >= done.batches);
        tracing::info!(
            backend = %self.stats.name,
            window = front.window.id,
            skipped = done.batches,
            "Resuming a replayed window after the batches acknowledged before the restart."
        );
    }

    /// After a failure that may pass: waits as the backoff (or the server) says and returns
    /// `None` to try `batch` again, or how the window ended when it must not be retried.
    async fn retry_later(
        &mut self,
        err: &SendError,
        front: &Front,
        started: Instant,
        backoff: &mut Backoff,
        left: u64,
    ) -> Option<Outcome> {
        self.stats.record_error(true, err.to_string());
        let elapsed = started.elapsed();
        let remaining = self.retry.max_elapsed.map(|limit| limit.0.saturating_sub(elapsed));
        if remaining == Some(Duration::ZERO) {
            self.stats.dropped_retry_exhausted.fetch_add(left, Relaxed);
            return Some(Outcome::Exhausted);
        }
        let delay = self.retry_delay(err, backoff, remaining);
        tracing::warn!(
            backend = %self.stats.name,
            window = front.window.id,
            error = %err,
            retry_in_ms = delay.as_millis() as u64,
            "Delivery failed; will retry."
        );
        tokio::time::sleep(delay).await;
        if !self.queue.is_front(front.ticket) {
            // The buffer already counted the whole window as dropped.
            return Some(Outcome::Evicted);
        }
        self.stats.retries.fetch_add(1, Relaxed);
        None
    }

    /// The wait before the next attempt: the server's `Retry-After` up to `max_retry_after`,
    /// else the backoff's, and never past what is `remaining` of `max_elapsed`, so the last
    /// attempt happens when it ends.
    fn retry_delay(&self, err: &SendError, backoff: &mut Backoff, remaining: Option<Duration>) -> Duration {
        let delay = match err.retry_after() {
            Some(asked) if asked > self.retry.max_retry_after.0 => {
                tracing::warn!(
                    backend = %self.stats.name,
                    asked_s = asked.as_secs(),
                    max_retry_after_s = self.retry.max_retry_after.0.as_secs(),
                    "The server asked to wait longer than retry.max_retry_after; waiting that long instead."
                );
                self.retry.max_retry_after.0
            }
            Some(asked) => asked,
            None => backoff.next_delay(),
        };
        remaining.map_or(delay, |left| delay.min(left))
    }

    /// The counter of series refused for good with `err`: `too_old` or `rejected`.
    fn refused(&self, err: &SendError) -> &AtomicU64 {
        if err.is_too_old() { &self.stats.dropped_too_old } else { &self.stats.dropped_rejected }
    }

    /// Logs a batch given up for good, with the server's own words, and counts its series.
    fn give_up(&self, err: &SendError, series: u64, counter: &AtomicU64) {
        tracing::error!(backend = %self.stats.name, series, error = %err, "Batch refused; dropped.");
        self.stats.record_error(false, err.to_string());
        counter.fetch_add(series, Relaxed);
    }
}
