//! The file backend's task side: encodes each window in the configured format and hands it
//! to the rotation, off the runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::config::{FileConfig, Format};
use super::encode::{exposition, json_line};
use super::rotation::{Clock, Rotation};
use crate::backend::{Backend, Encoded, SendError};
use crate::delivery::Position;
use crate::model::Window;
use crate::prometheus::{Encoder, Exposition, Mappings, Settings};
use crate::registry::BuildError;

/// The `type`, naming the state file of the Prometheus format `file-<sink>.json`.
const KIND: &str = "file";

/// Appends windows to a file in its format; the file is opened for each window, so an
/// operator can also rotate it by renaming.
#[derive(Debug)]
pub struct File {
    path: PathBuf,
    format: Format,
    /// The cumulative state of `format = "prometheus"`.
    exposition: Option<Exposition>,
    rotation: Arc<Mutex<Rotation>>,
}

impl File {
    /// Validates `config` and builds the backend of sink `name`; with `format = "prometheus"`
    /// its totals live in `data_dir` and `mappings` name its series.
    pub fn new(name: &str, config: &FileConfig, data_dir: &Path, mappings: Arc<Mappings>) -> Result<Self, BuildError> {
        Self::with_clock(name, config, data_dir, mappings, Arc::new(std::time::SystemTime::now))
    }

    /// [`File::new`] with the clock that times rotations.
    pub(crate) fn with_clock(
        name: &str,
        config: &FileConfig,
        data_dir: &Path,
        mappings: Arc<Mappings>,
        clock: Clock,
    ) -> Result<Self, BuildError> {
        config.validate()?;
        let exposition = match config.format {
            Format::Prometheus => Some(
                Exposition::open(Settings {
                    kind: KIND,
                    name,
                    data_dir,
                    buckets: config.buckets.clone(),
                    expire_after: config.expire_after.0,
                    // Every series is written: the text format lets one family's series carry
                    // different labels, and nothing reads the file on a schedule.
                    consistent_labels: false,
                    encoder: Encoder::new([], mappings),
                })
                .map_err(|e| BuildError::new(format!("{KIND} state: {e}")))?,
            ),
            Format::Json | Format::Csv => None,
        };
        let header = if config.format == Format::Csv { super::csv::header() } else { Vec::new() };
        let rotation = Rotation::new(config, header, clock);
        Ok(Self {
            path: config.path.clone(),
            format: config.format,
            exposition,
            rotation: Arc::new(Mutex::new(rotation)),
        })
    }

    /// Archives deleted by retention since the sink started.
    pub fn removed_archives(&self) -> u64 {
        self.rotation.lock().unwrap_or_else(std::sync::PoisonError::into_inner).removed()
    }

    fn encode_at(&mut self, window: &Window, position: Option<Position>) -> Result<Vec<Encoded<Arc<[u8]>>>, SendError> {
        let rejected = |e: String| {
            SendError::Rejected(format!("cannot encode window {} for {}: {e}", window.id, self.path.display()))
        };
        let (payload, series) = match (&mut self.exposition, self.format) {
            (Some(state), _) => {
                state.advance(window, position);
                let families = state.families(window);
                let series = families.values().map(|f| f.metrics.len() as u64).sum();
                (exposition(window, &families), series)
            }
            (None, Format::Csv) => {
                (super::csv::rows(window).map_err(|e| rejected(e.to_string()))?, window.series.len() as u64)
            }
            (None, _) => (json_line(window).map_err(|e| rejected(e.to_string()))?, window.series.len() as u64),
        };
        Ok(vec![Encoded { payload: payload.into(), series }])
    }
}

impl Backend for File {
    type Batch = Arc<[u8]>;

    fn begin(&mut self) {
        if let Some(state) = &mut self.exposition {
            // Continue from the totals the sink this one replaces saved when it stopped.
            state.reload();
        }
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Arc<[u8]>>>, SendError> {
        self.encode_at(window, None)
    }

    fn encode_spooled(&mut self, window: &Window, position: Position) -> Result<Vec<Encoded<Arc<[u8]>>>, SendError> {
        // A window replayed from a disk spool after a crash may already be in the saved totals.
        self.encode_at(window, Some(position))
    }

    fn take_left_out(&mut self) -> u64 {
        self.exposition.as_mut().map_or(0, Exposition::take_left_out)
    }

    async fn send(&mut self, body: &Arc<[u8]>) -> Result<(), SendError> {
        // One append per window, so a reader never sees half a window; the write, a rotation
        // and the retention's deletions block, so they run off the runtime's threads.
        let (rotation, body) = (Arc::clone(&self.rotation), Arc::clone(body));
        let written = tokio::task::spawn_blocking(move || {
            rotation.lock().unwrap_or_else(std::sync::PoisonError::into_inner).append(&body)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        written.map_err(|e| SendError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))))
    }

    fn delivered(&mut self, _window: &Window) {
        if let Some(state) = &mut self.exposition {
            // The totals include this window now; keep them for the next run of the agent.
            state.save();
        }
    }

    async fn close(&mut self) {
        if let Some(state) = &mut self.exposition {
            state.save();
        }
    }
}
