//! `[sinks.NAME]` with `type = "pushgateway"`.

use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, Credentials, RetryConfig};
use crate::prometheus::{check_buckets, default_buckets};
use crate::registry::BuildError;
use crate::units::Duration;

/// Default of [`PushgatewayConfig::job`].
pub const DEFAULT_JOB: &str = "sluice";
/// Default of [`PushgatewayConfig::timeout`]: 10 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pushes every window to a Prometheus Pushgateway as one group (see `docs/translation.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushgatewayConfig {
    /// Base URL of the Pushgateway, such as `"http://127.0.0.1:9091"`. Required.
    pub url: String,
    /// The `job` label of the grouping key. Defaults to `"sluice"`.
    #[serde(default = "default_job")]
    pub job: String,
    /// More labels of the grouping key, `name = "value"`. `instance` defaults to the agent's
    /// hostname; set it here to override it. Defaults to none besides `instance`.
    #[serde(default)]
    pub grouping: BTreeMap<String, String>,
    /// Body format: `"protobuf"` (delimited `io.prometheus.client.MetricFamily`) or `"text"`
    /// (the text exposition format). Defaults to `"protobuf"`.
    #[serde(default)]
    pub format: Format,
    /// Upper bounds of the Prometheus histogram buckets for timers (in seconds), histograms and
    /// distributions; finite and strictly increasing (`+Inf` is implied). Defaults to
    /// `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// Counters, histograms and sets not updated for this long are forgotten and leave the
    /// group. Defaults to never: a series stays in the group, at its last total, for good.
    #[serde(default)]
    pub expire_after: Option<Duration>,
    /// Deletes the whole group from the Pushgateway when the agent stops (decommissioning a
    /// host). Defaults to `false`: the last push stays for Prometheus to scrape.
    #[serde(default)]
    pub delete_on_shutdown: bool,
    /// User for HTTP basic authentication; needs `password` or `password_file`. Defaults to
    /// none.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for HTTP basic authentication. Defaults to none.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the basic-authentication password (trailing newline ignored), read at
    /// startup. Defaults to none.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Token sent as `Authorization: Bearer`; not together with `username`. Defaults to none.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// A file holding the bearer token (trailing newline ignored), read at startup. Defaults
    /// to none.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Time allowed for one request, connection included. Defaults to `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How windows wait while the Pushgateway is down. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed pushes are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// The body format of a push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Length-delimited protobuf `io.prometheus.client.MetricFamily` messages.
    #[default]
    Protobuf,
    /// The Prometheus text exposition format 0.0.4, ending with a newline.
    Text,
}

fn default_job() -> String {
    DEFAULT_JOB.to_owned()
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

impl PushgatewayConfig {
    /// A configuration with `url` and every other key at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            job: default_job(),
            grouping: BTreeMap::new(),
            format: Format::default(),
            buckets: default_buckets(),
            expire_after: None,
            delete_on_shutdown: false,
            username: None,
            password: None,
            password_file: None,
            bearer_token: None,
            bearer_token_file: None,
            timeout: DEFAULT_TIMEOUT,
            buffer: BufferConfig::default(),
            retry: RetryConfig::default(),
        }
    }

    /// Checks the values serde cannot: returns the offending key and what to write instead.
    /// Its authentication keys.
    pub(crate) fn credentials(&self) -> Credentials<'_> {
        Credentials {
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            password_file: self.password_file.as_deref(),
            bearer_token: self.bearer_token.as_ref(),
            bearer_token_file: self.bearer_token_file.as_deref(),
        }
    }

    /// Secret files are read later, when the backend is built.
    pub fn validate(&self) -> Result<(), BuildError> {
        match reqwest::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            Ok(_) => return Err(BuildError::at("url", "must be an http:// or https:// URL with a host".to_owned())),
            Err(e) => {
                return Err(BuildError::at("url", format!("not a URL ({e}); write it like \"http://127.0.0.1:9091\"")));
            }
        }
        if self.job.is_empty() {
            return Err(BuildError::at("job", "must not be empty".to_owned()));
        }
        for name in self.grouping.keys() {
            if !crate::prometheus::is_label_name(name) || name.starts_with("__") {
                return Err(BuildError::at(
                    "grouping",
                    format!("{name:?} is not a label name (letters, digits, _; no leading __)"),
                ));
            }
            if name == "job" {
                return Err(BuildError::at(
                    "grouping",
                    "\"job\" is set by the `job` key, not in `grouping`".to_owned(),
                ));
            }
        }
        check_buckets(&self.buckets)?;
        self.credentials().check()?;
        if self.timeout.0.is_zero() {
            return Err(BuildError::at("timeout", "must be longer than zero".to_owned()));
        }
        Ok(())
    }
}
