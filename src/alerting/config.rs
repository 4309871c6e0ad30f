//! `[rules.NAME]` and `[alerting]`: what the operator writes. Compiled into [`super::Rule`]s
//! and checked by [`super::Rule::compile`], which names the key to fix.

use std::collections::BTreeMap;
use std::path::PathBuf;

use backends::Secret;
use backends::delivery::{Credentials, RetryConfig};
use backends::prometheus::mapping::MetricType;
use backends::units::Duration;
use serde::Deserialize;

/// `[rules.NAME]`: one alert rule over the agent's windows (`docs/alerting.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The series' name as received (`http.errors`). Required.
    pub metric: String,
    /// Tags a series must carry, `key = "value"`. Defaults to none (every series of `metric`).
    #[serde(default, rename = "where")]
    pub matchers: BTreeMap<String, String>,
    /// Which number of the window is compared: `sum` or `rate` (counters; `rate` is also
    /// samples per second of a timer or histogram), `value` (gauges), `count` (sets, timers,
    /// histograms), `mean`, `min`, `max` or a percentile `p50` … `p99.9` (timers,
    /// histograms). Required, except with `condition = "absent"`.
    #[serde(default)]
    pub value: Option<String>,
    /// The series' StatsD type (`counter`, `gauge`, `set`, `timer`, `histogram`,
    /// `distribution`), used only by `sluice rules export` to name its Prometheus family.
    /// Defaults to what `value` implies: `counter` for `sum` and `rate`, `gauge` for `value`,
    /// `timer` for the others.
    #[serde(default)]
    pub metric_type: Option<MetricType>,
    /// A second series the value is divided by (an error ratio). Defaults to none.
    #[serde(default)]
    pub divide_by: Option<DivideBy>,
    /// `>`, `>=`, `<`, `<=`, `==`, `!=` (against `threshold`), `increase` or `decrease` (by
    /// more than `threshold` as a fraction of the previous window's value) or `absent` (no
    /// series at all). Required.
    pub condition: String,
    /// What the value is compared with. Required, except with `condition = "absent"`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// How long the condition must hold before the alert fires; meanwhile it is pending.
    /// Defaults to `"0s"`: it fires at the first window that breaches.
    #[serde(default = "zero", rename = "for")]
    pub for_: Duration,
    /// How long a firing alert keeps firing after its condition stops holding. Defaults to
    /// `"0s"`.
    #[serde(default = "zero")]
    pub keep_firing_for: Duration,
    /// After an alert resolves, how long the same alert cannot fire again (it may be pending).
    /// Defaults to `"0s"`.
    #[serde(default = "zero")]
    pub cooldown: Duration,
    /// The `severity` label Alertmanager routes on. Defaults to `"warning"`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Labels added to every alert of the rule; they win over a series tag of the same name.
    /// Defaults to none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations, with `{{ value }}`, `{{ threshold }}`, `{{ rule }}` and
    /// `{{ labels.NAME }}` replaced. Defaults to none.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// `divide_by = { metric = "...", value = "...", where = { ... } }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivideBy {
    /// The denominator series' name. Required.
    pub metric: String,
    /// Its number, as the rule's `value`. Defaults to the rule's `value`.
    #[serde(default)]
    pub value: Option<String>,
    /// Its StatsD type, as the rule's `metric_type`. Defaults to the rule's.
    #[serde(default)]
    pub metric_type: Option<MetricType>,
    /// Tags it must carry. Defaults to none.
    #[serde(default, rename = "where")]
    pub matchers: BTreeMap<String, String>,
}

/// `[alerting]`: where alerts go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Base URLs of every Alertmanager (`http://host:9093`), each sent every alert (API v2,
    /// `POST /api/v2/alerts`); list each instance, never a balancer in front of a cluster.
    /// Defaults to none: rules are evaluated and shown at `GET /alerts` only.
    #[serde(default)]
    pub alertmanagers: Vec<String>,
    /// How often a firing alert is sent again (its `endsAt` lease is four times this or the
    /// flush interval, whichever is longer), and a resolved one during the 15 minutes after
    /// it resolved. Defaults to `"1m"`.
    #[serde(default = "default_resend_every")]
    pub resend_every: Duration,
    /// Labels added to every alert unless it has a label of the same name. Defaults to none.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Most alerts waiting for one Alertmanager while it cannot be reached (the newest state
    /// of each alert is kept, the oldest alerts beyond it are dropped and counted). Defaults
    /// to 10 000.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Time allowed for one request. Defaults to `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// User for HTTP basic authentication. Defaults to none.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for HTTP basic authentication. Defaults to none.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the password, read at start and at every reload. Defaults to none.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Token sent as `Authorization: Bearer`. Defaults to none.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// A file holding the bearer token, read at start and at every reload. Defaults to none.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Waits between attempts of a failed request (5xx, timeout, refused connection).
    /// Defaults to backoff from 1s up to 60s.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl AlertingConfig {
    /// Its authentication keys, checked and read by the shared HTTP authentication.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            password_file: self.password_file.as_deref(),
            bearer_token: self.bearer_token.as_ref(),
            bearer_token_file: self.bearer_token_file.as_deref(),
        }
    }
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            alertmanagers: Vec::new(),
            resend_every: default_resend_every(),
            external_labels: BTreeMap::new(),
            queue_capacity: default_queue_capacity(),
            timeout: default_timeout(),
            username: None,
            password: None,
            password_file: None,
            bearer_token: None,
            bearer_token_file: None,
            retry: RetryConfig::default(),
        }
    }
}

fn zero() -> Duration {
    Duration::from_secs(0)
}
fn default_severity() -> String {
    "warning".to_owned()
}
fn default_resend_every() -> Duration {
    Duration::from_secs(60)
}
fn default_queue_capacity() -> usize {
    10_000
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
