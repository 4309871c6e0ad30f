//! The environment variables the chain reads, passed in so tests need not touch the
//! process's.

use std::collections::HashMap;
use std::fmt;

/// The variables the chain reads, so tests can pass their own instead of the process's.
/// `Debug` lists the names set, never a value.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<&'static str, String>,
}

impl Env {
    /// Every variable the chain reads.
    pub const NAMES: [&'static str; 18] = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_DISABLED",
        "HOME",
    ];

    /// The process environment.
    pub fn process() -> Self {
        Self::from_pairs(Self::NAMES.iter().filter_map(|&n| std::env::var(n).ok().map(|v| (n, v))))
    }

    /// Exactly the given variables (names not in [`Env::NAMES`] are ignored).
    pub fn from_pairs<V: Into<String>>(pairs: impl IntoIterator<Item = (&'static str, V)>) -> Self {
        let vars = pairs.into_iter().filter(|(n, _)| Self::NAMES.contains(n)).map(|(n, v)| (n, v.into())).collect();
        Self { vars }
    }

    /// The variable's value; unset and empty are the same.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("Env").field("set", &names).finish()
    }
}
