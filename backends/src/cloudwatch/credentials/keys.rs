//! One set of keys, as every provider hands it over.

use std::time::SystemTime;

use crate::secret::Secret;

/// A set of keys. `Debug` shows the access key ID (not a secret) but never the secret key or
/// the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AccessKeyId`.
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: Secret,
    /// The session token of temporary keys.
    pub session_token: Option<Secret>,
    /// When temporary keys stop working.
    pub expires: Option<SystemTime>,
}
