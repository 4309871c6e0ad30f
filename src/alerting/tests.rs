//! The rules' state machine window by window, against Prometheus' semantics.

use std::collections::BTreeMap;
use std::sync::Arc;

use backends::model::{Series, SeriesKey, Value, Window};

use super::config::RuleConfig;
use super::eval::{Change, Evaluator, Outcome, Settings, State};
use super::rule::Rule;

/// Ten-second windows, resent every 30 s, idle series kept for 60 s.
const SETTINGS: Settings = Settings { window_ms: 10_000, resend_ms: 30_000, forget_ms: 60_000 };

fn rule(name: &str, toml_body: &str) -> Rule {
    let config: RuleConfig = toml::from_str(toml_body).unwrap();
    Rule::compile(name, &config).unwrap()
}

fn counter(name: &str, tags: &[&str], sum: f64) -> Series {
    series(name, tags, Value::Counter { sum, rate: sum / 10.0 })
}

fn gauge(name: &str, tags: &[&str], value: f64) -> Series {
    series(name, tags, Value::Gauge { value })
}

fn series(name: &str, tags: &[&str], value: Value) -> Series {
    let mut tags: Vec<Box<str>> = tags.iter().map(|t| Box::from(*t)).collect();
    tags.sort();
    Series { key: Arc::new(SeriesKey { name: name.into(), tags: tags.into(), hash: 0 }), value }
}

/// Window `n` (1-based), ending at `n * 10 s`.
fn window(n: u64, series: Vec<Series>) -> Window {
    Window {
        id: n,
        start_ms: (n - 1) * 10_000,
        end_ms: n * 10_000,
        hostname: Arc::from("host"),
        tags: Arc::from(vec![Box::from("env:prod")]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn changes(out: &Outcome) -> Vec<Change> {
    out.transitions.iter().map(|t| t.change).collect()
}

const ERRORS: &str = r#"
metric = "http.errors"
value = "rate"
condition = ">"
threshold = 1.0
for = "30s"
severity = "error"
labels = { team = "platform" }
annotations = { summary = "{{ labels.service }} errors at {{ value }}/s over {{ threshold }}" }
"#;

#[test]
fn a_breach_shorter_than_for_stays_pending_and_sends_nothing() {
    let mut e = Evaluator::new(vec![rule("errors", ERRORS)], SETTINGS);
    let hot = || vec![counter("http.errors", &["service:api"], 50.0)];
    assert_eq!(changes(&e.evaluate(&window(1, hot()))), [Change::Pending]);
    for n in 2..=3 {
        let out = e.evaluate(&window(n, hot()));
        assert!(out.messages.is_empty() && out.transitions.is_empty());
    }
    let out = e.evaluate(&window(4, vec![counter("http.errors", &["service:api"], 1.0)]));
    assert_eq!(changes(&out), [Change::Cancelled]);
    assert!(out.messages.is_empty());
}

#[test]
fn a_breach_held_for_its_duration_fires_once_and_is_resent_with_a_lease() {
    let mut e = Evaluator::new(vec![rule("errors", ERRORS)], SETTINGS);
    let hot = || vec![counter("http.errors", &["service:api"], 50.0)];
    for n in 1..=3 {
        e.evaluate(&window(n, hot()));
    }
    // Pending at 10 s, 30 s held at 40 s.
    let out = e.evaluate(&window(4, hot()));
    assert_eq!(changes(&out), [Change::Firing]);
    let m = &out.messages[0];
    let labels: BTreeMap<_, _> = m.labels.iter().cloned().collect();
    assert_eq!(labels["alertname"], "errors");
    assert_eq!(labels["severity"], "error");
    assert_eq!(labels["team"], "platform");
    assert_eq!(labels["service"], "api");
    assert_eq!(labels["env"], "prod", "the agent's tags are labels too");
    assert_eq!(m.annotations, [("summary".to_owned(), "api errors at 5/s over 1".to_owned())]);
    assert_eq!((m.starts_at_ms, m.ends_at_ms), (10_000, 40_000 + 4 * 30_000));
    // Nothing until resend_every has passed, then the same alert with a fresh lease.
    assert!(e.evaluate(&window(5, hot())).messages.is_empty());
    assert!(e.evaluate(&window(6, hot())).messages.is_empty());
    let again = e.evaluate(&window(7, hot()));
    assert_eq!(again.messages.len(), 1);
    assert_eq!(again.messages[0].ends_at_ms, 70_000 + 120_000);
    assert!(again.transitions.is_empty());
}

#[test]
fn a_resolved_alert_is_sent_with_its_resolve_time_and_sent_again_for_a_while() {
    let mut e = Evaluator::new(
        vec![rule("errors", "metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 5.0")],
        SETTINGS,
    );
    assert_eq!(changes(&e.evaluate(&window(1, vec![counter("x", &[], 9.0)]))), [Change::Firing]);
    // The counter saw nothing: its sum is 0 while the series is remembered.
    let out = e.evaluate(&window(2, Vec::new()));
    assert_eq!(changes(&out), [Change::Resolved]);
    assert_eq!((out.messages[0].starts_at_ms, out.messages[0].ends_at_ms), (10_000, 20_000));
    assert!(e.evaluate(&window(3, Vec::new())).messages.is_empty());
    assert!(e.evaluate(&window(4, Vec::new())).messages.is_empty());
    let again = e.evaluate(&window(5, Vec::new()));
    assert_eq!(again.messages.len(), 1, "re-sent after resend_every");
    assert_eq!(again.messages[0].ends_at_ms, 20_000);
}

#[test]
fn a_breach_inside_the_cooldown_does_not_fire_and_one_after_it_does() {
    let body = "metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 5.0\ncooldown = \"60s\"";
    let mut e = Evaluator::new(vec![rule("r", body)], SETTINGS);
    e.evaluate(&window(1, vec![counter("x", &[], 9.0)]));
    assert_eq!(changes(&e.evaluate(&window(2, Vec::new()))), [Change::Resolved]);
    // Resolved at 20 s: breaches before 80 s stay pending.
    assert_eq!(changes(&e.evaluate(&window(3, vec![counter("x", &[], 9.0)]))), [Change::Pending]);
    assert!(e.rules()[0].alerts.values().all(|a| a.state == State::Pending));
    assert_eq!(changes(&e.evaluate(&window(4, Vec::new()))), [Change::Cancelled]);
    for n in 5..=7 {
        assert!(e.evaluate(&window(n, Vec::new())).transitions.is_empty());
    }
    let out = e.evaluate(&window(8, vec![counter("x", &[], 9.0)]));
    assert_eq!(changes(&out), [Change::Firing]);
    assert!(out.messages.iter().any(|m| m.ends_at_ms > 80_000));
}

#[test]
fn keep_firing_for_holds_a_firing_alert_through_short_gaps() {
    let body = "metric = \"g\"\nvalue = \"value\"\ncondition = \">=\"\nthreshold = 90.0\nkeep_firing_for = \"20s\"";
    let mut e = Evaluator::new(vec![rule("r", body)], SETTINGS);
    e.evaluate(&window(1, vec![gauge("g", &[], 95.0)]));
    assert!(e.evaluate(&window(2, vec![gauge("g", &[], 50.0)])).transitions.is_empty());
    assert!(e.evaluate(&window(3, vec![gauge("g", &[], 50.0)])).transitions.is_empty());
    assert_eq!(changes(&e.evaluate(&window(4, vec![gauge("g", &[], 50.0)]))), [Change::Resolved]);
}

#[test]
fn absent_fires_when_no_series_matches_for_its_duration() {
    let body = "metric = \"heartbeat\"\nwhere = { job = \"backup\" }\ncondition = \"absent\"\nfor = \"20s\"";
    let mut e = Evaluator::new(vec![rule("gone", body)], SETTINGS);
    let beat = || vec![counter("heartbeat", &["job:backup"], 1.0), counter("heartbeat", &["job:other"], 1.0)];
    assert!(e.evaluate(&window(1, beat())).transitions.is_empty());
    let other_only = || vec![counter("heartbeat", &["job:other"], 1.0)];
    assert_eq!(changes(&e.evaluate(&window(2, other_only()))), [Change::Pending]);
    e.evaluate(&window(3, other_only()));
    let out = e.evaluate(&window(4, other_only()));
    assert_eq!(changes(&out), [Change::Firing]);
    let labels: BTreeMap<_, _> = out.messages[0].labels.iter().cloned().collect();
    assert_eq!(labels.get("job").map(String::as_str), Some("backup"), "absent's labels are its matchers");
    assert_eq!(changes(&e.evaluate(&window(5, beat()))), [Change::Resolved]);
}

#[test]
fn a_ratio_divides_by_the_series_that_share_its_labels() {
    let body = r#"
metric = "http.errors"
value = "sum"
divide_by = { metric = "http.requests" }
condition = ">"
threshold = 0.05
"#;
    let mut e = Evaluator::new(vec![rule("ratio", body)], SETTINGS);
    let out = e.evaluate(&window(
        1,
        vec![
            counter("http.errors", &["service:api", "code:500"], 6.0),
            counter("http.errors", &["service:web", "code:500"], 1.0),
            counter("http.requests", &["service:api"], 100.0),
            counter("http.requests", &["service:web"], 100.0),
        ],
    ));
    assert_eq!(changes(&out), [Change::Firing], "api's 6 % fires, web's 1 % does not");
    let state = &e.rules()[0];
    let values: BTreeMap<String, Option<f64>> = state
        .alerts
        .values()
        .map(|a| (a.labels.iter().find(|(k, _)| k == "service").unwrap().1.clone(), a.value))
        .collect();
    assert_eq!(values["api"], Some(0.06));
    assert_eq!(values["web"], Some(0.01));
    // No requests at all: no ratio, so nothing breaches and the firing alert resolves.
    let out = e.evaluate(&window(2, vec![counter("http.errors", &["service:api", "code:500"], 6.0)]));
    assert_eq!(changes(&out), [Change::Resolved]);
}

#[test]
fn increase_and_decrease_compare_with_the_window_before() {
    let up = "metric = \"q\"\nvalue = \"value\"\ncondition = \"increase\"\nthreshold = 0.5";
    let down = "metric = \"q\"\nvalue = \"value\"\ncondition = \"decrease\"\nthreshold = 0.5";
    let mut e = Evaluator::new(vec![rule("up", up), rule("down", down)], SETTINGS);
    assert!(e.evaluate(&window(1, vec![gauge("q", &[], 100.0)])).transitions.is_empty());
    assert!(e.evaluate(&window(2, vec![gauge("q", &[], 140.0)])).transitions.is_empty(), "40 % is not over 50 %");
    let out = e.evaluate(&window(3, vec![gauge("q", &[], 220.0)]));
    assert_eq!(out.transitions.iter().map(|t| (&*t.rule, t.change)).collect::<Vec<_>>(), [("up", Change::Firing)]);
    let out = e.evaluate(&window(4, vec![gauge("q", &[], 100.0)]));
    let got: Vec<_> = out.transitions.iter().map(|t| (&*t.rule, t.change)).collect();
    assert_eq!(got, [("up", Change::Resolved), ("down", Change::Firing)]);
}

#[test]
fn a_partial_window_changes_nothing() {
    let mut e = Evaluator::new(
        vec![rule("r", "metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 5.0")],
        SETTINGS,
    );
    let mut w = window(1, vec![counter("x", &[], 9.0)]);
    w.start_ms = w.end_ms - 4_000;
    assert!(e.evaluate(&w).transitions.is_empty());
}

#[test]
fn a_series_of_another_kind_is_skipped_and_counted() {
    let mut e = Evaluator::new(
        vec![rule("r", "metric = \"x\"\nvalue = \"rate\"\ncondition = \">\"\nthreshold = 5.0")],
        SETTINGS,
    );
    assert!(e.evaluate(&window(1, vec![gauge("x", &[], 9.0)])).transitions.is_empty());
    assert_eq!(e.rules()[0].skipped.kind, 1);
}

#[test]
fn a_reload_keeps_pending_alerts_and_resolves_those_of_a_changed_rule() {
    let mut e = Evaluator::new(
        vec![
            rule("errors", ERRORS),
            rule("other", "metric = \"y\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 0.0"),
        ],
        SETTINGS,
    );
    e.evaluate(&window(1, vec![counter("http.errors", &["service:api"], 50.0), counter("y", &[], 1.0)]));
    // `errors` keeps its series (a new threshold), `other` now watches another metric.
    let reloaded = ERRORS.replace("threshold = 1.0", "threshold = 2.0");
    let out = e.reconfigure(
        vec![
            rule("errors", &reloaded),
            rule("other", "metric = \"z\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 0.0"),
        ],
        SETTINGS,
        15_000,
    );
    assert_eq!(changes(&out), [Change::Resolved], "the changed rule's firing alert resolves");
    assert_eq!(out.messages[0].ends_at_ms, 15_000);
    let pending = &e.rules()[0].alerts.values().next().unwrap();
    assert_eq!((pending.state, pending.active_since_ms), (State::Pending, Some(10_000)));
    for n in 2..=3 {
        e.evaluate(&window(n, vec![counter("http.errors", &["service:api"], 50.0)]));
    }
    let out = e.evaluate(&window(4, vec![counter("http.errors", &["service:api"], 50.0)]));
    assert!(changes(&out).contains(&Change::Firing), "`for` counts from before the reload");
}

#[test]
fn a_restart_while_firing_keeps_the_alert_firing_without_a_resolve() {
    let rules = || vec![rule("errors", ERRORS)];
    let mut before = Evaluator::new(rules(), SETTINGS);
    for n in 1..=4 {
        before.evaluate(&window(n, vec![counter("http.errors", &["service:api"], 50.0)]));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = super::state::path(dir.path());
    super::state::save(&path, before.save(40_000)).unwrap();

    let mut after = Evaluator::new(rules(), SETTINGS);
    after.restore(&super::state::load(&path).unwrap());
    let out = after.evaluate(&window(6, vec![counter("http.errors", &["service:api"], 50.0)]));
    assert!(out.transitions.is_empty(), "still firing: {:?}", out.transitions);
    assert_eq!(out.messages.len(), 0, "last sent at 40 s, resent only after 30 s");
    let out = after.evaluate(&window(7, vec![counter("http.errors", &["service:api"], 50.0)]));
    assert_eq!(out.messages.len(), 1);
    assert_eq!(out.messages[0].starts_at_ms, 10_000, "the same alert, from when it went pending");
}

#[test]
fn saved_alerts_of_a_rule_that_now_watches_another_series_are_not_restored() {
    let mut before = Evaluator::new(vec![rule("errors", ERRORS)], SETTINGS);
    before.evaluate(&window(1, vec![counter("http.errors", &["service:api"], 50.0)]));
    let mut after = Evaluator::new(vec![rule("errors", &ERRORS.replace("http.errors", "http.failures"))], SETTINGS);
    after.restore(&before.save(10_000));
    assert!(after.rules()[0].alerts.is_empty());
}

#[test]
fn a_rule_that_cannot_be_evaluated_is_refused_with_its_key() {
    let refused = |body: &str| {
        let config: RuleConfig = toml::from_str(body).unwrap();
        let e = Rule::compile("r", &config).unwrap_err();
        (e.key, e.message)
    };
    assert_eq!(refused("metric = \"x\"\nvalue = \"p100\"\ncondition = \">\"\nthreshold = 1.0").0, "value");
    assert_eq!(refused("metric = \"x\"\nvalue = \"sum\"\ncondition = \"above\"\nthreshold = 1.0").0, "condition");
    assert_eq!(refused("metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"").0, "threshold");
    assert_eq!(refused("metric = \"x\"\ncondition = \"absent\"\nthreshold = 1.0").0, "threshold");
    assert_eq!(refused("metric = \"x\"\nvalue = \"sum\"\ncondition = \"increase\"\nthreshold = 0.0").0, "threshold");
    assert_eq!(
        refused("metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 1.0\nlabels = { alertname = \"y\" }")
            .0,
        "labels"
    );
    let (key, message) = refused(
        "metric = \"x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 1.0\nannotations = { s = \"{{ valeu }}\" }",
    );
    assert_eq!(key, "annotations");
    assert!(message.contains("unknown placeholder {{ valeu }}"), "{message}");
}

#[test]
fn percentiles_and_means_of_timers_are_read_from_the_window() {
    use backends::model::{Summary, SummaryKind};
    let mut sketch = backends::sketch::Sketch::new();
    for v in 1..=100 {
        sketch.add(f64::from(v), 1.0);
    }
    let summary = Summary {
        kind: SummaryKind::Timer,
        count: 100.0,
        sum: 5050.0,
        min: 1.0,
        max: 100.0,
        percentiles: vec![(99.0, 99.0)],
        buckets: Vec::new(),
        sketch,
    };
    let value = Value::Summary(Box::new(summary));
    let of = |v: &str| {
        rule("r", &format!("metric = \"t\"\nvalue = \"{v}\"\ncondition = \">\"\nthreshold = 1.0"))
            .measure
            .unwrap()
            .of(&value, 10.0)
    };
    assert_eq!(of("p99"), Some(99.0), "a configured percentile is exact");
    assert_eq!(of("mean"), Some(50.5));
    assert_eq!(of("rate"), Some(10.0));
    assert_eq!(of("max"), Some(100.0));
    let p90 = of("p90").unwrap();
    assert!((p90 - 90.0).abs() <= 90.0 * 0.02, "the sketch's p90 is within 2 %: {p90}");
}
