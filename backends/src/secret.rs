//! [`Secret`]: a configured credential that no `Debug`, log line or `/status` can print.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// An API key, token or password. Deserialized from a plain string and compared like one,
/// but its `Debug` prints `Secret("***")` and it has no `Display`, so a config, a backend or an
/// error that holds one can be logged whole. The value is read only through
/// [`Secret::expose`], at the place it goes on the wire.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads a secret kept in a file (`*_file` keys): the whole file without its trailing
    /// line break, as Docker and Kubernetes secrets are written.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(Self(text.trim_end_matches(['\n', '\r']).to_owned()))
    }

    /// The value itself, for the request that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Debug` never shows the value, also inside the structs that derive it.
    #[test]
    fn debug_output_never_shows_the_value() {
        #[derive(Debug, Deserialize)]
        struct Config {
            api_key: Secret,
        }
        let config: Config = toml::from_str("api_key = \"hunter2\"").unwrap();
        assert_eq!(config.api_key.expose(), "hunter2");
        for printed in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!printed.contains("hunter2") && printed.contains("***"), "{printed}");
        }
    }

    /// A secret file loses its trailing line break, and nothing else.
    #[test]
    fn a_secret_file_loses_only_its_trailing_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, " k ey\r\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), " k ey");
    }
}
