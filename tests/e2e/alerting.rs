//! Alerts against a real Alertmanager 0.25: the shipped `config/alertmanager.yml` checked by
//! `amtool`; the harness the alerting tests rely on (alerts posted to Alertmanager's API v2
//! reach the test's webhook, firing, resolved and after a restart); and the agent's rules
//! delivered through it: `for`, resolve, cooldown, absent, a ratio, an Alertmanager outage, a
//! restart of sluice while firing, and a failing HTTP probe.

use crate::common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use common::{Agent, Setup};

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

// The agent's rules delivered to the real Alertmanager above, through the binary with UDP
// traffic. One-second windows; `resend_every = "1s"` so leases and retries show quickly.

/// `[alerting]` for `alertmanager`, resending every second.
fn alerting(alertmanager: &Alertmanager) -> String {
    alerting_every(alertmanager, "1s")
}

/// `[alerting]` for `alertmanager`, resending every `resend`.
fn alerting_every(alertmanager: &Alertmanager, resend: &str) -> String {
    format!(
        "[alerting]\nalertmanagers = [\"{}\"]\nresend_every = \"{resend}\"\nexternal_labels = {{ cluster = \"e2e\" }}\n\
         retry = {{ initial_backoff = \"200ms\", max_backoff = \"1s\" }}\n",
        alertmanager.url()
    )
}

/// An agent with one-second windows, `extra` its rules and probes, state in `data_dir`.
fn agent(extra: &str, data_dir: &std::path::Path) -> Agent {
    Setup { flush_interval: "1s", data_dir: Some(data_dir), capture_log: true, ..Setup::default() }.start(extra)
}

/// Sends `batch` (datagrams) every 100 ms for `seconds`, with 200 unrelated counters each
/// time so the rules evaluate busy windows.
fn send_for(agent: &Agent, batch: &[&str], seconds: f64) {
    let noise: Vec<String> = (0..200).map(|i| format!("noise.c{i}:1|c|#shard:{}", i % 7)).collect();
    let noise: Vec<&str> = noise.iter().map(String::as_str).collect();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        agent.send_udp(batch);
        agent.send_udp(&noise);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A rate over its threshold for longer than `for` fires exactly one notification, with the
/// rule's labels, the series' tags, the external labels and the annotation filled in; a
/// breach shorter than `for` fires none; when the traffic stops a resolved notification
/// follows.
#[test]
fn a_rate_over_its_threshold_for_longer_than_for_fires_once_and_resolves_when_traffic_stops() {
    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(
        &format!(
            "{}[rules.hot]\nmetric = \"http.errors\"\nvalue = \"rate\"\ncondition = \">\"\nthreshold = 20.0\nfor = \"3s\"\n\
             severity = \"error\"\nlabels = {{ team = \"platform\" }}\n\
             annotations = {{ summary = \"{{{{ labels.service }}}} errors over {{{{ threshold }}}}/s\" }}\n",
            alerting(&alertmanager)
        ),
        dir.path(),
    );
    // 50 errors a second: web for 1.5 s (shorter than `for`), api for 8 s.
    send_for(&agent, &["http.errors:5|c|#service:api", "http.errors:5|c|#service:web"], 1.5);
    send_for(&agent, &["http.errors:5|c|#service:api"], 6.5);
    let got = webhook.wait_for(Duration::from_secs(15), |n| count(n, Status::Firing, "hot") >= 1);
    let firing: Vec<_> = got.iter().flat_map(|n| &n.alerts).filter(|a| a.status == Status::Firing).collect();
    assert_eq!(firing.len(), 1, "{got:#?}");
    let alert = firing[0];
    let expected: Labels =
        [("alertname", "hot"), ("cluster", "e2e"), ("service", "api"), ("severity", "error"), ("team", "platform")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    assert_eq!(alert.labels, expected);
    assert_eq!(alert.annotations["summary"], "api errors over 20/s");
    // Traffic stopped: the idle counter's rate is 0, the alert resolves.
    let got = webhook.wait_for(Duration::from_secs(15), |n| count(n, Status::Resolved, "hot") >= 1);
    assert_eq!(count(&got, Status::Firing, "hot"), 1, "still one firing notification: {got:#?}");
    assert!(got.iter().flat_map(|n| &n.alerts).all(|a| a.labels["service"] == "api"), "web never fired: {got:#?}");
    let (_, body) = agent.get("/alerts");
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(alerts["alertmanagers"][0]["sent"].as_u64().unwrap() >= 2, "{alerts}");
    let changes: Vec<&str> =
        alerts["history"].as_array().unwrap().iter().map(|h| h["change"].as_str().unwrap()).collect();
    assert!(changes.contains(&"cancelled"), "web went pending and back: {changes:?}");
}

/// After a resolve, a breach inside `cooldown` (12 s) notifies nothing; one after it fires
/// again.
#[test]
fn a_breach_inside_the_cooldown_notifies_nothing_and_one_after_it_fires() {
    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(
        &format!(
            "{}[rules.spike]\nmetric = \"queue.depth\"\nvalue = \"value\"\ncondition = \">\"\nthreshold = 10.0\ncooldown = \"12s\"\n",
            alerting(&alertmanager)
        ),
        dir.path(),
    );
    send_for(&agent, &["queue.depth:20|g"], 2.5);
    webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Firing, "spike") == 1);
    send_for(&agent, &["queue.depth:0|g"], 1.0);
    webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Resolved, "spike") == 1);
    let resolved = Instant::now();
    // Within the cooldown: pending at most, never firing.
    send_for(&agent, &["queue.depth:20|g"], 2.0);
    send_for(&agent, &["queue.depth:0|g"], 1.0);
    std::thread::sleep((resolved + Duration::from_secs(12)).saturating_duration_since(Instant::now()));
    assert_eq!(count(&webhook.notifications(), Status::Firing, "spike"), 1, "no firing inside the cooldown");
    send_for(&agent, &["queue.depth:20|g"], 2.5);
    let got = webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Firing, "spike") == 2);
    assert_eq!(count(&got, Status::Firing, "spike"), 2);
}

/// `absent` fires when a heartbeat stops; a ratio rule fires on the exact ratio of two
/// counters paired by their tags, and not for the service whose ratio is below it.
#[test]
fn absent_fires_when_a_series_stops_and_a_ratio_rule_fires_on_the_ratio() {
    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(
        &format!(
            "{}[rules.heartbeat_missing]\nmetric = \"import.heartbeat\"\nwhere = {{ job = \"nightly\" }}\ncondition = \"absent\"\nfor = \"2s\"\n\
             [rules.error_ratio]\nmetric = \"http.errors\"\nvalue = \"sum\"\ndivide_by = {{ metric = \"http.requests\" }}\n\
             condition = \">\"\nthreshold = 0.1\nannotations = {{ summary = \"ratio {{{{ value }}}}\" }}\n",
            alerting(&alertmanager)
        ),
        dir.path(),
    );
    // One datagram each: a window holds whole datagrams, so the ratios are exact.
    let traffic = [
        "import.heartbeat:1|c|#job:nightly",
        "http.errors:1|c|#service:api,code:500\nhttp.requests:4|c|#service:api",
        "http.errors:1|c|#service:web,code:500\nhttp.requests:20|c|#service:web",
    ];
    send_for(&agent, &traffic, 4.0);
    let got = webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Firing, "error_ratio") >= 1);
    let ratio: Vec<_> = got.iter().flat_map(|n| &n.alerts).filter(|a| a.alertname() == "error_ratio").collect();
    assert_eq!(ratio.len(), 1, "{got:#?}");
    assert_eq!((ratio[0].labels["service"].as_str(), ratio[0].labels["code"].as_str()), ("api", "500"));
    assert_eq!(ratio[0].annotations["summary"], "ratio 0.25");
    assert_eq!(count(&got, Status::Firing, "heartbeat_missing"), 0, "the heartbeat was seen: {got:#?}");
    // The heartbeat stops; the rest goes on.
    send_for(&agent, &traffic[1..], 5.0);
    let got = webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Firing, "heartbeat_missing") == 1);
    let missing = got.iter().flat_map(|n| &n.alerts).find(|a| a.alertname() == "heartbeat_missing").unwrap();
    assert_eq!(missing.labels["job"], "nightly");
}

/// An alert that fires while Alertmanager is down reaches it once it is back; the failed
/// attempts are counted.
#[test]
fn an_alert_fired_while_alertmanager_is_down_arrives_when_it_returns() {
    let webhook = Webhook::start();
    let mut alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(
        &format!(
            "{}[rules.disk_full]\nmetric = \"disk.used\"\nvalue = \"value\"\ncondition = \">=\"\nthreshold = 0.9\n",
            alerting(&alertmanager)
        ),
        dir.path(),
    );
    alertmanager.stop();
    send_for(&agent, &["disk.used:0.97|g|#mount:/var"], 3.0);
    assert!(
        agent.wait_metric(
            &format!("sluice_alertmanager_failed_requests_total{{alertmanager=\"{}\"}}", alertmanager.url()),
            1.0
        ) >= 1.0
    );
    alertmanager.restart();
    send_for(&agent, &["disk.used:0.97|g|#mount:/var"], 1.0);
    let got = webhook.wait_for(Duration::from_secs(15), |n| count(n, Status::Firing, "disk_full") == 1);
    let alert = got.iter().flat_map(|n| &n.alerts).find(|a| a.alertname() == "disk_full").unwrap();
    assert_eq!(alert.labels["mount"], "/var");
}

/// A restart of sluice while an alert fires sends no resolve and no second notification: the
/// restarted agent continues the alert, with the same start. Without its saved state the
/// restarted agent would hold the alert pending for `for` (10 s) while the lease (4 × 2 s)
/// ran out, and Alertmanager would notify a resolve.
#[test]
fn a_restart_while_firing_sends_no_false_resolve() {
    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "{}[rules.hot_cpu]\nmetric = \"cpu.temp\"\nvalue = \"value\"\ncondition = \">\"\nthreshold = 80.0\nfor = \"10s\"\n",
        alerting_every(&alertmanager, "2s")
    );
    let first = agent(&rules, dir.path());
    send_for(&first, &["cpu.temp:91|g"], 12.5);
    webhook.wait_for(Duration::from_secs(10), |n| count(n, Status::Firing, "hot_cpu") == 1);
    let held = alertmanager.alerts();
    let started = held.iter().find(|a| a.alertname() == "hot_cpu").unwrap().starts_at.clone();
    first.stop();
    let second = agent(&rules, dir.path());
    send_for(&second, &["cpu.temp:91|g"], 12.0);
    let got = webhook.notifications();
    assert_eq!(count(&got, Status::Resolved, "hot_cpu"), 0, "{got:#?}");
    assert_eq!(count(&got, Status::Firing, "hot_cpu"), 1, "{got:#?}");
    let held = alertmanager.alerts();
    let alert = held.iter().find(|a| a.alertname() == "hot_cpu").unwrap();
    assert_eq!((alert.status.state.as_str(), &alert.starts_at), ("active", &started));
    let (_, body) = second.get("/alerts");
    assert!(body.contains("\"state\":\"firing\""), "{body}");
}

/// An HTTP probe whose server starts failing fires the rule on `probe.success` and turns
/// `GET /checks` to 503.
#[test]
fn a_failing_http_probe_fires_its_rule_and_turns_checks_to_503() {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
    let code = Arc::new(AtomicU16::new(200));
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", server.local_addr().unwrap());
    let answer = Arc::clone(&code);
    std::thread::spawn(move || {
        for mut stream in server.incoming().flatten() {
            let mut buf = [0; 2048];
            let _ = stream.read(&mut buf);
            let _ = write!(stream, "HTTP/1.0 {} X\r\nContent-Length: 2\r\n\r\nok", answer.load(Relaxed));
        }
    });
    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&webhook);
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(
        &format!(
            "{}[sources.probe.api]\ntype = \"http\"\nurl = \"{url}\"\ninterval = \"1s\"\ncritical = true\n\
             [rules.api_down]\nmetric = \"probe.success\"\nwhere = {{ probe = \"api\" }}\nvalue = \"value\"\n\
             condition = \"==\"\nthreshold = 0.0\nfor = \"1s\"\nseverity = \"critical\"\n\
             annotations = {{ summary = \"{{{{ labels.probe }}}} health check failing\" }}\n",
            alerting(&alertmanager)
        ),
        dir.path(),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(agent.get("/checks").0, 200);
    assert_eq!(count(&webhook.notifications(), Status::Firing, "api_down"), 0);
    code.store(500, Relaxed);
    let got = webhook.wait_for(Duration::from_secs(15), |n| count(n, Status::Firing, "api_down") == 1);
    let alert = got.iter().flat_map(|n| &n.alerts).find(|a| a.alertname() == "api_down").unwrap();
    assert_eq!(alert.labels["probe"], "api");
    assert_eq!(alert.labels["severity"], "critical");
    assert_eq!(alert.annotations["summary"], "api health check failing");
    assert_eq!(agent.get("/checks").0, 503);
    code.store(200, Relaxed);
    webhook.wait_for(Duration::from_secs(15), |n| count(n, Status::Resolved, "api_down") == 1);
}
