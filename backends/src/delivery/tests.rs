use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    BufferConfig, BufferMode, BufferType, Change, DeliveryHandle, Fanout, Handover, RetryConfig, Sink, spawn, spawn_at,
};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::model::{Series, SeriesKey, Value, Window};
use crate::units::{ByteSize, Duration as Human};

/// What a scripted backend answers to each attempt, in order; `Ok` once the script runs out.
type Script = Arc<Mutex<Vec<Result<(), SendError>>>>;

/// Sends each window as batches of at most `batch` series, records what it delivered as
/// `(window id, first series index, series count)`, and answers as `script` says. Records
/// how many batches it had delivered each time it was begun.
#[derive(Clone)]
struct Scripted {
    batch: usize,
    script: Script,
    delivered: Arc<Mutex<Vec<(u64, usize, usize)>>>,
    attempts: Arc<Mutex<Vec<tokio::time::Instant>>>,
    begins: Arc<Mutex<Vec<usize>>>,
}

impl Scripted {
    fn new(batch: usize, script: Vec<Result<(), SendError>>) -> Self {
        Self {
            batch,
            script: Arc::new(Mutex::new(script.into_iter().rev().collect())),
            delivered: Arc::default(),
            attempts: Arc::default(),
            begins: Arc::default(),
        }
    }
}

impl Backend for Scripted {
    type Batch = (u64, usize, usize);

    fn begin(&mut self) {
        self.begins.lock().unwrap().push(self.delivered.lock().unwrap().len());
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Self::Batch>>, SendError> {
        Ok((0..window.series.len())
            .step_by(self.batch)
            .map(|start| {
                let n = self.batch.min(window.series.len() - start);
                Encoded { payload: (window.id, start, n), series: n as u64 }
            })
            .collect())
    }

    async fn send(&mut self, batch: &Self::Batch) -> Result<(), SendError> {
        self.attempts.lock().unwrap().push(tokio::time::Instant::now());
        let answer = self.script.lock().unwrap().pop().unwrap_or(Ok(()));
        if answer.is_ok() {
            self.delivered.lock().unwrap().push(*batch);
        }
        answer
    }

    fn split(&mut self, batch: Encoded<Self::Batch>) -> Halves<Self::Batch> {
        let (id, start, n) = batch.payload;
        if n < 2 {
            return Err(batch);
        }
        let half = n / 2;
        Ok((
            Encoded { payload: (id, start, half), series: half as u64 },
            Encoded { payload: (id, start + half, n - half), series: (n - half) as u64 },
        ))
    }
}

/// Never finishes a send, like a backend whose server stopped answering.
struct Stuck;

impl Backend for Stuck {
    type Batch = ();

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<()>>, SendError> {
        Ok(vec![Encoded { payload: (), series: window.series.len() as u64 }])
    }

    async fn send(&mut self, (): &()) -> Result<(), SendError> {
        std::future::pending().await
    }
}

fn window(id: u64, series: usize) -> Arc<Window> {
    let series = (0..series)
        .map(|i| Series {
            key: Arc::new(SeriesKey { name: format!("s{i}").into(), tags: Box::new([]), hash: i as u64 }),
            value: Value::Counter { sum: 1.0, rate: 0.1 },
        })
        .collect();
    Arc::new(Window {
        id,
        start_ms: id * 10_000,
        end_ms: (id + 1) * 10_000,
        hostname: "test".into(),
        tags: Arc::new([]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    })
}

fn buffer(max_windows: usize) -> BufferConfig {
    BufferConfig { max_windows, ..BufferConfig::default() }
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_backoff: Human(Duration::from_millis(10)),
        max_backoff: Human(Duration::from_millis(40)),
        ..RetryConfig::default()
    }
}

fn http(status: u16, retry_after: Option<Duration>) -> Result<(), SendError> {
    Err(SendError::Http { status, body: format!("status {status}"), retry_after })
}

/// A stuck backend neither blocks publishing nor delays another backend: the healthy one
/// gets every window in order and the stuck one's full queue drops (and counts) the oldest.
#[tokio::test]
async fn stuck_backend_blocks_neither_publishing_nor_other_backends() {
    let healthy = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![
        spawn("stuck", Stuck, &buffer(3), &fast_retry()),
        spawn("healthy", healthy.clone(), &buffer(3), &fast_retry()),
    ]);
    let stats = fanout.stats();
    for id in 1..=10 {
        fanout.publish(&window(id, 5));
        // Let the healthy backend drain between windows, as flush intervals would.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ids: Vec<u64> = healthy.delivered.lock().unwrap().iter().map(|b| b.0).collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert_eq!(stats[0].buffered_windows.load(Relaxed), 3);
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 7 * 5);
    assert_eq!(stats[1].sent_series.load(Relaxed), 10 * 5);
    assert_eq!(stats[1].dropped_buffer_full.load(Relaxed), 0);
    let undelivered = fanout.finish(Duration::from_millis(50)).await;
    assert_eq!(undelivered, 3, "the stuck backend's queue is reported at the deadline");
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 10 * 5);
}

/// The byte budget bounds the queue too: the oldest windows go first, the newest stays.
#[tokio::test]
async fn byte_budget_drops_the_oldest_windows_and_keeps_the_newest() {
    let one = window(1, 50).approx_bytes();
    let config = BufferConfig { max_windows: 100, max_bytes: ByteSize(one * 2 + one / 2), ..BufferConfig::default() };
    let fanout = Fanout::new(vec![spawn("stuck", Stuck, &config, &fast_retry())]);
    let stats = fanout.stats();
    for id in 1..=6 {
        fanout.publish(&window(id, 50));
    }
    assert_eq!(stats[0].buffered_windows.load(Relaxed), 2);
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 4 * 50);
    assert!(stats[0].buffered_bytes.load(Relaxed) <= one * 2 + one / 2);
    fanout.finish(Duration::from_millis(10)).await;
}

/// A batch the backend refuses with a 4xx is dropped and counted once, never retried;
/// the window's other batches and later windows are delivered.
#[tokio::test]
async fn rejected_batch_is_dropped_and_counted_without_retry() {
    let backend = Scripted::new(2, vec![Ok(()), http(400, None)]);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 6));
    fanout.publish(&window(2, 2));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(1, 0, 2), (1, 4, 2), (2, 0, 2)]);
    assert_eq!(backend.attempts.lock().unwrap().len(), 4, "the 400 was not retried");
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 2);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 6);
    assert_eq!(stats[0].retries.load(Relaxed), 0);
}

/// A partial write is not retried: the points the server refused are counted as rejected and
/// the ones it stored as sent, so the two add up to the batch.
#[tokio::test]
async fn partial_write_counts_stored_points_as_sent_and_the_rest_as_rejected() {
    let partial = SendError::PartialWrite { dropped: 1, body: "partial write: field type conflict dropped=1".into() };
    let backend = Scripted::new(3, vec![Err(partial)]);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 6));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(backend.attempts.lock().unwrap().len(), 2, "the partial write was not resent");
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(1, 3, 3)]);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 5);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].retries.load(Relaxed), 0);
}

/// Connection errors, timeouts, 408, 429, 5xx and throttling are retried until the batch goes through,
/// without resending the batches already acknowledged.
#[tokio::test]
async fn retriable_failures_are_retried_until_delivered_without_duplicates() {
    let script = vec![
        Ok(()),
        Err(SendError::Connect("refused".into())),
        Err(SendError::Timeout),
        http(408, None),
        http(429, None),
        http(503, None),
        Err(SendError::Throttled { body: "Throttling: Rate exceeded".into(), retry_after: None }),
        Ok(()),
    ];
    let backend = Scripted::new(3, script);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 6));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(1, 0, 3), (1, 3, 3)]);
    assert_eq!(stats[0].retries.load(Relaxed), 6);
    assert_eq!(stats[0].errors_retriable.load(Relaxed), 6);
    assert_eq!(stats[0].sent_series.load(Relaxed), 6);
}

/// A 503 with `Retry-After` waits as long as the server asked, not the (shorter) backoff.
#[tokio::test]
async fn retry_after_is_honoured() {
    let backend = Scripted::new(10, vec![http(503, Some(Duration::from_millis(300)))]);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    fanout.publish(&window(1, 1));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    let attempts = backend.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1] - attempts[0] >= Duration::from_millis(300), "{:?}", attempts[1] - attempts[0]);
}

/// A `Retry-After` of a day waits `max_retry_after`, not a day.
#[tokio::test]
async fn a_retry_after_longer_than_max_retry_after_is_capped() {
    let backend = Scripted::new(10, vec![http(503, Some(Duration::from_hours(24)))]);
    let retry = RetryConfig { max_retry_after: Human(Duration::from_millis(200)), ..fast_retry() };
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &retry)]);
    fanout.publish(&window(1, 1));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    let attempts = backend.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    let waited = attempts[1] - attempts[0];
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(1, 0, 1)]);
}

/// `max_elapsed` bounds the waits too: a server asking for long waits gets one last attempt
/// when `max_elapsed` ends, then the window is given up, long before the asked wait is over.
#[tokio::test]
async fn max_elapsed_bounds_the_wait_a_server_asks_for() {
    let failures = (0..10).map(|_| http(429, Some(Duration::from_mins(1)))).collect();
    let backend = Scripted::new(10, failures);
    let retry = RetryConfig { max_elapsed: Some(Human(Duration::from_millis(300))), ..fast_retry() };
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &retry)]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 3));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    let attempts = backend.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2, "the first attempt and the last one when max_elapsed ends");
    let waited = attempts[1] - attempts[0];
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(stats[0].dropped_retry_exhausted.load(Relaxed), 3);
}

/// A 413 splits the batch and sends the halves; a single series still too large is dropped
/// and counted as `too_large`.
#[tokio::test]
async fn too_large_batches_are_split_in_halves() {
    let backend = Scripted::new(4, vec![http(413, None), Ok(()), http(413, None), http(413, None), Ok(())]);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 4));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    // [0..4) → 413 → [0..2) ok, [2..4) → 413 → [2..3) → 413 dropped, [3..4) ok.
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(1, 0, 2), (1, 3, 1)]);
    assert_eq!(stats[0].dropped_too_large.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 3);
}

/// With `max_elapsed`, a window that keeps failing is given up and counted, and the next
/// window is delivered.
#[tokio::test]
async fn a_window_failing_past_max_elapsed_is_given_up_and_counted() {
    let failures = (0..1000).map(|_| http(500, None)).collect();
    let backend = Scripted::new(10, failures);
    let retry = RetryConfig { max_elapsed: Some(Human(Duration::from_millis(100))), ..fast_retry() };
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &retry)]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 3));
    tokio::time::sleep(Duration::from_millis(300)).await;
    backend.script.lock().unwrap().clear();
    fanout.publish(&window(2, 2));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(stats[0].dropped_retry_exhausted.load(Relaxed), 3);
    assert_eq!(*backend.delivered.lock().unwrap(), vec![(2, 0, 2)]);
}

/// Closing the fan-out delivers everything still queued before returning.
#[tokio::test]
async fn finish_delivers_every_queued_window_before_returning() {
    let backend = Scripted::new(10, Vec::new());
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(100), &fast_retry())]);
    for id in 1..=50 {
        fanout.publish(&window(id, 1));
    }
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(backend.delivered.lock().unwrap().len(), 50);
}

/// Refuses every window at encode time as too old, like a Datadog window past the hour.
struct Stale;

impl Backend for Stale {
    type Batch = ();

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<()>>, SendError> {
        Err(SendError::TooOld(format!("window {} is older than an hour", window.id)))
    }

    async fn send(&mut self, (): &()) -> Result<(), SendError> {
        Ok(())
    }
}

/// Points refused as too old, at encode time or at send time, are dropped without retry and
/// counted as `too_old`, not as `rejected`.
#[tokio::test]
async fn too_old_windows_and_batches_are_dropped_and_counted_as_too_old() {
    let fanout = Fanout::new(vec![spawn("stale", Stale, &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 4));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(stats[0].dropped_too_old.load(Relaxed), 4);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 0);
    assert_eq!(stats[0].dropped().iter().find(|(r, _)| *r == "too_old").unwrap().1, 4);

    let backend = Scripted::new(2, vec![Ok(()), Err(SendError::TooOld("an hour old".into()))]);
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), &buffer(10), &fast_retry())]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 4));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(backend.attempts.lock().unwrap().len(), 2, "not retried");
    assert_eq!(stats[0].dropped_too_old.load(Relaxed), 2);
    assert_eq!(stats[0].sent_series.load(Relaxed), 2);
    assert_eq!(stats[0].retries.load(Relaxed), 0);
}

fn disk(max_bytes: u64) -> BufferConfig {
    BufferConfig { kind: BufferType::Disk, max_bytes: ByteSize(max_bytes), ..BufferConfig::default() }
}

/// Starts `backend` as sink `b` with a disk buffer of `max_bytes` in `data_dir`, once `after`
/// (if any) resolves.
fn on_disk<B: Backend>(data_dir: &Path, backend: B, max_bytes: u64, after: Option<Handover>) -> DeliveryHandle {
    let sink = Sink { name: "b", data_dir, buffer: &disk(max_bytes), retry: &fast_retry(), after };
    spawn_at(sink, backend)
}

fn delivered_ids(backend: &Scripted) -> Vec<u64> {
    backend.delivered.lock().unwrap().iter().map(|b| b.0).collect()
}

/// Windows a dead backend never acknowledged stay in the disk spool when the agent stops, and
/// the next start delivers them first, in order, before new windows.
#[tokio::test]
async fn disk_buffer_replays_undelivered_windows_in_order_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fanout = Fanout::new(vec![on_disk(dir.path(), Stuck, 1 << 20, None)]);
    for id in 1..=4 {
        fanout.publish(&window(id, 3));
    }
    assert_eq!(fanout.finish(Duration::from_millis(100)).await, 4, "kept in the spool");

    let backend = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), backend.clone(), 1 << 20, None)]);
    let stats = fanout.stats();
    fanout.publish(&window(5, 3));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&backend), [1, 2, 3, 4, 5]);
    assert_eq!(stats[0].replayed_windows.load(Relaxed), 4);
    assert_eq!(stats[0].replay_pending.load(Relaxed), 0);
    assert_eq!(stats[0].sent_series.load(Relaxed), 15);
    assert_eq!(stats[0].buffer(), BufferMode::Disk);
}

/// A window the backend acknowledged is released from the spool and never sent again.
#[tokio::test]
async fn acknowledged_windows_are_not_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), first.clone(), 1 << 20, None)]);
    for id in 1..=3 {
        fanout.publish(&window(id, 2));
    }
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&first), [1, 2, 3]);

    let second = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), second.clone(), 1 << 20, None)]);
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert!(delivered_ids(&second).is_empty());
}

/// Delivers window 1 (6 series, 2 a batch) to a disk sink in `data_dir` whose backend
/// acknowledges two batches and then fails, and stops it: the window stays in the spool with
/// its progress. Returns the backend, to read what it received.
async fn stop_after_two_of_three_batches(data_dir: &Path) -> Scripted {
    let failing_third: Vec<_> = [Ok(()), Ok(())].into_iter().chain((0..1000).map(|_| http(503, None))).collect();
    let first = Scripted::new(2, failing_third);
    let fanout = Fanout::new(vec![on_disk(data_dir, first.clone(), 1 << 20, None)]);
    fanout.publish(&window(1, 6));
    assert_eq!(fanout.finish(Duration::from_millis(300)).await, 1, "kept in the spool");
    first
}

/// A window of three batches whose first two were acknowledged before the agent stopped
/// resumes at the third after the restart: no batch reaches the backend twice.
#[tokio::test]
async fn a_replayed_window_resumes_after_the_batches_acknowledged_before_the_stop() {
    let dir = tempfile::tempdir().unwrap();
    let first = stop_after_two_of_three_batches(dir.path()).await;
    assert_eq!(*first.delivered.lock().unwrap(), [(1, 0, 2), (1, 2, 2)]);

    let second = Scripted::new(2, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), second.clone(), 1 << 20, None)]);
    let stats = fanout.stats();
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(*second.delivered.lock().unwrap(), [(1, 4, 2)], "only the third batch is sent again");
    assert_eq!(stats[0].replayed_windows.load(Relaxed), 1);
}

/// A replayed window that the restarted backend splits differently (here 3 series a batch
/// instead of 2) cannot resume where the old split stopped: all of it is sent again rather
/// than risk skipping series never sent.
#[tokio::test]
async fn a_replayed_window_split_differently_is_sent_whole_rather_than_skipped() {
    let dir = tempfile::tempdir().unwrap();
    stop_after_two_of_three_batches(dir.path()).await;

    let second = Scripted::new(3, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), second.clone(), 1 << 20, None)]);
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(*second.delivered.lock().unwrap(), [(1, 0, 3), (1, 3, 3)]);
}

/// A full spool drops its oldest windows (counted), keeps the newest, and only those replay.
#[tokio::test]
async fn a_full_spool_drops_the_oldest_windows_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut one = Vec::new();
    super::spool::encode(&window(1, 50), &mut one);
    let budget = (one.len() + super::spool::RECORD_HEADER_LEN) as u64 * 3;
    let fanout = Fanout::new(vec![on_disk(dir.path(), Stuck, budget, None)]);
    let stats = fanout.stats();
    for id in 1..=8 {
        fanout.publish(&window(id, 50));
    }
    assert_eq!(fanout.finish(Duration::from_millis(100)).await, 3);
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 5 * 50);

    let backend = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![on_disk(dir.path(), backend.clone(), budget, None)]);
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&backend), [6, 7, 8]);
}

/// A data directory that cannot hold a spool (here a regular file) makes the disk buffer fall
/// back to memory: reported, and windows are still delivered.
#[tokio::test]
async fn an_unwritable_data_dir_falls_back_to_memory_and_keeps_delivering() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let backend = Scripted::new(100, Vec::new());
    let fanout = Fanout::new(vec![on_disk(&file, backend.clone(), 1 << 20, None)]);
    let stats = fanout.stats();
    fanout.publish(&window(1, 2));
    fanout.publish(&window(2, 2));
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&backend), [1, 2]);
    assert_eq!(stats[0].buffer(), BufferMode::MemoryFallback);
    assert!(stats[0].status().buffer_error.unwrap().contains("cannot open the spool"));
}

/// The `.seg` files of sink `b`'s spool in `data_dir`.
fn segment_count(data_dir: &Path) -> usize {
    let dir = data_dir.join("spool").join("b");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg"))
        .count()
}

/// A rebuilt disk sink opens the spool only once the sink it replaces has stopped: it
/// replays what that one left there first, then the windows it was given while waiting,
/// then the later ones, in order and exactly once; the spool never falls back to memory.
#[tokio::test]
async fn a_successor_replays_the_predecessors_spooled_windows_first_then_its_own_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let old = on_disk(dir.path(), Stuck, 1 << 20, None);
    for id in 1..=3 {
        old.queue.push(window(id, 2));
    }
    let (predecessor, handover) = Handover::new();
    let backend = Scripted::new(100, Vec::new());
    let new = on_disk(dir.path(), backend.clone(), 1 << 20, Some(handover));
    let stats = Arc::clone(&new.stats);
    // Published while the old sink still holds the spool: they wait in the new sink's queue.
    new.queue.push(window(4, 2));
    new.queue.push(window(5, 2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(delivered_ids(&backend).is_empty());
    assert!(backend.begins.lock().unwrap().is_empty(), "not begun before the predecessor stopped");

    assert_eq!(old.finish(Duration::from_millis(100)).await, 3, "kept in the spool");
    predecessor.stopped();
    new.queue.push(window(6, 2));
    assert_eq!(new.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&backend), [1, 2, 3, 4, 5, 6]);
    assert_eq!(*backend.begins.lock().unwrap(), [0], "begun once, before the first window");
    assert_eq!(stats.buffer(), BufferMode::Disk);
    assert_eq!(stats.status().buffer_error, None);
    assert_eq!(stats.replayed_windows.load(Relaxed), 3);
    assert_eq!(stats.sent_series.load(Relaxed), 12);

    let next = Scripted::new(100, Vec::new());
    assert_eq!(on_disk(dir.path(), next.clone(), 1 << 20, None).finish(Duration::from_secs(5)).await, 0);
    assert!(delivered_ids(&next).is_empty(), "every window was released once delivered");
}

/// A hand-over cancelled before the predecessor stopped (a refused reload) leaves the spool
/// alone: the successor never opens it (no fallback, no new segment), never begins, counts the
/// window it was given as dropped, and the predecessor's windows stay for the next start.
#[tokio::test]
async fn a_cancelled_handover_never_opens_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let old = on_disk(dir.path(), Stuck, 1 << 20, None);
    old.queue.push(window(1, 2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let segments = segment_count(dir.path());

    let (predecessor, handover) = Handover::new();
    let backend = Scripted::new(100, Vec::new());
    let new = on_disk(dir.path(), backend.clone(), 1 << 20, Some(handover));
    let stats = Arc::clone(&new.stats);
    new.queue.push(window(2, 3));
    drop(predecessor);
    new.finish(Duration::from_secs(5)).await;
    assert_eq!(stats.buffer(), BufferMode::Disk, "the spool was never tried: {:?}", stats.status().buffer_error);
    assert_eq!(segment_count(dir.path()), segments, "no segment was created");
    assert!(backend.begins.lock().unwrap().is_empty());
    assert!(delivered_ids(&backend).is_empty());
    assert_eq!(stats.dropped_buffer_full.load(Relaxed), 3);

    assert_eq!(old.finish(Duration::from_millis(100)).await, 1);
    let next = Scripted::new(100, Vec::new());
    assert_eq!(on_disk(dir.path(), next.clone(), 1 << 20, None).finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&next), [1]);
}

/// A successor finished (at shutdown) while its predecessor is still retiring does not hang
/// and loses nothing: once the predecessor stopped, what the successor was given is spooled
/// after what the predecessor left, and the next start delivers both in order.
#[tokio::test]
async fn a_successor_finished_before_it_started_spools_its_windows_after_the_predecessors() {
    let dir = tempfile::tempdir().unwrap();
    let old = on_disk(dir.path(), Stuck, 1 << 20, None);
    old.queue.push(window(1, 2));
    old.queue.push(window(2, 2));
    let (predecessor, handover) = Handover::new();
    let new = on_disk(dir.path(), Stuck, 1 << 20, Some(handover));
    new.queue.push(window(3, 2));
    let retiring = tokio::spawn(async move {
        old.finish(Duration::from_millis(200)).await;
        predecessor.stopped();
    });
    let started = tokio::time::Instant::now();
    assert_eq!(new.finish(Duration::ZERO).await, 3, "the predecessor's two and its own, kept");
    assert!(started.elapsed() < Duration::from_secs(2), "bounded by the predecessor's deadline");
    retiring.await.unwrap();

    let next = Scripted::new(100, Vec::new());
    assert_eq!(on_disk(dir.path(), next.clone(), 1 << 20, None).finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&next), [1, 2, 3]);
}

/// A memory-buffered successor holds what it is given until its predecessor stopped, then
/// begins and delivers it in order.
#[tokio::test]
async fn a_memory_successor_holds_its_windows_until_the_predecessor_stopped() {
    let (predecessor, handover) = Handover::new();
    let backend = Scripted::new(100, Vec::new());
    let sink = Sink {
        name: "m",
        data_dir: Path::new("/nonexistent"),
        buffer: &buffer(10),
        retry: &fast_retry(),
        after: Some(handover),
    };
    let new = spawn_at(sink, backend.clone());
    new.queue.push(window(1, 1));
    new.queue.push(window(2, 1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(delivered_ids(&backend).is_empty());
    assert_eq!(new.stats.buffered_windows.load(Relaxed), 2);
    predecessor.stopped();
    assert_eq!(new.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&backend), [1, 2]);
    assert_eq!(*backend.begins.lock().unwrap(), [0]);
}

/// The running fan-out applies a reload's changes on its own control channel: a removed sink
/// gets the windows published before the change and none after; a replaced sink's successor
/// shares its spool, starts only once it has stopped, and gets every later window; an added
/// sink gets every later window.
#[tokio::test]
async fn a_running_fanout_removes_replaces_and_adds_sinks_on_its_control_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (removed, replaced, successor, added) =
        (Scripted::new(10, vec![]), Scripted::new(10, vec![]), Scripted::new(10, vec![]), Scripted::new(10, vec![]));
    let handles = vec![
        spawn("a", removed.clone(), &buffer(8), &fast_retry()),
        on_disk(dir.path(), replaced.clone(), 1 << 20, None),
    ];
    let (windows, control, task) = Fanout::new(handles).spawn();
    windows.publish(window(1, 3)).await.unwrap();

    let (predecessor, after) = Handover::new();
    let changes = vec![
        Change::Remove("a".to_owned()),
        Change::Replace {
            name: "b".to_owned(),
            successor: on_disk(dir.path(), successor.clone(), 1 << 20, Some(after)),
            predecessor,
        },
        Change::Add(spawn("c", added.clone(), &buffer(8), &fast_retry())),
    ];
    let stats = control.apply(changes, Duration::from_secs(5)).await.unwrap();
    assert_eq!(stats.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    windows.publish(window(2, 3)).await.unwrap();

    // The producer's end ends the fan-out once the retired sinks have stopped.
    drop(windows);
    let fanout = task.await.unwrap();
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(delivered_ids(&removed), [1]);
    assert_eq!(delivered_ids(&replaced), [1]);
    assert_eq!(delivered_ids(&successor), [2], "the successor replays nothing its predecessor delivered");
    assert_eq!(delivered_ids(&added), [2]);
    assert_eq!(control.apply(Vec::new(), Duration::ZERO).await.err(), Some(super::Stopped));
}
