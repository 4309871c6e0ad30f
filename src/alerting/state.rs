//! The rules' alerts saved in `data_dir` (`alerts.json`), so a restart keeps pending alerts
//! pending and firing ones firing: no false resolve, no second page for one incident.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::eval::Saved;

/// The file's format version; another version is ignored (logged), never misread.
const VERSION: u32 = 1;

/// The file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts.json")
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    rules: BTreeMap<String, Saved>,
}

/// Why the saved alerts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not what this version writes.
    #[error("{path} is not a saved alert state of this version: {reason}")]
    Format {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The saved alerts, none when there is no file.
pub fn load(path: &Path) -> Result<BTreeMap<String, Saved>, StateError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(StateError::Read { path: path.display().to_string(), source }),
    };
    let file: File = serde_json::from_slice(&text)
        .map_err(|e| StateError::Format { path: path.display().to_string(), reason: e.to_string() })?;
    if file.version != VERSION {
        return Err(StateError::Format {
            path: path.display().to_string(),
            reason: format!("version {}", file.version),
        });
    }
    Ok(file.rules)
}

/// Writes `rules` to `path` through a temporary file renamed into place, so a crash leaves
/// the old state or the new, never half of one.
pub fn save(path: &Path, rules: BTreeMap<String, Saved>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_vec(&File { version: VERSION, rules }).map_err(io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
