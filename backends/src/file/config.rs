//! `[sinks.NAME]` with `type = "file"`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::prometheus::{DEFAULT_EXPIRE_AFTER, check_buckets, default_buckets, default_expire_after};
use crate::registry::BuildError;
use crate::units::{ByteSize, Duration};

/// Appends every window to `path` in `format`, rotating and expiring the file as configured
/// (see `docs/translation.md`, "file").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file to append to; created if missing. Required.
    pub path: PathBuf,
    /// What each window becomes: `"json"` (one JSON object per line), `"csv"` (a header row,
    /// then one row per value) or `"prometheus"` (the text exposition format of the whole
    /// state after the window). Defaults to `"json"`.
    #[serde(default)]
    pub format: Format,
    /// Start a new file before a window would make the current one larger than this; a
    /// window larger than this goes whole into a file of its own. Defaults to none (never by
    /// size).
    #[serde(default)]
    pub rotate_size: Option<ByteSize>,
    /// Start a new file before the first window written this long after the current file was
    /// started. Defaults to none (never by age).
    #[serde(default)]
    pub rotate_every: Option<Duration>,
    /// Keep at most this many archives of `path`, deleting the oldest. Defaults to none (keep
    /// every archive).
    #[serde(default)]
    pub keep_files: Option<usize>,
    /// Delete archives of `path` rotated longer ago than this. Defaults to none (keep every
    /// archive).
    #[serde(default)]
    pub keep_for: Option<Duration>,
    /// With `format = "prometheus"`: upper bounds of the histogram buckets for timers (in
    /// seconds), histograms and distributions; finite and strictly increasing. Defaults to
    /// `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// With `format = "prometheus"`: counters, histograms and sets not updated for this long
    /// leave the exposition. Defaults to `"5m"`.
    #[serde(default = "default_expire_after")]
    pub expire_after: Duration,
    /// How windows wait while the file cannot be written. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed writes are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// The `format` of a file sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per window and line, the window's serde form.
    #[default]
    Json,
    /// RFC 4180 CSV: a header row, then one row per value of each series.
    Csv,
    /// The Prometheus text exposition format, one exposition per window.
    Prometheus,
}

impl FileConfig {
    /// A configuration appending JSON lines to `path`, every other key at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: Format::default(),
            rotate_size: None,
            rotate_every: None,
            keep_files: None,
            keep_for: None,
            buckets: default_buckets(),
            expire_after: DEFAULT_EXPIRE_AFTER,
            buffer: BufferConfig::default(),
            retry: RetryConfig::default(),
        }
    }

    /// Checks the keys; on failure names the key to fix.
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.path.as_os_str().is_empty() {
            return Err(BuildError::at("path", "must not be empty"));
        }
        if self.path.file_name().is_none() {
            return Err(BuildError::at("path", format!("{} must name a file", self.path.display())));
        }
        if self.rotate_size.is_some_and(|s| s.0 == 0) {
            return Err(BuildError::at("rotate_size", "must be larger than zero"));
        }
        if self.rotate_every.is_some_and(|d| d.0.is_zero()) {
            return Err(BuildError::at("rotate_every", "must be longer than zero"));
        }
        if self.keep_for.is_some_and(|d| d.0.is_zero()) {
            return Err(BuildError::at("keep_for", "must be longer than zero"));
        }
        let rotates = self.rotate_size.is_some() || self.rotate_every.is_some();
        if !rotates && (self.keep_files.is_some() || self.keep_for.is_some()) {
            let key = if self.keep_files.is_some() { "keep_files" } else { "keep_for" };
            return Err(BuildError::at(
                key,
                "needs rotate_size or rotate_every: without rotation there are no archives",
            ));
        }
        check_buckets(&self.buckets)?;
        if self.expire_after.0.is_zero() {
            return Err(BuildError::at("expire_after", "must be longer than zero"));
        }
        Ok(())
    }
}
