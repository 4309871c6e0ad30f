//! The `[sinks.NAME.buffer]` and `[sinks.NAME.retry]` tables shared by every backend.

use serde::{Deserialize, Deserializer, de};

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
    /// In segment files under `[agent] data_dir` (`spool/NAME/`): every window is written
    /// there before it is sent and removed once the backend acknowledged it, so a restart or
    /// crash replays what was not delivered, in order. Falls back to memory (reported in
    /// `/status`) when the directory cannot be written.
    Disk,
}

/// When a disk buffer forces what it wrote to the disk (`fsync`). A crash of the agent alone
/// (even `SIGKILL`) never loses a written record: the kernel holds it. The policy decides what
/// a crash of the machine (power loss, kernel panic) may lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every window appended and every acknowledgement: nothing acknowledged to the
    /// spool is lost with the machine. The default.
    EveryWindow,
    /// Never explicitly: the kernel writes back in its own time (typically within 30 s).
    Never,
    /// At most once per this interval (and at shutdown): a machine crash loses at most the
    /// last interval of windows, or replays that long of acknowledged ones.
    Interval(std::time::Duration),
}

impl<'de> Deserialize<'de> for Fsync {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "every_window" => Ok(Self::EveryWindow),
            "never" => Ok(Self::Never),
            other => humantime::parse_duration(other).map(Self::Interval).map_err(|_| {
                de::Error::custom(format!(
                    "invalid fsync policy {other:?}; valid values: \"every_window\", \"never\" or an interval like \"1s\""
                ))
            }),
        }
    }
}

/// What a full buffer does with a new window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Drop the oldest windows to make room: the newest data is kept. The default.
    DropOldest,
    /// Drop the new window: the oldest data is kept.
    DropNewest,
}

/// How a backend buffers windows it has not delivered yet. When a bound is reached the
/// oldest window is dropped (or the newest, see `when_full`) and its series counted in
/// `sluice_backend_dropped_series_total{reason="buffer_full"}`, logged at most once per
/// [`DROP_LOG_INTERVAL`](crate::delivery::DROP_LOG_INTERVAL).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Where windows wait. Defaults to `"memory"`.
    #[serde(rename = "type", default = "default_type")]
    pub kind: BufferType,
    /// Windows held in memory at most (the memory buffer, or a disk buffer fallen back to
    /// memory); a disk buffer is bounded by `max_bytes` only. Defaults to 360 (an hour of
    /// 10-second windows).
    #[serde(default = "default_max_windows")]
    pub max_windows: usize,
    /// Bytes held at most: estimated from each window's series in memory, the records' size on
    /// disk. Defaults to `"64MiB"`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: ByteSize,
    /// Disk buffer only: when written records are forced to the disk, `"every_window"`,
    /// `"never"` or an interval such as `"1s"`. Defaults to `"every_window"`.
    #[serde(default = "default_fsync")]
    pub fsync: Fsync,
    /// What a full buffer drops: `"drop_oldest"` or `"drop_newest"`. Defaults to
    /// `"drop_oldest"`.
    #[serde(default = "default_when_full")]
    pub when_full: WhenFull,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            kind: default_type(),
            max_windows: DEFAULT_MAX_WINDOWS,
            max_bytes: default_max_bytes(),
            fsync: default_fsync(),
            when_full: default_when_full(),
        }
    }
}

fn default_type() -> BufferType {
    BufferType::Memory
}

fn default_fsync() -> Fsync {
    Fsync::EveryWindow
}

fn default_when_full() -> WhenFull {
    WhenFull::DropOldest
}

fn default_max_windows() -> usize {
    DEFAULT_MAX_WINDOWS
}

fn default_max_bytes() -> ByteSize {
    ByteSize(DEFAULT_MAX_BYTES)
}

/// How a backend retries a batch that failed with a retriable error (connection errors,
/// timeouts, 408, 429, 5xx): capped exponential backoff with full jitter, or the server's
/// `Retry-After` when it sends one, up to `max_retry_after`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Cap of the first wait; each retry doubles it. Defaults to `"1s"`.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: Duration,
    /// Largest cap of a wait. Defaults to `"60s"`.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Duration,
    /// Longest wait a server's `Retry-After` (or Datadog's rate-limit reset) is obeyed for;
    /// a longer one waits this long, so a `Retry-After: 86400` cannot stall the sink for a
    /// day. Defaults to `"5m"`.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after: Duration,
    /// How long one window is retried before it is dropped and counted
    /// (`reason="retry_exhausted"`), waits included: no wait runs past it, and the window is
    /// given up after the attempt made when it ends. Defaults to no limit: a window is
    /// retried until it is delivered or the buffer drops it to make room.
    #[serde(default)]
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            max_retry_after: default_max_retry_after(),
            max_elapsed: None,
        }
    }
}

fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}

fn default_max_retry_after() -> Duration {
    Duration::from_secs(300)
}
