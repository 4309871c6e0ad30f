//! The console backend's task side: writes each encoded window to standard output.

use tokio::io::{AsyncWriteExt, Stdout};

use super::encode::encode;
use crate::backend::{Backend, Encoded, SendError};
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
    type Batch = String;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<String>>, SendError> {
        // One text block per window, written with one call so windows never interleave.
        Ok(vec![Encoded { payload: encode(window), series: window.series.len() as u64 }])
    }

    async fn send(&mut self, text: &String) -> Result<(), SendError> {
        // stdout may block when it is a full pipe; only this task waits.
        self.out.write_all(text.as_bytes()).await?;
        self.out.flush().await?;
        Ok(())
    }
}
