//! The rules' state machine: pure (no clock, no I/O), fed one window at a time; its "now" is
//! the window's end. States are Prometheus': inactive → pending (the condition holds, `for`
//! has not passed) → firing; a firing alert whose condition stops holding (after
//! `keep_firing_for`) resolves. What must be sent to Alertmanager comes out of each step.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use backends::model::{Series, Window};
use serde::{Deserialize, Serialize};

use super::rule::{Condition, Rule, series_labels};
use super::template::Fill;

/// How long a resolved alert is sent again (every `resend_every`), as Prometheus does, so an
/// Alertmanager that missed the first resolve still hears of it.
pub const RESOLVED_RETENTION_MS: u64 = 15 * 60 * 1000;

/// Most alerts one rule tracks (one per matching series); series beyond it are skipped and
/// counted.
pub const MAX_ALERTS_PER_RULE: usize = 10_000;

/// A window shorter than this share of the flush interval (the first after a start, the last
/// before a stop) is not evaluated: its sums and counts cover only part of a window, which
/// would resolve or fire an alert falsely.
const PARTIAL_WINDOW: f64 = 0.9;

/// An alert's labels, sorted by name.
pub type Labels = Vec<(String, String)>;

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The condition does not hold (or the alert resolved).
    Inactive,
    /// The condition holds, not yet for `for`.
    Pending,
    /// The condition has held for `for`; Alertmanager is told.
    Firing,
}

/// What happened to an alert in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It went pending.
    Pending,
    /// It began firing.
    Firing,
    /// Pending, its condition stopped holding before `for`.
    Cancelled,
    /// It stopped firing.
    Resolved,
}

/// One alert of a rule: one matching series (or, for `absent`, the rule's matchers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The series' labels (the rule's own are added when sent).
    pub labels: Labels,
    /// Where it is.
    pub state: State,
    /// Its value in the last window; `None` when it had none.
    pub value: Option<f64>,
    /// Its value in the window before, for `increase` and `decrease`.
    pub previous: Option<f64>,
    /// When it went pending (Alertmanager's `startsAt`).
    pub active_since_ms: Option<u64>,
    /// When it began firing.
    pub fired_at_ms: Option<u64>,
    /// The last window whose value breached.
    pub last_breach_ms: Option<u64>,
    /// While firing, the first window since the last breach that did not breach (from which
    /// `keep_firing_for` counts, as in Prometheus).
    #[serde(default)]
    pub quiet_since_ms: Option<u64>,
    /// When it last resolved (for `cooldown` and for sending the resolve again).
    pub resolved_at_ms: Option<u64>,
    /// The last window its series was in.
    pub last_seen_ms: u64,
    /// When it was last handed to Alertmanager.
    pub last_sent_ms: Option<u64>,
}

impl Alert {
    fn new(labels: Labels, now: u64) -> Self {
        Self {
            labels,
            state: State::Inactive,
            value: None,
            previous: None,
            active_since_ms: None,
            fired_at_ms: None,
            last_breach_ms: None,
            quiet_since_ms: None,
            resolved_at_ms: None,
            last_seen_ms: now,
            last_sent_ms: None,
        }
    }

    /// Whether it is worth keeping across a restart.
    pub fn is_live(&self, now: u64, rule: &Rule) -> bool {
        self.state != State::Inactive
            || self.resolved_at_ms.is_some_and(|r| now.saturating_sub(r) < RESOLVED_RETENTION_MS.max(rule.cooldown_ms))
    }
}

/// An alert as Alertmanager's API v2 takes it (external labels not yet added).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `alertname`, `severity`, the rule's labels and the series'.
    pub labels: Labels,
    /// The rule's annotations, filled in.
    pub annotations: Labels,
    /// `startsAt`, Unix milliseconds.
    pub starts_at_ms: u64,
    /// `endsAt`: the lease of a firing alert, the resolve time of a resolved one.
    pub ends_at_ms: u64,
}

/// A change of one alert, for `GET /alerts`' history and the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The rule.
    pub rule: Arc<str>,
    /// The alert's labels, as sent.
    pub labels: BTreeMap<String, String>,
    /// What happened.
    pub change: Change,
    /// Its value then.
    pub value: Option<f64>,
    /// When, Unix milliseconds.
    pub at_ms: u64,
}

/// A rule's alerts as saved in `data_dir` across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// What the rule watched ([`Rule::watches`]): alerts of a rule since changed are dropped.
    pub watches: String,
    /// Its live alerts.
    pub alerts: Vec<Alert>,
}

/// What one window changed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Alerts to send now.
    pub messages: Vec<Message>,
    /// Alerts that changed state.
    pub transitions: Vec<Transition>,
}

/// Timing every rule shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The agent's flush interval, milliseconds.
    pub window_ms: u64,
    /// `[alerting] resend_every`, milliseconds.
    pub resend_ms: u64,
    /// How long an idle series' alert is kept (counting as 0 for counting numbers):
    /// `expire_after_windows` windows, as the aggregator keeps a series.
    pub forget_ms: u64,
}

impl Settings {
    /// A firing alert's `endsAt` lease: four times the resend or window interval, whichever
    /// is longer, as Prometheus sets it.
    pub fn lease_ms(&self) -> u64 {
        self.resend_ms.max(self.window_ms).saturating_mul(4)
    }
}

/// Counts of what a rule could not evaluate.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Matching series whose kind has no such number (a `rate` of a gauge).
    pub kind: u64,
    /// Series beyond [`MAX_ALERTS_PER_RULE`].
    pub limit: u64,
}

/// One rule and its alerts.
#[derive(Debug)]
pub struct RuleState {
    /// The rule.
    pub rule: Arc<Rule>,
    /// Its alerts by labels.
    pub alerts: BTreeMap<Labels, Alert>,
    /// What it skipped since the agent started.
    pub skipped: Skipped,
}

/// Every rule's state.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<RuleState>,
    settings: Settings,
}

impl Evaluator {
    /// Rules with no alert yet.
    pub fn new(rules: Vec<Rule>, settings: Settings) -> Self {
        let rules = rules.into_iter().map(|rule| RuleState::new(Arc::new(rule))).collect();
        Self { rules, settings }
    }

    /// The rules and their alerts.
    pub fn rules(&self) -> &[RuleState] {
        &self.rules
    }

    /// Restores alerts saved by an earlier run, for the rules of the same name that watch
    /// the same series ([`Rule::watches`]).
    pub fn restore(&mut self, saved: &BTreeMap<String, Saved>) {
        for state in &mut self.rules {
            if let Some(saved) = saved.get(&*state.rule.name).filter(|s| s.watches == state.rule.watches()) {
                state.alerts.extend(saved.alerts.iter().map(|a| (a.labels.clone(), a.clone())));
            }
        }
    }

    /// What to save for the next run: each rule's alerts that are pending, firing, or
    /// resolved recently enough to be sent again or to hold a cooldown.
    pub fn save(&self, now: u64) -> BTreeMap<String, Saved> {
        self.rules
            .iter()
            .map(|s| {
                let alerts = s.alerts.values().filter(|a| a.is_live(now, &s.rule)).cloned().collect();
                (s.rule.name.to_string(), Saved { watches: s.rule.watches(), alerts })
            })
            .filter(|(_, s)| !s.alerts.is_empty())
            .collect()
    }

    /// New rules and settings; each rule of the same name that watches the same series keeps
    /// its alerts (pending ones stay pending). The firing alerts of a rule removed or changed
    /// are resolved now, at `now`.
    pub fn reconfigure(&mut self, rules: Vec<Rule>, settings: Settings, now: u64) -> Outcome {
        let mut old: Vec<RuleState> = std::mem::take(&mut self.rules);
        let mut out = Outcome::default();
        for rule in rules {
            let rule = Arc::new(rule);
            let kept = old.iter().position(|s| s.rule.name == rule.name && s.rule.same_series(&rule));
            let mut state = RuleState::new(Arc::clone(&rule));
            if let Some(i) = kept {
                let previous = old.swap_remove(i);
                state.alerts = previous.alerts;
                state.skipped = previous.skipped;
            }
            self.rules.push(state);
        }
        for mut gone in old {
            let rule = Arc::clone(&gone.rule);
            for alert in gone.alerts.values_mut().filter(|a| a.state == State::Firing) {
                alert.state = State::Inactive;
                alert.resolved_at_ms = Some(now);
                out.transitions.push(transition(&rule, alert, Change::Resolved, now));
                out.messages.push(message(&rule, alert, now, &settings));
            }
        }
        self.settings = settings;
        out
    }

    /// Evaluates every rule over `window`. A partial window (shorter than nine tenths of the
    /// flush interval) changes nothing.
    pub fn evaluate(&mut self, window: &Window) -> Outcome {
        let mut out = Outcome::default();
        let length = window.end_ms.saturating_sub(window.start_ms);
        if self.rules.is_empty() || (length as f64) < PARTIAL_WINDOW * self.settings.window_ms as f64 {
            return out;
        }
        let wanted: HashSet<Box<str>> = self
            .rules
            .iter()
            .flat_map(|s| std::iter::once(&s.rule.selector).chain(s.rule.divide_by.as_ref().map(|(d, _)| d)))
            .map(|selector| selector.metric.clone())
            .collect();
        let mut by_name: HashMap<&str, Vec<&Series>> = HashMap::new();
        for series in &window.series {
            if wanted.contains(&*series.key.name) {
                by_name.entry(&series.key.name).or_default().push(series);
            }
        }
        let view = View { by_name: &by_name, window, seconds: length as f64 / 1000.0 };
        for state in &mut self.rules {
            state.evaluate(&view, &self.settings, &mut out);
        }
        out
    }
}

/// The window as the rules read it.
struct View<'a> {
    by_name: &'a HashMap<&'a str, Vec<&'a Series>>,
    window: &'a Window,
    seconds: f64,
}

impl View<'_> {
    /// The series `selector` watches.
    fn matching<'s>(&'s self, selector: &'s super::rule::Selector) -> impl Iterator<Item = &'s Series> + 's {
        self.by_name.get(&*selector.metric).into_iter().flatten().copied().filter(|s| selector.matches(s))
    }

    /// A series' alert labels: the agent's tags, then the series' own (which win).
    fn labels(&self, series: &Series) -> Labels {
        series_labels(self.window.tags.iter().chain(series.key.tags.iter()).map(|t| &**t))
    }
}

impl RuleState {
    fn new(rule: Arc<Rule>) -> Self {
        Self { rule, alerts: BTreeMap::new(), skipped: Skipped::default() }
    }

    /// Alerts pending and firing.
    pub fn counts(&self) -> (usize, usize) {
        self.alerts.values().fold((0, 0), |(p, f), a| match a.state {
            State::Pending => (p + 1, f),
            State::Firing => (p, f + 1),
            State::Inactive => (p, f),
        })
    }

    fn evaluate(&mut self, view: &View<'_>, settings: &Settings, out: &mut Outcome) {
        let rule = Arc::clone(&self.rule);
        let now = view.window.end_ms;
        if rule.condition == Condition::Absent {
            let labels = series_labels(rule.selector.tags.iter().map(|t| &**t));
            let breach = view.matching(&rule.selector).next().is_none();
            let alert = self.alerts.entry(labels.clone()).or_insert_with(|| Alert::new(labels, now));
            alert.last_seen_ms = now;
            step(&rule, alert, breach, now, settings, out);
            return;
        }
        let Some(measure) = rule.measure else { return };
        let denominators: Vec<(Labels, f64)> = match &rule.divide_by {
            Some((selector, m)) => {
                view.matching(selector).filter_map(|s| Some((view.labels(s), m.of(&s.value, view.seconds)?))).collect()
            }
            None => Vec::new(),
        };
        let ratio = |labels: &Labels, numerator: Option<f64>| {
            if rule.divide_by.is_none() {
                return numerator;
            }
            let total: f64 = denominators.iter().filter(|(d, _)| paired(labels, d)).map(|(_, v)| v).sum();
            numerator.filter(|_| total != 0.0).map(|n| n / total)
        };
        for series in view.matching(&rule.selector) {
            let Some(value) = measure.of(&series.value, view.seconds) else {
                self.skipped.kind += 1;
                continue;
            };
            let labels = view.labels(series);
            if !self.alerts.contains_key(&labels) && self.alerts.len() >= MAX_ALERTS_PER_RULE {
                self.skipped.limit += 1;
                continue;
            }
            let value = ratio(&labels, Some(value));
            let alert = self.alerts.entry(labels.clone()).or_insert_with(|| Alert::new(labels, now));
            alert.previous = alert.value;
            alert.value = value;
            alert.last_seen_ms = now;
        }
        for alert in self.alerts.values_mut().filter(|a| a.last_seen_ms != now) {
            // A counting number of a series that saw nothing this window is 0 while the series
            // is remembered; anything else has no value.
            let idle = (measure.zero_when_idle() && now.saturating_sub(alert.last_seen_ms) <= settings.forget_ms)
                .then_some(0.0);
            alert.previous = alert.value;
            alert.value = ratio(&alert.labels, idle);
        }
        for alert in self.alerts.values_mut() {
            let breach = alert.value.is_some_and(|v| rule.condition.holds(v, alert.previous));
            step(&rule, alert, breach, now, settings, out);
        }
        self.alerts.retain(|_, a| a.is_live(now, &rule) || now.saturating_sub(a.last_seen_ms) <= settings.forget_ms);
    }
}

/// Whether a numerator and a denominator series pair: every label both have is equal.
fn paired(numerator: &Labels, denominator: &Labels) -> bool {
    denominator.iter().all(|(k, v)| numerator.iter().find(|(n, _)| n == k).is_none_or(|(_, nv)| nv == v))
}

/// Moves `alert` for one window whose value breached or not, and queues what must be sent.
fn step(rule: &Arc<Rule>, alert: &mut Alert, breach: bool, now: u64, settings: &Settings, out: &mut Outcome) {
    let mut change = None;
    if breach {
        alert.last_breach_ms = Some(now);
        alert.quiet_since_ms = None;
        if alert.state == State::Inactive {
            alert.state = State::Pending;
            alert.active_since_ms = Some(now);
            change = Some(Change::Pending);
        }
        if alert.state == State::Pending {
            let held = now.saturating_sub(alert.active_since_ms.unwrap_or(now)) >= rule.for_ms;
            let cooling = alert.resolved_at_ms.is_some_and(|r| now < r.saturating_add(rule.cooldown_ms));
            if held && !cooling {
                alert.state = State::Firing;
                alert.fired_at_ms = Some(now);
                alert.resolved_at_ms = None;
                change = Some(Change::Firing);
            }
        }
    } else {
        match alert.state {
            State::Pending => {
                alert.state = State::Inactive;
                change = Some(Change::Cancelled);
            }
            State::Firing => {
                let quiet = *alert.quiet_since_ms.get_or_insert(now);
                if now.saturating_sub(quiet) >= rule.keep_firing_ms {
                    alert.quiet_since_ms = None;
                    alert.state = State::Inactive;
                    alert.resolved_at_ms = Some(now);
                    change = Some(Change::Resolved);
                }
            }
            State::Inactive => {}
        }
    }
    if let Some(change) = change {
        out.transitions.push(transition(rule, alert, change, now));
    }
    let due = alert.last_sent_ms.is_none_or(|s| now.saturating_sub(s) >= settings.resend_ms);
    let send = match alert.state {
        State::Firing => change == Some(Change::Firing) || due,
        State::Inactive => {
            change == Some(Change::Resolved)
                || (due && alert.resolved_at_ms.is_some_and(|r| now.saturating_sub(r) < RESOLVED_RETENTION_MS))
        }
        State::Pending => false,
    };
    if send {
        alert.last_sent_ms = Some(now);
        out.messages.push(message(rule, alert, now, settings));
    }
}

/// The alert's full labels: its series', the rule's (which win), `alertname`.
pub fn full_labels(rule: &Rule, alert: &Alert) -> Labels {
    let mut labels: BTreeMap<&str, &str> = alert.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    labels.extend(rule.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    labels.insert("alertname", &rule.name);
    labels.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// The rule's annotations filled for `alert`.
pub fn annotations(rule: &Rule, alert: &Alert, labels: &Labels) -> Labels {
    let fill = Fill { value: alert.value, threshold: rule.condition.threshold(), rule: &rule.name, labels };
    rule.annotations.iter().map(|(k, t)| (k.clone(), t.render(fill))).collect()
}

fn message(rule: &Rule, alert: &Alert, now: u64, settings: &Settings) -> Message {
    let labels = full_labels(rule, alert);
    let annotations = annotations(rule, alert, &labels);
    let ends_at_ms = match alert.state {
        State::Firing => now.saturating_add(settings.lease_ms()),
        _ => alert.resolved_at_ms.unwrap_or(now),
    };
    Message { starts_at_ms: alert.active_since_ms.unwrap_or(now), ends_at_ms, labels, annotations }
}

fn transition(rule: &Rule, alert: &Alert, change: Change, now: u64) -> Transition {
    Transition {
        rule: Arc::clone(&rule.name),
        labels: full_labels(rule, alert).into_iter().collect(),
        change,
        value: alert.value,
        at_ms: now,
    }
}
