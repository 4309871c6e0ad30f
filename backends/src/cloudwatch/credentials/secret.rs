//! A string that never shows itself in `Debug` output or a log line.
//!
//! Private to the credentials for now; a crate-wide secret type can replace it.

use std::fmt;
use std::ops::Deref;

/// A secret key, session token or bearer token. `Debug` prints `"***"`; there is no
/// `Display`, so it cannot be formatted into a message by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for a signature or a header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Lets `Option<Secret>::as_deref()` and comparisons with `&str` work; reading the value is
/// always explicit.
impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    /// `Debug`, alone or inside a struct, shows three stars and never the value.
    #[test]
    fn a_secret_debugs_as_stars() {
        let secret = Secret::from("wJalrXUtnFEMI");
        assert_eq!(format!("{secret:?}"), "\"***\"");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(\"***\")");
        assert_eq!(secret.as_str(), "wJalrXUtnFEMI");
    }
}
