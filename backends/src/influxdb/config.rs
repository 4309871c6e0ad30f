//! `[sinks.NAME]` with `type = "influxdb"`.

use crate::registry::BuildError;
use crate::secret::Secret;
use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::units::Duration;

/// Sends every window to InfluxDB as line protocol.
///
/// Which API is used follows from the keys: `database` (with optional `retention_policy`,
/// `username` and `password`) selects InfluxDB 1.x's `POST /write`; `org`, `bucket` and
/// `token` select InfluxDB 2.x's `POST /api/v2/write`. Mixing the two sets, or setting
/// neither, is a configuration error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxDbConfig {
    /// Base URL of the server, such as `"http://127.0.0.1:8086"`; a path is kept as a prefix
    /// (for a server behind a proxy). Required.
    pub url: String,
    /// InfluxDB 1.x: the database to write to. Required for 1.x.
    #[serde(default)]
    pub database: Option<String>,
    /// InfluxDB 1.x: the retention policy to write to. Defaults to the database's default
    /// policy.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// InfluxDB 1.x: user for HTTP basic authentication. Defaults to none (no authentication);
    /// requires `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// InfluxDB 1.x: password of `username`. Defaults to none; use `"${ENV}"` to keep it out
    /// of the file.
    #[serde(default)]
    pub password: Option<Secret>,
    /// InfluxDB 2.x: the organization (name or ID). Required for 2.x.
    #[serde(default)]
    pub org: Option<String>,
    /// InfluxDB 2.x: the bucket to write to. Required for 2.x.
    #[serde(default)]
    pub bucket: Option<String>,
    /// InfluxDB 2.x: an API token allowed to write to `bucket`, sent as
    /// `Authorization: Token …`. Required for 2.x; use `"${ENV}"` to keep it out of the file.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Unit of the timestamps written: `"s"`, `"ms"`, `"us"` or `"ns"`. Defaults to `"ms"`.
    #[serde(default)]
    pub precision: Precision,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`). Defaults to `true`.
    #[serde(default = "default_gzip")]
    pub gzip: bool,
    /// Longest wait for one request, from connecting to the answer. Defaults to `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How windows wait while InfluxDB is unreachable. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed writes are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// The unit of the timestamps written, sent as the `precision` query parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Seconds: the window end is rounded down to a whole second.
    S,
    /// Milliseconds. The default.
    #[default]
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl Precision {
    /// The window end (Unix milliseconds) in this unit.
    pub fn timestamp(self, unix_ms: u64) -> i64 {
        let ms = i64::try_from(unix_ms).unwrap_or(i64::MAX);
        match self {
            Self::S => ms / 1000,
            Self::Ms => ms,
            Self::Us => ms.saturating_mul(1_000),
            Self::Ns => ms.saturating_mul(1_000_000),
        }
    }

    /// The `precision` query parameter: InfluxDB 1.x spells microseconds `u`, 2.x `us`.
    pub fn query_value(self, api: &Api<'_>) -> &'static str {
        match (self, api) {
            (Self::S, _) => "s",
            (Self::Ms, _) => "ms",
            (Self::Us, Api::V1 { .. }) => "u",
            (Self::Us, Api::V2 { .. }) => "us",
            (Self::Ns, _) => "ns",
        }
    }
}

/// Which write API the keys select, with the values it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api<'a> {
    /// InfluxDB 1.x: `POST /write?db=&rp=&precision=`, optional basic authentication.
    V1 {
        /// `database`.
        database: &'a str,
        /// `retention_policy`.
        retention_policy: Option<&'a str>,
        /// `username` and `password`.
        credentials: Option<(&'a str, &'a Secret)>,
    },
    /// InfluxDB 2.x: `POST /api/v2/write?org=&bucket=&precision=`, `Authorization: Token`.
    V2 {
        /// `org`.
        org: &'a str,
        /// `bucket`.
        bucket: &'a str,
        /// `token`.
        token: &'a Secret,
    },
}

impl InfluxDbConfig {
    /// Checks the keys and tells which API they select. Called by the config validation, so
    /// `sluice validate` reports a mixed or incomplete set with its key and line.
    pub fn api(&self) -> Result<Api<'_>, BuildError> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| BuildError::at("url", format!("{:?} is not a URL ({e})", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(BuildError::at(
                "url",
                format!("{:?} must be an http:// or https:// URL with a host", self.url),
            ));
        }
        for (key, value) in [
            ("database", &self.database),
            ("retention_policy", &self.retention_policy),
            ("username", &self.username),
            ("org", &self.org),
            ("bucket", &self.bucket),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(BuildError::at(key, format!("{key:?} must not be empty; remove the key instead")));
            }
        }
        if self.token.as_ref().is_some_and(Secret::is_blank) {
            return Err(BuildError::at("token", "\"token\" must not be empty; remove the key instead"));
        }
        let v1_key =
            [("database", &self.database), ("retention_policy", &self.retention_policy), ("username", &self.username)]
                .into_iter()
                .find_map(|(k, v)| v.is_some().then_some(k))
                .or(self.password.is_some().then_some("password"));
        let v2_key = [("org", &self.org), ("bucket", &self.bucket)]
            .into_iter()
            .find_map(|(k, v)| v.is_some().then_some(k))
            .or(self.token.is_some().then_some("token"));
        match (v1_key, v2_key) {
            (Some(one), Some(two)) => Err(BuildError::at(
                two,
                format!(
                    "{two:?} (InfluxDB 2.x) cannot be combined with {one:?} (InfluxDB 1.x); keep either database \
                     [retention_policy, username, password] or org, bucket and token"
                ),
            )),
            (None, None) => Err(BuildError::new(
                "missing the target: set \"database\" (InfluxDB 1.x) or \"org\", \"bucket\" and \"token\" (InfluxDB 2.x)",
            )),
            (Some(_), None) => self.v1(),
            (None, Some(_)) => self.v2(),
        }
    }

    fn v1(&self) -> Result<Api<'_>, BuildError> {
        let database = self.database.as_deref().ok_or_else(|| {
            BuildError::new("missing required key \"database\" (InfluxDB 1.x), which the other keys need")
        })?;
        let credentials = match (&self.username, &self.password) {
            (Some(user), Some(password)) => Some((user.as_str(), password)),
            (None, None) => None,
            (Some(_), None) => return Err(BuildError::at("username", "\"username\" needs \"password\" too")),
            (None, Some(_)) => return Err(BuildError::at("password", "\"password\" needs \"username\" too")),
        };
        Ok(Api::V1 { database, retention_policy: self.retention_policy.as_deref(), credentials })
    }

    fn v2(&self) -> Result<Api<'_>, BuildError> {
        if let (Some(org), Some(bucket), Some(token)) = (&self.org, &self.bucket, &self.token) {
            return Ok(Api::V2 { org, bucket, token });
        }
        let key = [("org", &self.org), ("bucket", &self.bucket)]
            .into_iter()
            .find_map(|(k, v)| v.is_none().then_some(k))
            .or(self.token.is_none().then_some("token"))
            .unwrap_or("org");
        Err(BuildError::new(format!(
            "missing required key {key:?}: InfluxDB 2.x needs \"org\", \"bucket\" and \"token\""
        )))
    }
}

fn default_gzip() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
