//! Alert rules through the binary without an Alertmanager: a rule fires and shows in
//! `GET /alerts`, `/status`, `sluice status` and `/metrics`; a bad rule is refused with its
//! key and line; `sluice rules export` writes a rule file `promtool check rules` accepts.
//! Delivery to a real Alertmanager is tested in the end-to-end tests.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

use common::promtool::check_rules;
use common::{Agent, Setup};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

/// `GET /alerts` once `ready` holds, or the last answer after 20 s.
fn wait_alerts(agent: &Agent, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = agent.get("/alerts");
        assert_eq!(status, 200, "{body}");
        let alerts: Value = serde_json::from_str(&body).unwrap();
        if ready(&alerts) || Instant::now() > deadline {
            return alerts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A gauge over its threshold fires its rule, labelled by its tags and the rule, annotated
/// with its exact value; every view of the agent shows it; a gauge of another kind of series
/// is skipped and counted.
#[test]
fn a_firing_rule_shows_in_alerts_status_and_metrics() {
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(
        "[rules.disk_full]\nmetric = \"disk.used_ratio\"\nvalue = \"value\"\ncondition = \">\"\nthreshold = 0.9\n\
         severity = \"critical\"\nlabels = { team = \"storage\" }\n\
         annotations = { summary = \"{{ labels.mount }} is {{ value }} full\" }\n\
         [rules.wrong_kind]\nmetric = \"disk.used_ratio\"\nvalue = \"rate\"\ncondition = \">\"\nthreshold = 0.0\n",
    );
    let fired = |a: &Value| a["alerts"].as_array().is_some_and(|l| l.iter().any(|x| x["state"] == "firing"));
    let mut alerts = Value::Null;
    for _ in 0..40 {
        agent.send_udp(&["disk.used_ratio:0.95|g|#mount:/var", "disk.used_ratio:0.5|g|#mount:/home"]);
        alerts = wait_alerts(&agent, |a| fired(a));
        if fired(&alerts) {
            break;
        }
    }
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only /var breaches: {alerts}");
    let alert = &list[0];
    assert_eq!(alert["name"], "disk_full");
    assert_eq!(alert["value"], 0.95);
    assert_eq!(alert["labels"]["mount"], "/var");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["team"], "storage");
    assert_eq!(alert["labels"]["alertname"], "disk_full");
    assert_eq!(alert["annotations"]["summary"], "/var is 0.95 full");
    let history = alerts["history"].as_array().unwrap();
    assert!(history.iter().any(|h| h["change"] == "firing" && h["labels"]["mount"] == "/var"), "{alerts}");

    let (_, status) = agent.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["alerts"][0]["labels"]["mount"], "/var");

    let out = sluice().args(["status", "--api", &agent.api.to_string()]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("alerts firing\n  disk_full {mount=/var,severity=critical,team=storage} value=0.95"),
        "{text}"
    );

    assert_eq!(agent.metric("sluice_alerts{rule=\"disk_full\",state=\"firing\"}"), Some(1.0));
    assert!(agent.metric("sluice_rule_skipped_series_total{rule=\"wrong_kind\",reason=\"kind\"}").unwrap() >= 2.0);
}

/// A rule with a bad condition is refused by `validate` and by `run`, naming the key and
/// its line.
#[test]
fn a_bad_rule_is_refused_with_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        "[sources.statsd]\nudp = [\"127.0.0.1:0\"]\n[sinks.out]\ntype = \"console\"\n\
         [rules.latency]\nmetric = \"api.latency\"\nvalue = \"p99\"\ncondition = \"above\"\nthreshold = 250.0\n",
    )
    .unwrap();
    for command in ["validate", "run"] {
        let out = sluice().args([command, "--config"]).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("\"condition\"") && err.contains("[rules.latency]"), "{command}: {err}");
        assert!(err.contains(":8"), "{command} names line 8: {err}");
        assert!(err.contains(">, >=, <, <=, ==, !=, increase, decrease, absent"), "{command}: {err}");
    }
}

/// The shipped rules example exports as a rule file that promtool accepts, every rule in it
/// under its own name, over the names the Prometheus outputs give the series.
#[test]
fn the_shipped_rules_export_as_a_rule_file_promtool_accepts() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/rules.toml");
    let out = sluice().args(["rules", "export", "--config", config]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rules = String::from_utf8(out.stdout).unwrap();
    check_rules(&rules).unwrap();
    for name in [
        "api_error_ratio",
        "checkout_slow",
        "orders_stalled",
        "import_heartbeat_missing",
        "queue_surge",
        "api_probe_failing",
    ] {
        assert!(rules.contains(&format!("- alert: \"{name}\"")), "{name}: {rules}");
    }
    assert!(rules.contains(r#"expr: "(rate(http_errors_total{service=\"api\"}[1m])) / (rate(http_requests_total{service=\"api\"}[1m])) > 0.05""#), "{rules}");
    assert!(
        rules.contains(r#"expr: "histogram_quantile(0.99, rate(checkout_latency_bucket[1m])) * 1000 > 800""#),
        "{rules}"
    );
    assert!(rules.contains(r#""summary": "API error ratio is {{ $value }} (over 0.05)""#), "{rules}");
}

/// Mapping rules rename the exported series, a rule over a series no Prometheus output has
/// (dropped by a mapping) or without a Prometheus counterpart (`max`) is left out with the
/// reason, and the rest still passes promtool.
#[test]
fn exported_rules_follow_the_mappings_and_leave_out_what_prometheus_cannot_express() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(
        &path,
        "[sources.statsd]\nudp = [\"127.0.0.1:0\"]\n[sinks.out]\ntype = \"console\"\n\
         [[mappings]]\nmatch = \"app.*.requests\"\nname = \"app_requests\"\nlabels = { server = \"$1\" }\n\
         [[mappings]]\nmatch = \"debug.*\"\naction = \"drop\"\n\
         [rules.busy]\nmetric = \"app.web-1.requests\"\nvalue = \"rate\"\ncondition = \">\"\nthreshold = 100.0\n\
         [rules.debug]\nmetric = \"debug.x\"\nvalue = \"sum\"\ncondition = \">\"\nthreshold = 1.0\n\
         [rules.slowest]\nmetric = \"api.latency\"\nvalue = \"max\"\ncondition = \">\"\nthreshold = 1000.0\n",
    )
    .unwrap();
    let out = sluice().args(["rules", "export", "--config"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    let rules = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(rules.contains(r#"expr: "rate(app_requests_total{server=\"web-1\"}[1m]) > 100""#), "{rules}");
    assert!(err.contains("[rules.debug] left out: a [[mappings]] rule drops \"debug.x\""), "{err}");
    assert!(err.contains("[rules.slowest] left out: value = \"max\" has no Prometheus counterpart"), "{err}");
    assert!(!rules.contains("alert: \"debug\"") && !rules.contains("alert: \"slowest\""), "{rules}");
    check_rules(&rules).unwrap();
}
