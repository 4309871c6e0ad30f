//! The `[sinks.NAME.buffer]` table shared by every backend.

use serde::Deserialize;

/// Default for [`BufferConfig::max_windows`].
pub const DEFAULT_MAX_WINDOWS: usize = 360;

/// Where undelivered windows wait for a backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferType {
    /// In memory: lost if the agent stops. The default.
    Memory,
}

/// How a backend buffers windows it has not delivered yet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Where windows wait. Defaults to `"memory"`.
    #[serde(rename = "type", default = "default_type")]
    pub kind: BufferType,
    /// Windows held at most; when full the oldest is dropped and counted. Defaults to 360
    /// (an hour of 10-second windows).
    #[serde(default = "default_max_windows")]
    pub max_windows: usize,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self { kind: default_type(), max_windows: DEFAULT_MAX_WINDOWS }
    }
}

fn default_type() -> BufferType {
    BufferType::Memory
}

fn default_max_windows() -> usize {
    DEFAULT_MAX_WINDOWS
}
