//! The alerting task: evaluates every window the aggregator flushes, publishes the alerts
//! for the API, saves them for the next run and hands them to every Alertmanager.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backends::Window;
use backends::delivery::HttpAuth;
use backends::delivery::http::Client;
use backends::units::iso8601;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::alertmanager::{Delivery, Manager, Outbox};
use super::config::AlertingConfig;
use super::eval::{Change, Evaluator, Outcome, Saved, Settings, State, annotations, full_labels};
use super::rule::Rule;
use super::state;
use crate::config::Config;
use crate::telemetry::Telemetry;
use crate::telemetry::alerts::{AlertEntry, AlertsView, HISTORY, HistoryEntry, RuleEntry};

/// Windows waiting for the rules. The rules evaluate in microseconds; a window that finds
/// the queue full is skipped and counted (`sluice_rule_windows_skipped_total`), the
/// aggregator never waits.
pub const WINDOW_QUEUE: usize = 16;

/// Why alerting could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A rule that passed validation could not be built.
    #[error("[rules.{rule}] {key}: {message}")]
    Rule {
        /// The rule.
        rule: String,
        /// Its key.
        key: &'static str,
        /// Why.
        message: String,
    },
    /// `[alerting]`'s authentication could not be read.
    #[error("[alerting]: {0}")]
    Auth(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for [alerting]: {0}")]
    Client(String),
}

/// Everything the task needs from the config, read and checked before it is applied.
#[derive(Debug)]
pub struct Plan {
    rules: Vec<Rule>,
    settings: Settings,
    alerting: AlertingConfig,
    auth: HttpAuth,
    state_path: PathBuf,
    shutdown_timeout: Duration,
}

impl Plan {
    /// The rules and `[alerting]` of `config`, its password or token files read now.
    pub fn new(config: &Config) -> Result<Self, PlanError> {
        let rules = config
            .rules
            .iter()
            .map(|(name, rule)| {
                Rule::compile(name, rule).map_err(|e| PlanError::Rule {
                    rule: name.clone(),
                    key: e.key,
                    message: e.message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let alerting = config.alerting.clone().unwrap_or_default();
        let auth = alerting.credentials().read().map_err(|e| PlanError::Auth(e.to_string()))?;
        let window_ms = millis(config.agent.flush_interval.0);
        let settings = Settings {
            window_ms,
            resend_ms: millis(alerting.resend_every.0),
            forget_ms: window_ms.saturating_mul(u64::from(config.agent.expire_after_windows)),
        };
        Ok(Self {
            rules,
            settings,
            alerting,
            auth,
            state_path: state::path(&config.agent.data_dir),
            shutdown_timeout: config.agent.shutdown_timeout.0,
        })
    }
}

/// The running task's ends.
#[derive(Debug)]
pub struct Handle {
    /// Where the aggregator offers each window.
    pub windows: mpsc::Sender<Arc<Window>>,
    /// Where a reload sends the new plan.
    pub plans: mpsc::Sender<Plan>,
    /// The task; it ends once `windows` is closed and the Alertmanagers are told.
    pub task: JoinHandle<()>,
}

/// Starts the task with `plan`, its alerts restored from the last run's `data_dir`.
pub fn spawn(plan: Plan, telemetry: Arc<Telemetry>) -> Result<Handle, PlanError> {
    let client = backends::delivery::http::client().map_err(|e| PlanError::Client(e.to_string()))?;
    let mut evaluator = Evaluator::new(plan.rules.clone(), plan.settings);
    match state::load(&plan.state_path) {
        Ok(saved) => {
            let restored: usize = saved.values().map(|s| s.alerts.len()).sum();
            if restored > 0 {
                tracing::info!(alerts = restored, path = %plan.state_path.display(), "Restored the rules' alerts.");
            }
            evaluator.restore(&saved);
        }
        Err(e) => tracing::warn!(error = %e, "Starting the rules without their saved alerts."),
    }
    let mut task = Alerting {
        evaluator,
        managers: Vec::new(),
        client,
        telemetry,
        history: VecDeque::new(),
        saved: BTreeMap::new(),
        plan,
    };
    task.start_managers();
    task.publish();
    let (windows, windows_rx) = mpsc::channel(WINDOW_QUEUE);
    let (plans, plans_rx) = mpsc::channel(2);
    let task = tokio::spawn(task.run(windows_rx, plans_rx));
    Ok(Handle { windows, plans, task })
}

struct Alerting {
    evaluator: Evaluator,
    /// One per `[alerting] alertmanagers` URL.
    managers: Vec<Manager>,
    client: Client,
    telemetry: Arc<Telemetry>,
    history: VecDeque<HistoryEntry>,
    /// What was last written to the state file.
    saved: BTreeMap<String, Saved>,
    plan: Plan,
}

impl Alerting {
    async fn run(mut self, mut windows: mpsc::Receiver<Arc<Window>>, mut plans: mpsc::Receiver<Plan>) {
        loop {
            tokio::select! {
                window = windows.recv() => match window {
                    Some(window) => {
                        let outcome = self.evaluator.evaluate(&window);
                        self.record(&outcome, window.end_ms);
                    }
                    None => break,
                },
                Some(plan) = plans.recv() => self.reconfigure(plan),
            }
        }
        let deadline = self.plan.shutdown_timeout;
        for manager in self.managers {
            manager.finish(deadline).await;
        }
    }

    fn reconfigure(&mut self, plan: Plan) {
        let now = now_ms();
        let outcome = self.evaluator.reconfigure(plan.rules.clone(), plan.settings, now);
        self.plan = plan;
        self.start_managers();
        self.record(&outcome, now);
        tracing::info!(rules = self.plan.rules.len(), alertmanagers = self.managers.len(), "Alert rules configured.");
    }

    /// (Re)starts a delivery task per Alertmanager; one that was configured before hands
    /// what it still holds to its successor.
    fn start_managers(&mut self) {
        let mut old: Vec<Manager> = std::mem::take(&mut self.managers);
        let delivery = Delivery {
            client: self.client.clone(),
            auth: self.plan.auth.clone(),
            external_labels: self.plan.alerting.external_labels.clone().into_iter().collect(),
            timeout: self.plan.alerting.timeout.0,
            retry: self.plan.alerting.retry.clone(),
        };
        for url in &self.plan.alerting.alertmanagers {
            let stats = self.telemetry.alerts.manager(url);
            let outbox = Arc::new(Outbox::new(self.plan.alerting.queue_capacity));
            if let Some(i) = old.iter().position(|m| m.stats.url == *url) {
                let held = old.swap_remove(i).abandon();
                let messages: Vec<_> = held.snapshot().into_iter().map(|(_, m)| m).collect();
                outbox.push(&messages);
            }
            self.managers.push(Manager::spawn(url, outbox, delivery.clone(), stats));
        }
        for gone in old {
            let left = gone.abandon().len();
            if left > 0 {
                tracing::warn!(alerts = left, "An Alertmanager removed by the reload had alerts not yet delivered.");
            }
        }
    }

    /// Logs and keeps the changes, sends the alerts, publishes the view and saves the state.
    fn record(&mut self, outcome: &Outcome, now: u64) {
        for t in &outcome.transitions {
            let labels = serde_json::to_string(&t.labels).unwrap_or_default();
            match t.change {
                Change::Firing => {
                    tracing::warn!(rule = %t.rule, labels = %labels, value = ?t.value, "Alert firing.");
                }
                Change::Resolved => {
                    tracing::info!(rule = %t.rule, labels = %labels, value = ?t.value, "Alert resolved.");
                }
                Change::Pending | Change::Cancelled => {
                    tracing::debug!(rule = %t.rule, labels = %labels, change = ?t.change, "Alert changed.");
                }
            }
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(HistoryEntry {
                name: t.rule.to_string(),
                labels: t.labels.clone(),
                change: change_name(t.change),
                value: t.value,
                at: iso8601(t.at_ms),
            });
        }
        if !outcome.messages.is_empty() {
            for manager in &self.managers {
                manager.push(&outcome.messages);
            }
        }
        self.publish();
        let saved = self.evaluator.save(now);
        if saved != self.saved {
            if let Err(e) = state::save(&self.plan.state_path, saved.clone()) {
                tracing::warn!(error = %e, path = %self.plan.state_path.display(), "Cannot save the rules' alerts; a restart would forget them.");
            }
            self.saved = saved;
        }
    }

    /// Replaces the view `GET /alerts` reads.
    fn publish(&self) {
        let mut view = AlertsView { history: self.history.iter().cloned().collect(), ..AlertsView::default() };
        for rs in self.evaluator.rules() {
            let (pending, firing) = rs.counts();
            view.rules.push(RuleEntry {
                name: rs.rule.name.to_string(),
                pending,
                firing,
                skipped_kind: rs.skipped.kind,
                skipped_limit: rs.skipped.limit,
            });
            for alert in rs.alerts.values().filter(|a| a.state != State::Inactive) {
                let labels = full_labels(&rs.rule, alert);
                view.alerts.push(AlertEntry {
                    name: rs.rule.name.to_string(),
                    state: if alert.state == State::Firing { "firing" } else { "pending" },
                    annotations: annotations(&rs.rule, alert, &labels).into_iter().collect(),
                    labels: labels.into_iter().collect(),
                    value: alert.value,
                    active_since: alert.active_since_ms.map(iso8601),
                    fired_at: alert.fired_at_ms.filter(|_| alert.state == State::Firing).map(iso8601),
                });
            }
        }
        self.telemetry.alerts.set_view(view);
    }
}

fn change_name(change: Change) -> &'static str {
    match change {
        Change::Pending => "pending",
        Change::Firing => "firing",
        Change::Cancelled => "cancelled",
        Change::Resolved => "resolved",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}
