//! The file sink's writes: one append per window, rotation between windows, and the
//! retention of archives.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::archive::Names;
use super::config::FileConfig;

/// What tells the time of a rotation; the system clock outside tests.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The current file and its archives.
pub(crate) struct Rotation {
    path: PathBuf,
    names: Names,
    /// The first bytes of every new file (the CSV header), or empty.
    header: Vec<u8>,
    rotate_size: Option<u64>,
    rotate_every: Option<std::time::Duration>,
    keep_files: Option<usize>,
    keep_for: Option<std::time::Duration>,
    /// When the current file was started; `None` until the first write looks.
    started: Option<SystemTime>,
    clock: Clock,
    /// Archives deleted by retention since the sink started.
    removed: u64,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation").field("path", &self.path).field("removed", &self.removed).finish_non_exhaustive()
    }
}

impl Rotation {
    /// The writes to `config.path`, every new file starting with `header`.
    pub(crate) fn new(config: &FileConfig, header: Vec<u8>, clock: Clock) -> Self {
        Self {
            path: config.path.clone(),
            names: Names::of(&config.path),
            header,
            rotate_size: config.rotate_size.map(|s| s.0),
            rotate_every: config.rotate_every.map(|d| d.0),
            keep_files: config.keep_files,
            keep_for: config.keep_for.map(|d| d.0),
            started: None,
            clock,
            removed: 0,
        }
    }

    /// Archives deleted by `keep_files` and `keep_for` so far.
    pub(crate) fn removed(&self) -> u64 {
        self.removed
    }

    /// Appends `body` (one window) with one write, rotating first when the current file is
    /// full or old enough. The file is opened for each window, so a file renamed or deleted
    /// by someone else is started anew. A failed write is cut back off the file, so a reader
    /// never meets the part that was written.
    pub(crate) fn append(&mut self, body: &[u8]) -> std::io::Result<()> {
        let now = (self.clock)();
        let len = match std::fs::metadata(&self.path) {
            Ok(meta) => {
                // A file sluice did not start (left by an earlier run): its age counts from
                // its creation, or from now where the filesystem does not keep it.
                let started = *self.started.get_or_insert_with(|| meta.created().unwrap_or(now));
                if meta.len() > self.header.len() as u64 && self.full(meta.len(), body.len(), started, now) {
                    self.rotate(now)?;
                    0
                } else {
                    meta.len()
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.started = Some(now);
                0
            }
            Err(e) => return Err(e),
        };
        if self.keep_for.is_some() {
            self.expire(now);
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        // Another writer may have appended since the look above; cut back to what is there.
        let before = file.metadata().map_or(len, |m| m.len());
        let written = if before == 0 && !self.header.is_empty() {
            let mut whole = Vec::with_capacity(self.header.len() + body.len());
            whole.extend_from_slice(&self.header);
            whole.extend_from_slice(body);
            file.write_all(&whole)
        } else {
            file.write_all(body)
        };
        if let Err(e) = written {
            // Disk full halfway: leave the file as it was, whole lines only.
            let _ = file.set_len(before);
            return Err(e);
        }
        Ok(())
    }

    /// Whether the current file (`len` bytes, started at `started`) must be archived before
    /// a window of `add` bytes.
    fn full(&self, len: u64, add: usize, started: SystemTime, now: SystemTime) -> bool {
        let by_size = self.rotate_size.is_some_and(|limit| len + add as u64 > limit);
        let by_age = self.rotate_every.is_some_and(|every| now.duration_since(started).is_ok_and(|age| age >= every));
        by_size || by_age
    }

    /// Renames the current file to its archive and applies `keep_files`.
    fn rotate(&mut self, now: SystemTime) -> std::io::Result<()> {
        let archive = self.names.next(now);
        std::fs::rename(&self.path, &archive).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot rotate {} to {}: {e}", self.path.display(), archive.display()),
            )
        })?;
        self.started = Some(now);
        tracing::info!(path = %self.path.display(), archive = %archive.display(), "Rotated the export file.");
        if let Some(keep) = self.keep_files {
            self.remove_oldest(keep);
        }
        Ok(())
    }

    /// Deletes all but the newest `keep` archives.
    fn remove_oldest(&mut self, keep: usize) {
        let Some(archives) = self.archives() else { return };
        let surplus = archives.len().saturating_sub(keep);
        for archive in &archives[..surplus] {
            self.remove(&self.names.path(&archive.name), "keep_files");
        }
    }

    /// Deletes the archives rotated longer than `keep_for` ago.
    fn expire(&mut self, now: SystemTime) {
        let (Some(keep_for), Some(archives)) = (self.keep_for, self.archives()) else { return };
        for archive in archives {
            if now.duration_since(archive.rotated).is_ok_and(|age| age > keep_for) {
                self.remove(&self.names.path(&archive.name), "keep_for");
            }
        }
    }

    fn archives(&self) -> Option<Vec<super::archive::Archive>> {
        self.names
            .list()
            .inspect_err(|e| tracing::warn!(path = %self.path.display(), "Cannot list the export's archives: {e}"))
            .ok()
    }

    fn remove(&mut self, archive: &Path, key: &str) {
        match std::fs::remove_file(archive) {
            Ok(()) => {
                self.removed += 1;
                tracing::info!(archive = %archive.display(), by = key, removed = self.removed, "Deleted an export archive.");
            }
            Err(e) => tracing::warn!(archive = %archive.display(), by = key, "Cannot delete an export archive: {e}"),
        }
    }
}
