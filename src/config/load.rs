//! Reading a config file into a validated [`Config`].

use std::path::Path;

use super::schema::Config;

/// The embedded default: StatsD on UDP 127.0.0.1:8125, a console sink, the API on
/// 127.0.0.1:9102, a window every 10 seconds.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a valid configuration.
    #[error("{origin}: {message}")]
    Invalid {
        /// File name or `<embedded default>`.
        origin: String,
        /// What is wrong, naming the key and line.
        message: String,
    },
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates `text`; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Invalid { origin: origin.to_owned(), message: e.to_string() })
}
