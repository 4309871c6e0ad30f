//! The file backend's task side.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use super::config::FileConfig;
use crate::backend::{Backend, SendError};
use crate::model::Window;

/// Appends windows as JSON lines; the file is opened for each window so an operator can
/// rotate it by renaming.
#[derive(Debug)]
pub struct File {
    path: PathBuf,
}

impl File {
    /// A file backend writing to `config.path`.
    pub fn new(config: &FileConfig) -> Self {
        Self { path: config.path.clone() }
    }
}

impl Backend for File {
    async fn send(&mut self, window: &Window) -> Result<u64, SendError> {
        // Encode: the window's serde form on one line.
        let mut line = serde_json::to_vec(window).map_err(|e| SendError::Rejected(e.to_string()))?;
        line.push(b'\n');
        // Send: one append per window, so a reader never sees half a window after a flush.
        let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&self.path).await?;
        file.write_all(&line).await?;
        file.flush().await?;
        Ok(window.series.len() as u64)
    }
}
