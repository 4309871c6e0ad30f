//! `[sinks.NAME]` with `type = "textfile"`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::prometheus::{DEFAULT_EXPIRE_AFTER, check_buckets, default_buckets, default_expire_after};
use crate::registry::BuildError;
use crate::units::Duration;

/// Writes each window's Prometheus text to a file for `node_exporter`'s textfile collector (see
/// `docs/translation.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextfileConfig {
    /// The file to write, in the directory `node_exporter` reads with
    /// `--collector.textfile.directory`; its name must end with `.prom`. Required.
    pub path: PathBuf,
    /// Counters, histograms and sets not updated for this long leave the file. Defaults to
    /// `"5m"`.
    #[serde(default = "default_expire_after")]
    pub expire_after: Duration,
    /// Upper bounds of the Prometheus histogram buckets for timers (in seconds), histograms and
    /// distributions; finite and strictly increasing (`+Inf` is implied). Defaults to
    /// `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// How windows wait while the file cannot be written. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How a failed write is retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl TextfileConfig {
    /// A configuration writing `path`, every other key at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            expire_after: DEFAULT_EXPIRE_AFTER,
            buckets: default_buckets(),
            buffer: BufferConfig::default(),
            retry: RetryConfig::default(),
        }
    }

    /// Checks the values serde cannot; the error names the key. Whether the directory exists
    /// is checked at each write (it may be created after the agent starts).
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.path.extension().is_none_or(|e| e != "prom") {
            return Err(BuildError::at(
                "path",
                format!("{} must end with .prom: node_exporter reads only *.prom files", self.path.display()),
            ));
        }
        if self.path.parent().is_none_or(|p| p.as_os_str().is_empty()) || !self.path.is_absolute() {
            return Err(BuildError::at("path", format!("{} must be an absolute file path", self.path.display())));
        }
        check_buckets(&self.buckets)?;
        if self.expire_after.0.is_zero() {
            return Err(BuildError::at("expire_after", "must be longer than zero"));
        }
        Ok(())
    }
}
