//! Alerts against a real Alertmanager 0.25: the shipped `config/alertmanager.yml` checked by
//! `amtool`, and the harness the alerting tests rely on (alerts posted to Alertmanager's API v2
//! reach the test's webhook, firing, resolved and after a restart).

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use common::alertmanager::{
    Alertmanager, Labels, NO_END, Notification, NotifiedAlert, RECEIVER, Status, Timing, Webhook, count, unix_millis,
};

/// The shipped example.
const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/alertmanager.yml");
/// Every receiver the shipped example declares.
const RECEIVERS: [&str; 4] = ["webhook", "pagerduty", "slack", "email"];
/// How long a notification may take: `group_wait` (1 s) and a margin for a loaded machine.
const WAIT: Duration = Duration::from_secs(15);

/// Runs `amtool args`: whether it succeeded, its standard output and its standard error.
fn amtool(args: &[&str]) -> (bool, String, String) {
    let output = Command::new("amtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start amtool (install the Debian package prometheus-alertmanager): {e}"));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The alert named `alertname` of the last notification that carries one with `status`.
fn last(notifications: &[Notification], status: Status, alertname: &str) -> NotifiedAlert {
    notifications
        .iter()
        .flat_map(|n| &n.alerts)
        .rfind(|a| a.status == status && a.alertname() == alertname)
        .unwrap_or_else(|| panic!("no {status:?} {alertname} in {notifications:#?}"))
        .clone()
}

/// The names of the alerts Alertmanager holds, sorted.
fn held(alertmanager: &Alertmanager) -> Vec<String> {
    let mut names: Vec<String> = alertmanager.alerts().iter().map(|a| a.alertname().to_owned()).collect();
    names.sort();
    names
}

/// `amtool check-config` accepts the shipped example and finds its four receivers and its
/// inhibit rule; the routing tree sends each severity where the example's comments say.
#[test]
fn amtool_accepts_the_shipped_alertmanager_config() {
    let (ok, out, err) = amtool(&["check-config", SHIPPED]);
    assert!(ok, "amtool check-config refused it: {out}{err}");
    assert!(out.contains(&format!("{} receivers", RECEIVERS.len())), "{out}");
    assert!(out.contains("1 inhibit rules"), "{out}");

    // check-config only counts the receivers; the routing tree names them.
    let config_file = format!("--config.file={SHIPPED}");
    let (ok, tree, err) = amtool(&["config", "routes", "show", &config_file]);
    assert!(ok, "{tree}{err}");
    for name in RECEIVERS {
        assert!(tree.contains(&format!("receiver: {name}")), "no route to {name}:\n{tree}");
    }
    for (severity, receivers) in [
        (Some("critical"), "webhook,pagerduty,email"),
        (Some("error"), "webhook,slack,email"),
        (Some("warning"), "webhook,slack,email"),
        (Some("info"), "webhook,email"),
        (None, "webhook,email"),
    ] {
        let mut args = vec!["config", "routes", "test", &config_file, "alertname=api_errors"];
        let label = severity.map(|s| format!("severity={s}"));
        args.extend(label.as_deref());
        let (ok, out, err) = amtool(&args);
        assert!(ok, "{out}{err}");
        assert_eq!(out.trim(), receivers, "an alert of severity {severity:?}");
    }
}

/// Two alerts posted to Alertmanager reach the webhook as firing with their labels and
/// annotations; one posted again with an end reaches it as resolved; after Alertmanager is
/// stopped and started again, a new alert reaches it, and one notified before is held again
/// but not notified twice (its notification log survives in the storage dir).
#[test]
fn the_harness_sees_an_alert_posted_to_alertmanager_at_its_webhook() {
    let webhook = Webhook::start();
    let mut alertmanager = Alertmanager::start(&webhook);
    let disk = json!({
        "labels": {"alertname": "HarnessDiskFull", "severity": "critical", "host": "db1"},
        "annotations": {"summary": "disk / is 97% full"},
        "generatorURL": "http://127.0.0.1:9102/alerts",
    });
    let slow = json!({
        "labels": {"alertname": "HarnessSlowApi", "severity": "warning"},
        "annotations": {"summary": "p99 latency is 2.5s", "runbook": "restart the api"},
    });
    let posted = Instant::now();
    let (status, body) = alertmanager.post_alerts(&json!([disk, slow]));
    assert_eq!(status, 200, "{body}");

    let notifications = webhook.wait_for(WAIT, |n| {
        count(n, Status::Firing, "HarnessDiskFull") == 1 && count(n, Status::Firing, "HarnessSlowApi") == 1
    });
    assert_eq!(notifications.len(), 2, "each alert is a group of its own: {notifications:#?}");
    for n in &notifications {
        let alert = &n.alerts[0];
        assert_eq!((n.version.as_str(), n.receiver.as_str(), n.status), ("4", RECEIVER, Status::Firing));
        assert_eq!((n.alerts.len(), n.truncated_alerts), (1, 0));
        assert_eq!(n.group_labels, alert.labels);
        assert_eq!(n.common_labels, alert.labels);
        assert_eq!(n.common_annotations, alert.annotations);
        assert_eq!(alert.ends_at, NO_END, "a firing alert has no end in the payload");
        assert!(n.received_at >= posted);
    }
    let fired = last(&notifications, Status::Firing, "HarnessDiskFull");
    assert_eq!(fired.labels, labels(&[("alertname", "HarnessDiskFull"), ("host", "db1"), ("severity", "critical")]));
    assert_eq!(fired.annotations, labels(&[("summary", "disk / is 97% full")]));
    assert_eq!(fired.generator_url, "http://127.0.0.1:9102/alerts");
    let slow_fired = last(&notifications, Status::Firing, "HarnessSlowApi");
    assert_eq!(slow_fired.labels, labels(&[("alertname", "HarnessSlowApi"), ("severity", "warning")]));
    assert_eq!(slow_fired.annotations, labels(&[("summary", "p99 latency is 2.5s"), ("runbook", "restart the api")]));
    assert_eq!(slow_fired.generator_url, "");
    let holds = alertmanager.alerts();
    assert_eq!(holds.len(), 2, "{holds:#?}");
    for alert in &holds {
        assert_eq!(alert.status.state, "active");
        assert_eq!(alert.receivers.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), [RECEIVER]);
    }

    // The same alert with an end time: resolved, keeping its start and identity.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let ends_at = backends::units::iso8601(now);
    let mut resolved = disk.clone();
    resolved["endsAt"] = json!(ends_at);
    let (status, body) = alertmanager.post_alerts(&json!([resolved]));
    assert_eq!(status, 200, "{body}");
    let notifications = webhook.wait_for(WAIT, |n| count(n, Status::Resolved, "HarnessDiskFull") == 1);
    let ended = last(&notifications, Status::Resolved, "HarnessDiskFull");
    assert_eq!(unix_millis(&ended.ends_at), now, "the end posted, {ends_at}, as {}", ended.ends_at);
    assert_eq!(
        (&ended.starts_at, &ended.fingerprint, &ended.labels),
        (&fired.starts_at, &fired.fingerprint, &fired.labels)
    );
    assert_eq!(notifications.last().unwrap().status, Status::Resolved);
    assert_eq!(count(&notifications, Status::Firing, "HarnessSlowApi"), 1, "an unchanged group is not notified again");
    assert_eq!(held(&alertmanager), ["HarnessSlowApi"], "a resolved alert is no longer listed");

    // An outage: alerts are not kept, the notification log is.
    alertmanager.stop();
    assert!(!alertmanager.ready(), "a stopped Alertmanager does not answer");
    alertmanager.restart();
    assert_eq!(held(&alertmanager), Vec::<String>::new(), "alerts do not survive a restart");
    let after = json!({
        "labels": {"alertname": "HarnessAfterRestart", "severity": "error"},
        "annotations": {"summary": "posted after the restart"},
    });
    let (status, body) = alertmanager.post_alerts(&json!([slow, after]));
    assert_eq!(status, 200, "{body}");
    let notifications = webhook.wait_for(WAIT, |n| count(n, Status::Firing, "HarnessAfterRestart") == 1);
    let arrived = last(&notifications, Status::Firing, "HarnessAfterRestart");
    assert_eq!(arrived.labels, labels(&[("alertname", "HarnessAfterRestart"), ("severity", "error")]));
    assert_eq!(arrived.annotations, labels(&[("summary", "posted after the restart")]));
    assert_eq!(held(&alertmanager), ["HarnessAfterRestart", "HarnessSlowApi"]);
    // Both groups were due at the same flush; two more group intervals leave no doubt.
    std::thread::sleep(Timing::default().group_interval * 2);
    assert_eq!(
        webhook.firing("HarnessSlowApi"),
        1,
        "notified before the restart, so not again within repeat_interval; the log:\n{}",
        alertmanager.log()
    );
}
