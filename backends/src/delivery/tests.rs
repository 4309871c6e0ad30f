use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Fanout, spawn};
use crate::backend::{Backend, SendError};
use crate::model::{Series, SeriesKey, Value, Window};

/// Records the ids of the windows it receives.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<u64>>>);

impl Backend for Recorder {
    async fn send(&mut self, window: &Window) -> Result<u64, SendError> {
        self.0.lock().unwrap().push(window.id);
        Ok(window.series.len() as u64)
    }
}

/// Never finishes a send, like a backend whose server stopped answering.
struct Stuck;

impl Backend for Stuck {
    async fn send(&mut self, _: &Window) -> Result<u64, SendError> {
        std::future::pending().await
    }
}

/// Rejects window 2 and takes every other.
#[derive(Clone, Default)]
struct RejectsTwo(Arc<Mutex<Vec<u64>>>);

impl Backend for RejectsTwo {
    async fn send(&mut self, window: &Window) -> Result<u64, SendError> {
        if window.id == 2 {
            return Err(SendError::Rejected("400 bad window".into()));
        }
        self.0.lock().unwrap().push(window.id);
        Ok(window.series.len() as u64)
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

/// A stuck backend neither blocks publishing nor delays another backend: the healthy one
/// gets every window in order and the stuck one's full queue drops (and counts) the oldest.
#[tokio::test]
async fn stuck_backend_blocks_neither_publishing_nor_other_backends() {
    let recorder = Recorder::default();
    let fanout = Fanout::new(vec![spawn("stuck", Stuck, 3), spawn("healthy", recorder.clone(), 3)]);
    let stats = fanout.stats();
    for id in 1..=10 {
        fanout.publish(&window(id, 5));
        // Let the healthy backend drain between windows, as flush intervals would.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(*recorder.0.lock().unwrap(), (1..=10).collect::<Vec<_>>());
    assert_eq!(stats[0].buffered_windows.load(Relaxed), 3);
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 7 * 5);
    assert_eq!(stats[1].sent_series.load(Relaxed), 10 * 5);
    assert_eq!(stats[1].dropped_buffer_full.load(Relaxed), 0);
    let undelivered = fanout.finish(Duration::from_millis(50)).await;
    assert_eq!(undelivered, 3, "the stuck backend's queue is reported at the deadline");
    assert_eq!(stats[0].dropped_buffer_full.load(Relaxed), 10 * 5);
}

/// A window the backend rejects is dropped and counted once; the next ones are delivered.
#[tokio::test]
async fn rejected_window_is_dropped_and_later_windows_are_delivered() {
    let backend = RejectsTwo::default();
    let fanout = Fanout::new(vec![spawn("b", backend.clone(), 10)]);
    let stats = fanout.stats();
    for id in 1..=4 {
        fanout.publish(&window(id, 2));
    }
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(*backend.0.lock().unwrap(), vec![1, 3, 4]);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 2);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 6);
}

/// Closing the fan-out delivers everything still queued before returning.
#[tokio::test]
async fn finish_delivers_every_queued_window_before_returning() {
    let recorder = Recorder::default();
    let fanout = Fanout::new(vec![spawn("b", recorder.clone(), 100)]);
    for id in 1..=50 {
        fanout.publish(&window(id, 1));
    }
    assert_eq!(fanout.finish(Duration::from_secs(5)).await, 0);
    assert_eq!(recorder.0.lock().unwrap().len(), 50);
}
