//! The console backend's task side: writes each encoded window to standard output.

use tokio::io::{AsyncWriteExt, Stdout};

use super::encode::encode;
use crate::backend::{Backend, SendError};
use crate::model::Window;

/// Writes windows to standard output. If nobody reads the pipe, only this backend waits.
#[derive(Debug)]
pub struct Console {
    out: Stdout,
}

impl Console {
    /// A console backend on the process's standard output.
    pub fn new() -> Self {
        Self { out: tokio::io::stdout() }
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for Console {
    async fn send(&mut self, window: &Window) -> Result<u64, SendError> {
        // Encode: one text block per window, written with one call so windows never interleave.
        let text = encode(window);
        // Send: stdout may block when it is a full pipe; only this task waits.
        self.out.write_all(text.as_bytes()).await?;
        self.out.flush().await?;
        Ok(window.series.len() as u64)
    }
}
