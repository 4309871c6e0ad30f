//! The textfile's delivery side: each window advances the totals and replaces the file.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::TextfileConfig;
use crate::backend::{Backend, Encoded, SendError};
use crate::delivery::Position;
use crate::model::Window;
use crate::prometheus::{Encoder, Exposition, HELP, Mappings, Settings, text_with_help};
use crate::registry::BuildError;

/// The `type`, naming the state file `textfile-<sink>.json`.
const KIND: &str = "textfile";

/// Permissions of the written file: `node_exporter` usually runs as another user.
pub(crate) const FILE_MODE: u32 = 0o644;

/// One window's file content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Textfile {
    /// The text exposition format, ending with a newline.
    pub body: Arc<str>,
}

/// Writes the whole current state to `path` after every window (see `docs/translation.md`).
#[derive(Debug)]
pub struct TextfileWriter {
    path: PathBuf,
    /// `<path>.tmp` in the same directory: written, synced, then renamed over `path`, so
    /// `node_exporter` never reads half a file. It does not end with `.prom`, so the collector
    /// never reads it either.
    temp: PathBuf,
    exposition: Exposition,
}

impl TextfileWriter {
    /// Validates `config` and loads the totals of sink `name` from `data_dir`. Whether the
    /// file's directory exists is checked at each write: it may be created after the agent
    /// starts.
    pub fn new(
        name: &str,
        config: &TextfileConfig,
        data_dir: &Path,
        mappings: Arc<Mappings>,
    ) -> Result<Self, BuildError> {
        config.validate()?;
        let exposition = Exposition::open(Settings {
            kind: KIND,
            name,
            data_dir,
            buckets: config.buckets.clone(),
            expire_after: config.expire_after.0,
            // `node_exporter` fills a label a series lacks with an empty value itself.
            consistent_labels: false,
            encoder: Encoder::new([], mappings),
        })
        .map_err(|e| BuildError::new(format!("{KIND} state: {e}")))?;
        let mut temp = config.path.clone().into_os_string();
        temp.push(".tmp");
        Ok(Self { path: config.path.clone(), temp: temp.into(), exposition })
    }

    fn render(&mut self, window: &Window) -> Vec<Encoded<Textfile>> {
        let families = self.exposition.families(window);
        let series = families.values().map(|f| f.metrics.len() as u64).sum();
        vec![Encoded { payload: Textfile { body: text_with_help(&families, HELP).into() }, series }]
    }
}

/// Writes `body` to `temp`, syncs it, renames it over `path` and syncs the directory, so that
/// `node_exporter` reads the old file or the new one, never a part, and a crash leaves one of
/// them too. On failure the temporary file is removed.
fn replace(temp: &Path, path: &Path, body: &str) -> std::io::Result<()> {
    let written = (|| {
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(temp)?;
        // `mode` applies only when the file is created, and then through the umask.
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        file.write_all(body.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    written?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl Backend for TextfileWriter {
    type Batch = Textfile;

    fn begin(&mut self) {
        // Continue from the totals the sink this one replaces saved when it stopped.
        self.exposition.reload();
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Textfile>>, SendError> {
        // Advance the totals once per window, then write the whole state: `node_exporter`
        // reads the file as it is at each scrape.
        self.exposition.advance(window, None);
        Ok(self.render(window))
    }

    fn encode_spooled(&mut self, window: &Window, position: Position) -> Result<Vec<Encoded<Textfile>>, SendError> {
        // A window replayed from a disk spool after a crash may already be in the saved totals.
        self.exposition.advance(window, Some(position));
        Ok(self.render(window))
    }

    fn take_left_out(&mut self) -> u64 {
        self.exposition.take_left_out()
    }

    async fn send(&mut self, file: &Textfile) -> Result<(), SendError> {
        // A missing or read-only directory is the operator's to fix. Retrying this content
        // is pointless: the next window's file holds all of it (the totals are cumulative),
        // so the window is given up, counted and logged, and the next one tries again.
        // The write and its syncs block: off the runtime's threads.
        let (temp, path, body) = (self.temp.clone(), self.path.clone(), Arc::clone(&file.body));
        let written = tokio::task::spawn_blocking(move || replace(&temp, &path, &body))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        written.map_err(|e| {
            SendError::Rejected(format!(
                "cannot write `path` {} (through {}): {e}; the next window tries again",
                self.path.display(),
                self.temp.display()
            ))
        })
    }

    fn delivered(&mut self, _window: &Window) {
        // The totals include this window now; keep them for the next run of the agent.
        self.exposition.save();
    }

    async fn close(&mut self) {
        self.exposition.save();
    }
}
