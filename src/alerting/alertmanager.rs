//! Delivery to Alertmanager's API v2 (`POST /api/v2/alerts`), one task per configured
//! Alertmanager, as Prometheus' notifier does it: every Alertmanager gets every alert.
//!
//! Each Alertmanager has an [`Outbox`] holding the newest state of each alert not yet
//! acknowledged (a firing alert re-sent with a fresh lease replaces its older copy), so an
//! Alertmanager that is down receives the current state of every alert when it returns, and
//! the outbox never grows beyond `queue_capacity` alerts (the least recently updated are
//! dropped and counted). 5xx, timeouts and refused connections are retried with backoff; any
//! other refusal is logged with its body and its alerts counted as rejected.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backends::delivery::http::{self, Client};
use backends::delivery::{HttpAuth, RetryConfig};
use backends::units::iso8601;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::eval::{Labels, Message};
use crate::telemetry::ManagerStats;

/// Alerts per request, as Prometheus batches them.
pub const BATCH: usize = 64;

/// The path of API v2's alerts endpoint.
const ALERTS_PATH: &str = "/api/v2/alerts";

/// The newest unacknowledged state of each alert for one Alertmanager.
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Pending>,
    ready: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Pending {
    /// Bumped at every update, so an acknowledgement removes only what it sent.
    next: u64,
    alerts: HashMap<Labels, (u64, Message)>,
}

impl Outbox {
    /// An empty outbox of at most `capacity` alerts (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::default(), ready: Notify::new(), capacity: capacity.max(1) }
    }

    /// Queues the newest state of each of `messages`; returns how many older alerts a full
    /// outbox dropped to make room.
    pub fn push(&self, messages: &[Message]) -> u64 {
        let mut dropped = 0;
        {
            let mut p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            for message in messages {
                p.next += 1;
                let seq = p.next;
                if !p.alerts.contains_key(&message.labels) && p.alerts.len() >= self.capacity {
                    let oldest = p.alerts.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        p.alerts.remove(&oldest);
                        dropped += 1;
                    }
                }
                p.alerts.insert(message.labels.clone(), (seq, message.clone()));
            }
        }
        self.ready.notify_one();
        dropped
    }

    /// Every queued alert, oldest update first.
    pub fn snapshot(&self) -> Vec<(u64, Message)> {
        let p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(u64, Message)> = p.alerts.values().cloned().collect();
        all.sort_by_key(|(seq, _)| *seq);
        all
    }

    /// Removes the alerts of `sent` that were not updated since they were taken.
    pub fn acknowledge(&self, sent: &[(u64, Message)]) {
        let mut p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (seq, message) in sent {
            if p.alerts.get(&message.labels).is_some_and(|(s, _)| s == seq) {
                p.alerts.remove(&message.labels);
            }
        }
    }

    /// Alerts queued.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).alerts.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How every Alertmanager is reached.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The shared HTTP client.
    pub client: Client,
    /// Basic or bearer authentication.
    pub auth: HttpAuth,
    /// `[alerting] external_labels`.
    pub external_labels: Labels,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Waits between failed attempts.
    pub retry: RetryConfig,
}

/// One Alertmanager's delivery task.
#[derive(Debug)]
pub struct Manager {
    /// Its counters.
    pub stats: Arc<ManagerStats>,
    /// Its queue.
    pub outbox: Arc<Outbox>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Manager {
    /// Starts delivering `outbox` to the Alertmanager at `url`.
    pub fn spawn(url: &str, outbox: Arc<Outbox>, delivery: Delivery, stats: Arc<ManagerStats>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let endpoint = format!("{}{ALERTS_PATH}", url.trim_end_matches('/'));
        let task = tokio::spawn(deliver(endpoint, Arc::clone(&outbox), delivery, Arc::clone(&stats), stopped));
        Self { stats, outbox, stop, task }
    }

    /// Queues `messages` for this Alertmanager.
    pub fn push(&self, messages: &[Message]) {
        let dropped = self.outbox.push(messages);
        if dropped > 0 {
            self.stats.dropped.fetch_add(dropped, Relaxed);
            tracing::warn!(alertmanager = %self.stats.url, dropped, "Alert queue full; dropped the least recently updated alerts.");
        }
        self.stats.queued.store(self.outbox.len() as u64, Relaxed);
    }

    /// Delivers what is queued within `deadline` (one more attempt after a failure), then
    /// stops; what is left is logged.
    pub async fn finish(mut self, deadline: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(deadline, &mut self.task).await.is_err() {
            self.task.abort();
        }
        let left = self.outbox.len();
        if left > 0 {
            tracing::warn!(alertmanager = %self.stats.url, alerts = left, "Alerts not delivered before stopping.");
        }
    }

    /// Stops at once, leaving the outbox to a successor of the same URL.
    pub fn abandon(self) -> Arc<Outbox> {
        self.task.abort();
        self.outbox
    }
}

/// An alert in API v2's `postableAlert` form.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Postable<'a> {
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    starts_at: String,
    ends_at: String,
}

fn postable<'a>(message: &'a Message, external: &'a Labels) -> Postable<'a> {
    let mut labels: BTreeMap<&str, &str> = external.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    labels.extend(message.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Postable {
        labels,
        annotations: message.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        starts_at: iso8601(message.starts_at_ms),
        ends_at: iso8601(message.ends_at_ms),
    }
}

/// The delivery loop: waits for alerts, posts them in batches, retries with backoff.
async fn deliver(
    endpoint: String,
    outbox: Arc<Outbox>,
    delivery: Delivery,
    stats: Arc<ManagerStats>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut backoff = backends::delivery::Backoff::new(&delivery.retry);
    loop {
        let stopping = *stopped.borrow();
        let pending = outbox.snapshot();
        if pending.is_empty() {
            if stopping {
                return;
            }
            tokio::select! {
                () = outbox.ready.notified() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let mut failed = false;
        for batch in pending.chunks(BATCH) {
            match post(&endpoint, batch, &delivery).await {
                Ok(()) => {
                    outbox.acknowledge(batch);
                    stats.sent.fetch_add(batch.len() as u64, Relaxed);
                    stats.set_error(None);
                    backoff.reset();
                }
                Err(Failure::Refused { status, body }) => {
                    outbox.acknowledge(batch);
                    stats.rejected.fetch_add(batch.len() as u64, Relaxed);
                    tracing::warn!(alertmanager = %stats.url, status, body = %body, alerts = batch.len(), "Alertmanager refused alerts; not retried.");
                    stats.set_error(Some(format!("HTTP {status}: {body}")));
                }
                Err(Failure::Retriable(error)) => {
                    stats.failed.fetch_add(1, Relaxed);
                    tracing::warn!(alertmanager = %stats.url, error = %error, "Cannot deliver alerts; retrying.");
                    stats.set_error(Some(error));
                    failed = true;
                    break;
                }
            }
        }
        stats.queued.store(outbox.len() as u64, Relaxed);
        if failed {
            if stopping {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {}
                _ = stopped.changed() => {}
            }
        }
    }
}

enum Failure {
    Refused { status: u16, body: String },
    Retriable(String),
}

async fn post(endpoint: &str, batch: &[(u64, Message)], delivery: &Delivery) -> Result<(), Failure> {
    let body: Vec<Postable<'_>> = batch.iter().map(|(_, m)| postable(m, &delivery.external_labels)).collect();
    let body = serde_json::to_vec(&body).map_err(|e| Failure::Retriable(e.to_string()))?;
    let request = delivery.client.post(endpoint).timeout(delivery.timeout).header("content-type", "application/json");
    let request = delivery.auth.apply(request.body(body));
    match http::execute(request, http::Refusal::into_error).await {
        Ok(_) => Ok(()),
        Err(backends::SendError::Http { status, body, .. }) if !(status == 429 || status == 408 || status >= 500) => {
            Err(Failure::Refused { status, body })
        }
        Err(e) => Err(Failure::Retriable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str, ends: u64) -> Message {
        Message {
            labels: vec![("alertname".into(), name.into())],
            annotations: vec![("summary".into(), format!("{name} at {ends}"))],
            starts_at_ms: 1_000,
            ends_at_ms: ends,
        }
    }

    #[test]
    fn an_outbox_keeps_only_the_newest_state_of_each_alert() {
        let outbox = Outbox::new(10);
        outbox.push(&[message("a", 1), message("b", 1)]);
        outbox.push(&[message("a", 2)]);
        let queued = outbox.snapshot();
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[1].1, message("a", 2), "the update is the newest entry");
    }

    #[test]
    fn an_acknowledgement_keeps_an_alert_updated_since_it_was_taken() {
        let outbox = Outbox::new(10);
        outbox.push(&[message("a", 1), message("b", 1)]);
        let taken = outbox.snapshot();
        outbox.push(&[message("a", 2)]);
        outbox.acknowledge(&taken);
        let left = outbox.snapshot();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1, message("a", 2));
    }

    #[test]
    fn a_full_outbox_drops_the_least_recently_updated_alert() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push(&[message("a", 1), message("b", 1)]), 0);
        outbox.push(&[message("a", 2)]);
        assert_eq!(outbox.push(&[message("c", 1)]), 1);
        let names: Vec<String> = outbox.snapshot().into_iter().map(|(_, m)| m.labels[0].1.clone()).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn an_alert_is_posted_with_external_labels_it_does_not_override() {
        let external = vec![("cluster".to_owned(), "eu".to_owned()), ("alertname".to_owned(), "x".to_owned())];
        let json = serde_json::to_value(postable(&message("a", 61_000), &external)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "labels": {"alertname": "a", "cluster": "eu"},
                "annotations": {"summary": "a at 61000"},
                "startsAt": "1970-01-01T00:00:01.000Z",
                "endsAt": "1970-01-01T00:01:01.000Z",
            })
        );
    }
}
