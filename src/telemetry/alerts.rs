//! What the rules and the Alertmanager deliveries report: the alerts now and lately (for
//! `GET /alerts`, `/status` and the status page), and the counters `/metrics` shows.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::Serialize;

/// The alerts' part of the telemetry.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// The latest evaluation's view, replaced whole after each window.
    pub view: RwLock<Arc<AlertsView>>,
    /// Every Alertmanager configured since the start, in the order first configured; only
    /// ever appended to, so counters never vanish.
    pub managers: RwLock<Vec<Arc<ManagerStats>>>,
    /// Windows the rules did not evaluate because they fell behind.
    pub windows_skipped: AtomicU64,
}

impl AlertStats {
    /// The latest view.
    pub fn view(&self) -> Arc<AlertsView> {
        Arc::clone(&self.view.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the view.
    pub fn set_view(&self, view: AlertsView) {
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(view);
    }

    /// The counters of the Alertmanager at `url`, the same ones as before if it was
    /// configured before.
    pub fn manager(&self, url: &str) -> Arc<ManagerStats> {
        let mut managers = self.managers.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = managers.iter().find(|m| m.url == url) {
            return Arc::clone(m);
        }
        let stats = Arc::new(ManagerStats { url: url.to_owned(), ..ManagerStats::default() });
        managers.push(Arc::clone(&stats));
        stats
    }

    /// Every Alertmanager's counters.
    pub fn managers(&self) -> Vec<Arc<ManagerStats>> {
        self.managers.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// What one Alertmanager has been sent.
#[derive(Debug, Default)]
pub struct ManagerStats {
    /// Its base URL.
    pub url: String,
    /// Alerts it acknowledged.
    pub sent: AtomicU64,
    /// Requests that failed and were retried.
    pub failed: AtomicU64,
    /// Alerts it refused (4xx), not retried.
    pub rejected: AtomicU64,
    /// Alerts dropped from a full queue.
    pub dropped: AtomicU64,
    /// Alerts waiting for it.
    pub queued: AtomicU64,
    /// The last failure, until a request succeeds.
    pub last_error: Mutex<Option<String>>,
}

impl ManagerStats {
    /// The last failure, if the last request failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Records the outcome of a request: its error, or `None` after a success.
    pub fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = error;
    }
}

/// The rules' alerts after the latest window.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AlertsView {
    /// Pending and firing alerts, by rule and labels.
    pub alerts: Vec<AlertEntry>,
    /// The latest changes, newest last (at most [`HISTORY`]).
    pub history: Vec<HistoryEntry>,
    /// Each rule's counts.
    pub rules: Vec<RuleEntry>,
}

/// Changes `GET /alerts` keeps.
pub const HISTORY: usize = 100;

/// A pending or firing alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEntry {
    /// The rule (`alertname`).
    pub name: String,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// Its labels as sent.
    pub labels: BTreeMap<String, String>,
    /// Its annotations, filled in.
    pub annotations: BTreeMap<String, String>,
    /// Its value in the latest window.
    pub value: Option<f64>,
    /// When it went pending (ISO 8601).
    pub active_since: Option<String>,
    /// When it began firing (ISO 8601).
    pub fired_at: Option<String>,
}

/// A change of an alert.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// The rule.
    pub name: String,
    /// Its labels as sent.
    pub labels: BTreeMap<String, String>,
    /// `pending`, `firing`, `cancelled` (pending, then no longer breaching) or `resolved`.
    pub change: &'static str,
    /// Its value then.
    pub value: Option<f64>,
    /// When (ISO 8601).
    pub at: String,
}

/// A rule's counts.
#[derive(Debug, Clone, Serialize)]
pub struct RuleEntry {
    /// The rule.
    pub name: String,
    /// Alerts pending.
    pub pending: usize,
    /// Alerts firing.
    pub firing: usize,
    /// Matching series whose kind has no such number, since the start.
    pub skipped_kind: u64,
    /// Series beyond the per-rule limit, since the start.
    pub skipped_limit: u64,
}
