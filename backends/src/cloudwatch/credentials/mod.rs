//! Where the signing keys come from: the AWS SDKs' default chain, picked once at startup
//! (see [`Provider::resolve`] for the order), with temporary keys cached and fetched again
//! five minutes before they expire.
//!
//! STS and the endpoints honour the SDKs' variables (`AWS_ENDPOINT_URL_STS`,
//! `AWS_ENDPOINT_URL`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, the container URIs), so emulators
//! can stand in. Secrets are [`Secret`]s: no `Debug` output or log line shows one.

mod cache;
mod chain;
mod container;
mod env;
mod error;
mod http;
mod imds;
mod keys;
mod process;
mod profile;
mod sigv4;
mod sts;
#[cfg(test)]
mod tests;
mod time;
mod web_identity;

pub use crate::secret::Secret;
pub use cache::REFRESH_BEFORE_EXPIRY;
pub use chain::{Provider, Source};
pub use env::Env;
pub use error::CredentialsError;
pub use imds::DEFAULT_IMDS_ENDPOINT;
pub use keys::Credentials;
pub use profile::profile_keys;
pub(crate) use sigv4::post_headers;
pub use time::parse_iso8601;
