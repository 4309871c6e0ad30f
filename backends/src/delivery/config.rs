//! The `[sinks.NAME.buffer]` and `[sinks.NAME.retry]` tables shared by every backend.

use serde::Deserialize;

use crate::units::{ByteSize, Duration};

/// Default for [`BufferConfig::max_windows`]: an hour of 10-second windows.
pub const DEFAULT_MAX_WINDOWS: usize = 360;
/// Default for [`BufferConfig::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Where undelivered windows wait.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferType {
    /// In memory: lost if the agent stops. The default.
    Memory,
}

/// How a backend buffers windows it has not delivered yet. When either bound is reached the
/// oldest window is dropped and its series counted in
/// `sluice_backend_dropped_series_total{reason="buffer_full"}`; the newest is always kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Where windows wait. Defaults to `"memory"`.
    #[serde(rename = "type", default = "default_type")]
    pub kind: BufferType,
    /// Windows held at most. Defaults to 360 (an hour of 10-second windows).
    #[serde(default = "default_max_windows")]
    pub max_windows: usize,
    /// Bytes held at most, as estimated from each window's series. Defaults to `"64MiB"`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: ByteSize,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self { kind: default_type(), max_windows: DEFAULT_MAX_WINDOWS, max_bytes: default_max_bytes() }
    }
}

fn default_type() -> BufferType {
    BufferType::Memory
}

fn default_max_windows() -> usize {
    DEFAULT_MAX_WINDOWS
}

fn default_max_bytes() -> ByteSize {
    ByteSize(DEFAULT_MAX_BYTES)
}

/// How a backend retries a batch that failed with a retriable error (connection errors,
/// timeouts, 408, 429, 5xx): capped exponential backoff with full jitter, or the server's
/// `Retry-After` when it sends one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Cap of the first wait; each retry doubles it. Defaults to `"1s"`.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: Duration,
    /// Largest cap of a wait. Defaults to `"60s"`.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Duration,
    /// How long one window is retried before it is dropped and counted
    /// (`reason="retry_exhausted"`). Defaults to no limit: a window is retried until it is
    /// delivered or the buffer drops it to make room.
    #[serde(default)]
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { initial_backoff: default_initial_backoff(), max_backoff: default_max_backoff(), max_elapsed: None }
    }
}

fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}
