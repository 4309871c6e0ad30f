//! [`ConfigError`]: why a configuration was refused, worded to be printed as-is.

use std::fmt;

/// Why a configuration was refused.
///
/// Every variant but [`ConfigError::Read`] starts with a [`Location`] (`file:line:column`) and
/// names the offending key, so its `Display` is a complete message for the operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error("{at}: TOML syntax error: {message}")]
    Syntax {
        /// Where the parser stopped.
        at: Location,
        /// What the TOML parser expected.
        message: String,
    },
    /// A key that the schema does not have (most often a typo).
    #[error("{at}: unknown key {key:?} {table}{}", hint(.suggestion.as_deref(), .valid, "keys"))]
    UnknownKey {
        /// Where the key is written.
        at: Location,
        /// The key as written.
        key: String,
        /// The table holding it.
        table: Table,
        /// The closest valid key, when one is close enough to be a likely typo.
        suggestion: Option<String>,
        /// Every valid key of that table.
        valid: Box<[String]>,
    },
    /// A required key is absent.
    #[error("{at}: missing required key {key:?} {table}")]
    MissingKey {
        /// Where the table that lacks it begins.
        at: Location,
        /// The missing key.
        key: String,
        /// The table that lacks it.
        table: Table,
    },
    /// A sink whose `type` is not one sluice knows (or that has no `type`).
    #[error("{at}: unknown sink type {found:?} {table}; {}", type_hint(.suggestion.as_deref(), .valid))]
    UnknownSinkType {
        /// Where the `type` value is written.
        at: Location,
        /// The `type` as written.
        found: String,
        /// The sink's table.
        table: Table,
        /// The closest valid type, when one is close enough to be a likely typo.
        suggestion: Option<String>,
        /// Every valid sink type.
        valid: Box<[String]>,
    },
    /// `${NAME}` names a variable that is not set (or is not UTF-8).
    #[error(
        "{at}: environment variable {variable:?} {reason} (used by key {key:?} {table}); set it, or write \"$${{\" for a literal \"${{\""
    )]
    Variable {
        /// Where the reference is written.
        at: Location,
        /// The variable's name as written.
        variable: String,
        /// Why it could not be used: "is not set", "is not valid UTF-8", "is malformed".
        reason: &'static str,
        /// The key whose value holds the reference.
        key: String,
        /// The table holding that key.
        table: Table,
    },
    /// A value of the wrong type, or one a rule refuses; the message names the key.
    #[error("{at}: {message}")]
    Invalid {
        /// Where the value is written (or only the file, for a rule about the whole file).
        at: Location,
        /// The dotted path of the key, e.g. `sources.statsd.percentiles`; empty for a rule about
        /// the whole file.
        key: String,
        /// What is wrong and what to write instead, naming the key.
        message: String,
    },
}

/// Where in which file: `sluice.toml:7:1`, or only `sluice.toml` when no line applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name, or `<embedded default>`.
    pub origin: String,
    /// 1-based line and column (in characters), when the problem has a place in the text.
    pub position: Option<(u32, u32)>,
}

impl Location {
    /// The line, 1-based, if the problem has one.
    pub fn line(&self) -> Option<u32> {
        self.position.map(|(line, _)| line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}", self.origin),
            None => f.write_str(&self.origin),
        }
    }
}

/// A table by its path, displayed as `in [sinks.out.buffer]` or `at the top level`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table(pub Box<[String]>);

impl Table {
    /// The table at `path` (the keys from the root).
    pub fn new(path: &[String]) -> Self {
        Self(path.into())
    }

    /// The dotted path of `key` in this table, quoting parts that are not bare TOML keys.
    pub fn key_path(&self, key: &str) -> String {
        let mut parts: Vec<String> = self.0.iter().map(|k| bare_or_quoted(k)).collect();
        parts.push(bare_or_quoted(key));
        parts.join(".")
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("at the top level");
        }
        let parts: Vec<String> = self.0.iter().map(|k| bare_or_quoted(k)).collect();
        write!(f, "in [{}]", parts.join("."))
    }
}

/// `key` as TOML writes it: bare when it can be, else quoted.
fn bare_or_quoted(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// `; did you mean "x"?`, else `; valid keys: "a", "b"` (when `valid` is given), else nothing.
fn hint(suggestion: Option<&str>, valid: &[String], noun: &str) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s:?}?"),
        None if valid.is_empty() => String::new(),
        None => format!("; valid {noun}: {}", quoted(valid)),
    }
}

/// `did you mean "x"? Valid types: "x", "y"`, or `valid types: "x", "y"`.
fn type_hint(suggestion: Option<&str>, valid: &[String]) -> String {
    match suggestion {
        Some(s) => format!("did you mean {s:?}? Valid types: {}", quoted(valid)),
        None => format!("valid types: {}", quoted(valid)),
    }
}

/// `"a", "b", "c"`.
pub(super) fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}
