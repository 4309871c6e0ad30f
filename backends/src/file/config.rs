//! `[sinks.NAME]` with `type = "file"`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::registry::BuildError;

/// Appends every window to `path` as one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file to append to; created if missing. Required.
    pub path: PathBuf,
    /// How windows wait while the file cannot be written. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed writes are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl FileConfig {
    /// Checks the keys; on failure names the key to fix.
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.path.as_os_str().is_empty() {
            return Err(BuildError::at("path", "must not be empty"));
        }
        Ok(())
    }
}
