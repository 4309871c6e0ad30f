//! The file backend's task side.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use super::config::FileConfig;
use super::encode::json_line;
use crate::backend::{Backend, Encoded, SendError};
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
    type Batch = Vec<u8>;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Vec<u8>>>, SendError> {
        let line = json_line(window).map_err(|e| SendError::Rejected(e.to_string()))?;
        Ok(vec![Encoded { payload: line, series: window.series.len() as u64 }])
    }

    async fn send(&mut self, line: &Vec<u8>) -> Result<(), SendError> {
        // One append per window, so a reader never sees half a window after a flush.
        let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&self.path).await?;
        file.write_all(line).await?;
        file.flush().await?;
        Ok(())
    }
}
