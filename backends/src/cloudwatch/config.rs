//! `[sinks.NAME]` with `type = "cloudwatch"`.

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::registry::BuildError;
use crate::units::Duration;

/// Sends every window to Amazon CloudWatch with `PutMetricData`, signed with Signature
/// Version 4.
///
/// Credentials come from the AWS SDKs' default chain (see
/// [`Provider::resolve`](super::credentials::Provider::resolve)): the environment, then profile `profile`
/// of the shared config and credentials files, then web identity, then the container
/// endpoint, then the EC2 instance role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchConfig {
    /// The AWS region, such as `"us-east-1"`; it names the endpoint and signs the requests.
    /// Required.
    pub region: String,
    /// The CloudWatch namespace every metric is put in, such as `"Sluice"`; 1 to 255
    /// characters, not starting with `AWS/`. Required.
    pub namespace: String,
    /// Base URL to send to instead of `https://monitoring.{region}.amazonaws.com`, for a VPC
    /// endpoint or a local emulator (`http://` works). Defaults to the regional endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The profile to read from the shared config and credentials files; when set it must
    /// exist and hold credentials, and its `region` (if any) is the region of its STS
    /// requests. Defaults to `AWS_PROFILE`, else `"default"`.
    #[serde(default)]
    pub profile: Option<String>,
    /// `StorageResolution` of every metric: `60` (standard) or `1` (high resolution, billed
    /// higher). Defaults to `60`.
    #[serde(default = "default_storage_resolution")]
    pub storage_resolution: u32,
    /// Add the agent's hostname as the dimension `host` (a series tag `host:…` wins).
    /// Defaults to `true`.
    #[serde(default = "default_true")]
    pub host_dimension: bool,
    /// Add the agent's `[agent] tags` as dimensions. Defaults to `true`.
    #[serde(default = "default_true")]
    pub agent_tags: bool,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`). Defaults to `true`.
    #[serde(default = "default_true")]
    pub gzip: bool,
    /// Longest wait for one request, from connecting to the answer. Defaults to `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How windows wait while CloudWatch is unreachable. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed requests are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl CloudWatchConfig {
    /// Checks the keys; on error returns the key and what to change. Called by the config
    /// validation, so `sluice validate` reports it with its line.
    pub fn check(&self) -> Result<(), BuildError> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 64
            && self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(BuildError::at(
                "region",
                format!("{:?} is not an AWS region name such as \"us-east-1\"", self.region),
            ));
        }
        if self.namespace.is_empty() || self.namespace.chars().count() > 255 {
            return Err(BuildError::at("namespace", "must be 1 to 255 characters long".to_owned()));
        }
        if self.namespace.starts_with("AWS/") {
            return Err(BuildError::at(
                "namespace",
                "must not start with \"AWS/\": that prefix is reserved for AWS services".to_owned(),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let url = reqwest::Url::parse(endpoint)
                .map_err(|e| BuildError::at("endpoint", format!("{endpoint:?} is not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(BuildError::at(
                    "endpoint",
                    format!("{endpoint:?} must be an http:// or https:// URL with a host"),
                ));
            }
        }
        if self.profile.as_deref().is_some_and(str::is_empty) {
            return Err(BuildError::at(
                "profile",
                "must not be empty; remove the key for the default profile".to_owned(),
            ));
        }
        if !matches!(self.storage_resolution, 1 | 60) {
            return Err(BuildError::at(
                "storage_resolution",
                format!("{} is not allowed: use 60 (standard) or 1 (high resolution)", self.storage_resolution),
            ));
        }
        Ok(())
    }

    /// The URL requests go to: `endpoint`, else the regional endpoint.
    pub fn url(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("https://monitoring.{}.amazonaws.com/", self.region))
    }
}

fn default_storage_resolution() -> u32 {
    60
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
