//! `[sinks.NAME]` with `type = "console"`.

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};

/// Prints every window to standard output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// How windows wait while standard output is blocked. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed writes are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}
