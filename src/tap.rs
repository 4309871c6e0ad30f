//! The tap: every flushed window, offered to whoever watches (`GET /tap`, `sluice tap`).
//!
//! A `tokio::sync::broadcast` channel of `Arc<Window>`. The aggregator publishes the window it
//! has just handed to the backends: a pointer copy when someone watches, nothing but a count
//! check when nobody does. Each watcher serializes windows in its own task, so the aggregator
//! never encodes for a tap. The channel keeps the last [`TAP_QUEUE`] windows: a watcher that
//! falls further behind loses the oldest and is told how many ([`missed_line`]); the
//! aggregator never waits for a watcher.
//!
//! The aggregator holds the only strong sender. When it stops (after its final flush) the
//! channel closes, every watcher receives what is left and its stream ends, and new watchers
//! are refused.

use std::sync::Arc;

use backends::Window;
use tokio::sync::broadcast;

/// Windows a watcher may fall behind before it loses the oldest. Four windows are 40 seconds
/// at the default flush interval; a short ring also bounds the windows a stalled watcher
/// keeps in memory.
pub const TAP_QUEUE: usize = 4;

/// The aggregator's end of the tap.
#[derive(Debug)]
pub struct Publisher(broadcast::Sender<Arc<Window>>);

/// The API's end of the tap: hands each new watcher a receiver while the aggregator runs.
#[derive(Debug, Clone)]
pub struct Subscriptions(broadcast::WeakSender<Arc<Window>>);

/// A tap with no watcher yet.
pub fn channel() -> (Publisher, Subscriptions) {
    let (sender, _) = broadcast::channel(TAP_QUEUE);
    let weak = sender.downgrade();
    (Publisher(sender), Subscriptions(weak))
}

impl Publisher {
    /// Offers `window` to every watcher; with none, only the count is read.
    pub fn publish(&self, window: &Arc<Window>) {
        if self.0.receiver_count() > 0 {
            // An error only means the last watcher left since the count was read.
            let _ = self.0.send(Arc::clone(window));
        }
    }
}

impl Subscriptions {
    /// A receiver of every window flushed from now on; `None` once the aggregator has stopped.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<Window>>> {
        self.0.upgrade().map(|sender| sender.subscribe())
    }
}

/// `window` with only the series whose name contains `pattern`. Events and service checks
/// are kept: `match` selects series.
pub fn matching(window: &Window, pattern: &str) -> Window {
    Window {
        id: window.id,
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        hostname: Arc::clone(&window.hostname),
        tags: Arc::clone(&window.tags),
        series: window.series.iter().filter(|s| s.key.name.contains(pattern)).cloned().collect(),
        events: window.events.clone(),
        service_checks: window.service_checks.clone(),
    }
}

/// One line of the tap for `window`: the file sink's JSON line, of the series matching
/// `pattern` when one is given.
pub fn window_line(window: &Window, pattern: Option<&str>) -> serde_json::Result<Vec<u8>> {
    match pattern {
        Some(pattern) => backends::file::json_line(&matching(window, pattern)),
        None => backends::file::json_line(window),
    }
}

/// The line telling a watcher that it fell behind and lost `windows` windows:
/// `{"missed":3}`.
pub fn missed_line(windows: u64) -> Vec<u8> {
    format!("{{\"missed\":{windows}}}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use backends::{Series, SeriesKey, Value, Window};
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    use super::*;

    fn window(id: u64, names: &[&str]) -> Arc<Window> {
        Arc::new(Window {
            id,
            start_ms: 1_000,
            end_ms: 11_000,
            hostname: "web-1".into(),
            tags: Arc::new([]),
            series: names
                .iter()
                .map(|n| Series {
                    key: Arc::new(SeriesKey { name: (*n).into(), tags: Box::new([]), hash: 0 }),
                    value: Value::Gauge { value: 1.0 },
                })
                .collect(),
            events: Vec::new(),
            service_checks: Vec::new(),
        })
    }

    /// `match` keeps exactly the series whose name contains the substring, anywhere in it.
    #[test]
    fn matching_keeps_only_series_whose_name_contains_the_pattern() {
        let w = window(3, &["app.checkout.latency", "app.login", "checkout", "db.query"]);
        let kept: Vec<String> = matching(&w, "checkout").series.iter().map(|s| s.key.name.to_string()).collect();
        assert_eq!(kept, ["app.checkout.latency", "checkout"]);
        assert_eq!(matching(&w, "checkout").id, 3);
        assert!(matching(&w, "nothing").series.is_empty());
    }

    /// A tap line is the file sink's line; with a pattern, of the matching series only.
    #[test]
    fn a_window_line_is_the_file_sinks_line_of_the_matching_series() {
        let w = window(1, &["a.hits", "b.hits"]);
        assert_eq!(window_line(&w, None).unwrap(), backends::file::json_line(&w).unwrap());
        let line: serde_json::Value = serde_json::from_slice(&window_line(&w, Some("b.")).unwrap()).unwrap();
        assert_eq!(line["series"].as_array().unwrap().len(), 1);
        assert_eq!(line["series"][0]["key"]["name"], "b.hits");
        assert_eq!(missed_line(3), b"{\"missed\":3}\n");
    }

    /// With no watcher, publishing keeps nothing; a watcher gets every window from when it
    /// subscribed; one that falls behind is told how many it lost and then continues.
    #[test]
    fn a_watcher_that_falls_behind_is_told_how_many_windows_it_missed() {
        let (publisher, subscriptions) = channel();
        publisher.publish(&window(1, &[]));
        let mut rx = subscriptions.subscribe().unwrap();
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)), "nothing kept from before");
        let extra = 3;
        for id in 2..2 + TAP_QUEUE as u64 + extra {
            publisher.publish(&window(id, &[]));
        }
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Lagged(n)) if n == extra));
        assert_eq!(rx.try_recv().unwrap().id, 2 + extra);
    }

    /// Once the aggregator drops its publisher, a watcher receives what is left and then the
    /// end, and new watchers are refused.
    #[tokio::test]
    async fn the_tap_closes_when_the_aggregator_stops() {
        let (publisher, subscriptions) = channel();
        let mut rx = subscriptions.subscribe().unwrap();
        publisher.publish(&window(1, &[]));
        drop(publisher);
        assert_eq!(rx.recv().await.unwrap().id, 1);
        assert!(matches!(rx.recv().await, Err(RecvError::Closed)));
        assert!(subscriptions.subscribe().is_none());
    }
}
