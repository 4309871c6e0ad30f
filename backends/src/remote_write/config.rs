//! `[sinks.NAME]` with `type = "prometheus_remote_write"`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, Credentials, RetryConfig};
use crate::prometheus::{check_buckets, default_buckets};
use crate::registry::BuildError;
use crate::secret::Secret;
use crate::units::Duration;

/// Default of [`RemoteWriteConfig::job`].
pub const DEFAULT_JOB: &str = "sluice";
/// Default of [`RemoteWriteConfig::max_samples_per_request`]: Prometheus' own
/// `queue_config.max_samples_per_send`.
pub const DEFAULT_MAX_SAMPLES_PER_REQUEST: usize = 2000;
/// Default of [`RemoteWriteConfig::max_age`]: one hour. Prometheus stores samples in its head
/// block, which takes nothing older than about an hour before its newest sample.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Default of [`RemoteWriteConfig::timeout`]: 30 seconds, Prometheus' `remote_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers remote write 1.0 requires, which the sink always sets itself.
pub(crate) const REQUIRED_HEADERS: [&str; 4] =
    ["content-encoding", "content-type", "user-agent", "x-prometheus-remote-write-version"];

/// Writes every window to a Prometheus remote write 1.0 receiver (Prometheus, Mimir, Thanos
/// Receive, VictoriaMetrics, Cortex); see `docs/translation.md`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's write endpoint, such as `"http://127.0.0.1:9090/api/v1/write"`. Required.
    pub url: String,
    /// The `job` label of every series. Defaults to `"sluice"`.
    #[serde(default = "default_job")]
    pub job: String,
    /// More labels on every series, `name = "value"`. `instance` defaults to the agent's
    /// hostname; set it here to override it. Defaults to none besides `instance`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra HTTP headers on every request, such as `{ "X-Scope-OrgID" = "tenant-1" }` for a
    /// Mimir or Cortex tenant. The four headers remote write requires cannot be overridden.
    /// Defaults to none.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Most samples in one request; a window with more is sent in several. Defaults to 2000.
    #[serde(default = "default_max_samples_per_request")]
    pub max_samples_per_request: usize,
    /// A window older than this when it is sent (replayed after a long outage) is dropped and
    /// counted as `too_old`; its counts still go into the running totals. Defaults to `"1h"`.
    #[serde(default = "default_max_age")]
    pub max_age: Duration,
    /// Upper bounds of the Prometheus histogram buckets for timers (in seconds), histograms and
    /// distributions; finite and strictly increasing (`+Inf` is implied). Defaults to
    /// `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// Counters, histograms and sets not updated for this long are forgotten: they get a
    /// stale marker and are no longer written. Defaults to never.
    #[serde(default)]
    pub expire_after: Option<Duration>,
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
    /// A PEM file of CA certificates to trust for an `https://` `url` besides the system's
    /// roots (a receiver behind a private CA), read at startup. Defaults to none: the
    /// system's roots only.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Time allowed for one request, connection included. Defaults to `"30s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How windows wait while the receiver is down. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed requests are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_job() -> String {
    DEFAULT_JOB.to_owned()
}

fn default_max_samples_per_request() -> usize {
    DEFAULT_MAX_SAMPLES_PER_REQUEST
}

fn default_max_age() -> Duration {
    DEFAULT_MAX_AGE
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

impl RemoteWriteConfig {
    /// A configuration with `url` and every other key at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            job: default_job(),
            labels: BTreeMap::new(),
            headers: BTreeMap::new(),
            max_samples_per_request: DEFAULT_MAX_SAMPLES_PER_REQUEST,
            max_age: DEFAULT_MAX_AGE,
            buckets: default_buckets(),
            expire_after: None,
            username: None,
            password: None,
            password_file: None,
            bearer_token: None,
            bearer_token_file: None,
            ca_file: None,
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
                return Err(BuildError::at(
                    "url",
                    format!("not a URL ({e}); write it like \"http://127.0.0.1:9090/api/v1/write\""),
                ));
            }
        }
        if self.job.is_empty() {
            return Err(BuildError::at("job", "must not be empty".to_owned()));
        }
        for (name, value) in &self.labels {
            if !crate::prometheus::is_label_name(name) || name.starts_with("__") {
                return Err(BuildError::at(
                    "labels",
                    format!("{name:?} is not a label name (letters, digits, _; no leading __)"),
                ));
            }
            match name.as_str() {
                "job" => {
                    return Err(BuildError::at(
                        "labels",
                        "\"job\" is set by the `job` key, not in `labels`".to_owned(),
                    ));
                }
                "le" => return Err(BuildError::at("labels", "\"le\" is the bucket label of histograms".to_owned())),
                "quantile" => {
                    return Err(BuildError::at("labels", "\"quantile\" is the quantile label of summaries".to_owned()));
                }
                _ if value.is_empty() => {
                    return Err(BuildError::at(
                        "labels",
                        format!("the value of {name:?} is empty (Prometheus drops empty labels)"),
                    ));
                }
                _ => {}
            }
        }
        for (name, value) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(BuildError::at("headers", format!("{name:?} is not an HTTP header name")));
            }
            if REQUIRED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(BuildError::at(
                    "headers",
                    format!("{name:?} is set by remote write itself and cannot be overridden"),
                ));
            }
            if name.eq_ignore_ascii_case("authorization") && self.has_auth() {
                return Err(BuildError::at(
                    "headers",
                    "\"Authorization\" is set by the authentication keys here".to_owned(),
                ));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(BuildError::at("headers", format!("the value of {name:?} is not a valid header value")));
            }
        }
        if self.max_samples_per_request == 0 {
            return Err(BuildError::at("max_samples_per_request", "must be at least 1".to_owned()));
        }
        if self.max_age.0.is_zero() {
            return Err(BuildError::at("max_age", "must be longer than zero".to_owned()));
        }
        check_buckets(&self.buckets)?;
        if self.expire_after.is_some_and(|d| d.0.is_zero()) {
            return Err(BuildError::at("expire_after", "must be longer than zero".to_owned()));
        }
        self.credentials().check()?;
        if self.timeout.0.is_zero() {
            return Err(BuildError::at("timeout", "must be longer than zero".to_owned()));
        }
        Ok(())
    }

    fn has_auth(&self) -> bool {
        self.credentials().any()
    }
}
