//! A real Alertmanager 0.25 for tests, and the webhook it notifies.
//!
//! [`Webhook`] is an in-process receiver on a free loopback port that records every
//! notification Alertmanager posts, parsed strictly (payload version 4). [`Alertmanager`] runs
//! `prometheus-alertmanager` on a free loopback port with its storage in a temp dir, routing
//! every alert, each in a group of its own, to that webhook; it can be stopped and started
//! again on the same port and storage to simulate an outage, and is stopped by its PID on drop.
//!
//! What Alertmanager keeps across a restart is its notification log and silences, not its
//! alerts: an alert notified before the restart and sent again after it is held again but not
//! notified again within `repeat_interval`; a new alert is.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

use super::prometheus::{free_addr, terminate};

/// The binary the Debian package `prometheus-alertmanager` installs.
const BINARY: &str = "prometheus-alertmanager";
/// How long Alertmanager may take to answer `GET /-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The path the webhook receives notifications on.
const WEBHOOK_PATH: &str = "/alertmanager";
/// The receiver's name in the generated config.
pub const RECEIVER: &str = "webhook";

/// A label or annotation set.
pub type Labels = BTreeMap<String, String>;

/// Whether an alert (or a whole notification) is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

/// One webhook notification: a group's alerts, as Alertmanager posts them (payload
/// version 4). Unknown fields are refused, so a payload that changes shape fails the test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    /// When the webhook received it (not on the wire).
    #[serde(skip, default = "Instant::now")]
    pub received_at: Instant,
    /// Always `"4"`.
    pub version: String,
    /// The group, e.g. `{}:{alertname="A"}`.
    pub group_key: String,
    /// How many alerts `max_alerts` left out.
    pub truncated_alerts: u64,
    /// `firing` while any alert of the group fires.
    pub status: Status,
    /// The receiver's name.
    pub receiver: String,
    /// The labels the group is keyed on (with `group_by: ['...']`, all of them).
    pub group_labels: Labels,
    /// The labels every alert of the notification shares.
    pub common_labels: Labels,
    /// The annotations every alert of the notification shares.
    pub common_annotations: Labels,
    /// Alertmanager's `--web.external-url` (by default `http://<hostname>:<port>`).
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<NotifiedAlert>,
}

/// One alert of a [`Notification`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifiedAlert {
    pub status: Status,
    pub labels: Labels,
    pub annotations: Labels,
    /// RFC 3339, as Alertmanager holds it (nanoseconds when it set the time itself).
    pub starts_at: String,
    /// RFC 3339; [`NO_END`] while firing, the end the sender gave (or Alertmanager's
    /// resolve time) once resolved.
    pub ends_at: String,
    /// Empty when the sender gave none.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// A hash of the labels, the alert's identity.
    pub fingerprint: String,
}

/// The `endsAt` of a firing alert in a webhook payload (Go's zero time).
pub const NO_END: &str = "0001-01-01T00:00:00Z";

/// Unix milliseconds of an RFC 3339 UTC time as Alertmanager writes it (`…:52.44Z`,
/// `…:01.297694043Z`): Go drops the fraction's trailing zeros, so times compare as numbers,
/// not as text. Panics on another form.
pub fn unix_millis(time: &str) -> u64 {
    let whole = backends::cloudwatch::credentials::parse_iso8601(time)
        .unwrap_or_else(|| panic!("{time:?} is not an RFC 3339 UTC time"));
    let secs = whole.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let fraction = time.trim_end_matches('Z').split_once('.').map_or("", |(_, f)| f);
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    secs * 1000 + millis.parse::<u64>().unwrap_or_else(|_| panic!("{time:?} has a malformed fraction"))
}

impl NotifiedAlert {
    /// The `alertname` label, or `""`.
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// How many alerts named `alertname` with `status` the `notifications` carry, counting one
/// alert again each time it is notified.
pub fn count(notifications: &[Notification], status: Status, alertname: &str) -> usize {
    notifications.iter().flat_map(|n| &n.alerts).filter(|a| a.status == status && a.alertname() == alertname).count()
}

/// What the webhook received: parsed notifications, and any body that did not parse.
#[derive(Debug, Default)]
struct Received {
    notifications: Vec<Notification>,
    malformed: Vec<String>,
}

/// The running webhook receiver; stops with the test process.
pub struct Webhook {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

impl Webhook {
    /// Starts the receiver on a free loopback port: every POST to [`Webhook::url`] is
    /// recorded and answered 200, or 400 when it is not a version 4 payload.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(WEBHOOK_PATH, post(receive)).with_state(Arc::clone(&received));
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, received, _runtime: runtime }
    }

    /// The URL to give a `webhook_configs` receiver.
    pub fn url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.addr)
    }

    /// Every notification so far, in arrival order; panics if a body did not parse.
    pub fn notifications(&self) -> Vec<Notification> {
        let received = self.received.lock().unwrap();
        assert!(received.malformed.is_empty(), "the webhook received malformed payloads: {:#?}", received.malformed);
        received.notifications.clone()
    }

    /// Waits until `done` holds for the notifications so far and returns them; panics with
    /// what arrived when `timeout` passes first.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Notification]) -> bool) -> Vec<Notification> {
        let deadline = Instant::now() + timeout;
        loop {
            let notifications = self.notifications();
            if done(&notifications) {
                return notifications;
            }
            assert!(
                Instant::now() < deadline,
                "not the notifications awaited after {timeout:?}; got {notifications:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many firing alerts named `alertname` were notified so far.
    pub fn firing(&self, alertname: &str) -> usize {
        count(&self.notifications(), Status::Firing, alertname)
    }

    /// How many resolved alerts named `alertname` were notified so far.
    pub fn resolved(&self, alertname: &str) -> usize {
        count(&self.notifications(), Status::Resolved, alertname)
    }
}

async fn receive(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> StatusCode {
    let mut received = received.lock().unwrap();
    match serde_json::from_slice::<Notification>(&body) {
        Ok(notification) => {
            received.notifications.push(notification);
            StatusCode::OK
        }
        Err(e) => {
            received.malformed.push(format!("{e}: {}", String::from_utf8_lossy(&body)));
            StatusCode::BAD_REQUEST
        }
    }
}

/// The notification timings of the route, as in Alertmanager's `route` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a new group waits before its first notification. Defaults to 1 second.
    pub group_wait: Duration,
    /// How long before a changed group is notified again. Defaults to 1 second.
    pub group_interval: Duration,
    /// How long before an unchanged group is notified again. Defaults to 1 hour, so a test
    /// sees each alert notified once.
    pub repeat_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            group_wait: Duration::from_secs(1),
            group_interval: Duration::from_secs(1),
            repeat_interval: Duration::from_hours(1),
        }
    }
}

/// An alert as `GET /api/v2/alerts` returns it: what Alertmanager holds now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeldAlert {
    pub labels: Labels,
    pub annotations: Labels,
    /// RFC 3339 with milliseconds.
    pub starts_at: String,
    /// RFC 3339 with milliseconds: the end the sender gave, else `resolve_timeout` after
    /// the last update.
    pub ends_at: String,
    pub updated_at: String,
    pub fingerprint: String,
    /// Absent when the sender gave none.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    pub receivers: Vec<HeldReceiver>,
    pub status: HeldStatus,
}

/// A receiver an alert is routed to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldReceiver {
    pub name: String,
}

/// Whether a held alert is active, silenced or inhibited.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeldStatus {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
}

impl HeldAlert {
    /// The `alertname` label, or `""`.
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// A running (or stopped) Alertmanager on `127.0.0.1:port`, notifying one webhook.
pub struct Alertmanager {
    addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// A new one for each process started, see [`Alertmanager::spawn`].
    client: reqwest::Client,
    /// Drives `client` for the blocking calls of a synchronous test.
    runtime: tokio::runtime::Runtime,
}

impl Alertmanager {
    /// Starts Alertmanager with [`Timing::default`], notifying `webhook`, and waits until it
    /// is ready.
    pub fn start(webhook: &Webhook) -> Self {
        Self::start_with(webhook, Timing::default())
    }

    /// Starts Alertmanager on a free port with `timing` on its route, notifying `webhook`
    /// of every alert (resolved ones too), each alert in a group of its own.
    pub fn start_with(webhook: &Webhook, timing: Timing) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("alertmanager.yml"), config(&webhook.url(), timing)).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = backends::delivery::http::client().unwrap();
        let mut alertmanager = Self { addr: free_addr(), child: None, dir, client, runtime };
        alertmanager.spawn();
        alertmanager
    }

    /// The base URL, `http://127.0.0.1:PORT`, to configure sluice's `[alerting]` with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether `GET /-/ready` answers 200 now (false while stopped).
    pub fn ready(&self) -> bool {
        super::http_get(self.addr, "/-/ready").is_some_and(|(status, _)| status == 200)
    }

    /// Alertmanager's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// Stops Alertmanager: SIGTERM to its PID (it then writes its notification log and
    /// silences to the storage dir), SIGKILL if it has not exited in 10 s. Its port then
    /// refuses connections.
    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// Stops Alertmanager if it runs, and starts it again on the same port and storage
    /// dir; waits until it is ready. It holds no alerts then, but remembers what it notified.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "Alertmanager is running");
        // A new client: the old one's idle connection went with the stopped process, and a
        // runtime idle between calls would not notice before sending on it.
        self.client = backends::delivery::http::client().unwrap();
        let dir = self.dir.path();
        // Appended to, so the log of a restarted Alertmanager still shows the run before.
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("alertmanager.log")).unwrap();
        let mut child = Command::new(BINARY)
            .arg(format!("--web.listen-address={}", self.addr))
            // No cluster: no gossip port, and no wait for peers before notifying.
            .arg("--cluster.listen-address=")
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {BINARY} (install the Debian package prometheus-alertmanager): {e}")
            });
        let started = Instant::now();
        loop {
            if self.ready() {
                self.child = Some(child);
                return;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{BINARY} exited with {status} before it was ready; its log:\n{}", self.log());
            }
            if started.elapsed() > READY_TIMEOUT {
                terminate(Some(child));
                panic!("{BINARY} was not ready on {} in {READY_TIMEOUT:?}; its log:\n{}", self.addr, self.log());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `POST /api/v2/alerts` with `alerts` (a JSON array of postable alerts): the status
    /// and the body of the answer. Panics when nothing answers.
    pub fn post_alerts(&self, alerts: &serde_json::Value) -> (u16, String) {
        let request = self
            .client
            .post(format!("{}/api/v2/alerts", self.url()))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(alerts).unwrap());
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("Alertmanager does not answer: {e:?}; its log:\n{}", self.log()));
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    }

    /// `GET /api/v2/alerts`: every alert Alertmanager holds now (active, silenced or
    /// inhibited; resolved ones are left out).
    pub fn alerts(&self) -> Vec<HeldAlert> {
        let (status, body) = super::http_get(self.addr, "/api/v2/alerts")
            .unwrap_or_else(|| panic!("Alertmanager does not answer; its log:\n{}", self.log()));
        assert_eq!(status, 200, "GET /api/v2/alerts: {body}; the log:\n{}", self.log());
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /api/v2/alerts: {e}: {body}"))
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The config: one route, every alert a group of its own (`group_by: ['...']`), to one
/// webhook receiver that is also told of resolved alerts.
fn config(webhook: &str, timing: Timing) -> String {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    format!(
        "route:\n  receiver: {RECEIVER}\n  group_by: ['...']\n  group_wait: {}\n  group_interval: {}\n  \
         repeat_interval: {}\nreceivers:\n  - name: {RECEIVER}\n    webhook_configs:\n      - url: '{webhook}'\n        \
         send_resolved: true\n",
        ms(timing.group_wait),
        ms(timing.group_interval),
        ms(timing.repeat_interval),
    )
}
