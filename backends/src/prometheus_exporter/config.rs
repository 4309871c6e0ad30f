//! `[sinks.NAME]` with `type = "prometheus_exporter"`.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::prometheus::{DEFAULT_EXPIRE_AFTER, check_buckets, default_buckets, default_expire_after};
use crate::registry::BuildError;
use crate::units::Duration;

/// Serves the aggregated series for Prometheus to scrape, on a listener of its own (see
/// `docs/translation.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusExporterConfig {
    /// Address of the scrape listener, such as `"127.0.0.1:9464"`; it serves `GET /metrics`.
    /// Never the agent API's address: that `/metrics` is sluice's own telemetry. Required.
    pub listen: SocketAddr,
    /// Counters, histograms and sets not updated for this long leave the scrape. Defaults to
    /// `"5m"`.
    #[serde(default = "default_expire_after")]
    pub expire_after: Duration,
    /// Upper bounds of the Prometheus histogram buckets for timers (in seconds), histograms and
    /// distributions; finite and strictly increasing (`+Inf` is implied). Defaults to
    /// `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// How windows wait before they are rendered. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// Kept for the shape every sink shares; rendering a window does not fail. Defaults to
    /// backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl PrometheusExporterConfig {
    /// A configuration listening on `listen`, every other key at its default.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            expire_after: DEFAULT_EXPIRE_AFTER,
            buckets: default_buckets(),
            buffer: BufferConfig::default(),
            retry: RetryConfig::default(),
        }
    }

    /// Checks the values serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), BuildError> {
        check_buckets(&self.buckets)?;
        if self.expire_after.0.is_zero() {
            return Err(BuildError::at("expire_after", "must be longer than zero"));
        }
        Ok(())
    }
}
