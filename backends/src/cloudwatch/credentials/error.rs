//! Why no keys could be had. No variant carries a secret: answers from STS and the credential
//! endpoints are quoted only in their error case, and a `credential_process`'s output never.

use std::path::PathBuf;

/// Why no keys could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Nothing in the chain has keys.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in the shared config or \
         credentials file, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, a container credentials URI, or run on \
         EC2 with an instance role"
    )]
    Missing,
    /// A profile named by `profile` or `AWS_PROFILE` is in neither file.
    #[error("profile {name:?} not found in {} (set by {set_by})", files(path, config.as_ref()))]
    NoProfile {
        /// The profile asked for.
        name: String,
        /// The shared credentials file.
        path: PathBuf,
        /// The shared config file, when there is one to read.
        config: Option<PathBuf>,
        /// `"profile"` (the sink's key) or `"AWS_PROFILE"`.
        set_by: &'static str,
    },
    /// The profile lacks a key.
    #[error("profile {name:?} in {path} has no {key}")]
    IncompleteProfile {
        /// The profile read.
        name: String,
        /// The file read.
        path: PathBuf,
        /// The missing key.
        key: &'static str,
    },
    /// A profile's keys contradict each other or point nowhere.
    #[error("profile {name:?}: {message}")]
    BadProfile {
        /// The profile read.
        name: String,
        /// What to change.
        message: String,
    },
    /// A variable is set without its partner, or to something unusable.
    #[error("{variable}: {message}")]
    BadVariable {
        /// The variable.
        variable: &'static str,
        /// What to change.
        message: String,
    },
    /// A token file could not be read.
    #[error("cannot read the {what} {}: {error}", path.display())]
    TokenFile {
        /// `"web identity token file"` or `"container authorization token file"`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// STS refused or did not answer.
    #[error("STS {action} at {endpoint}: {message}")]
    Sts {
        /// `AssumeRole` or `AssumeRoleWithWebIdentity`.
        action: &'static str,
        /// The STS URL.
        endpoint: String,
        /// What went wrong, with STS's error code.
        message: String,
    },
    /// The container credentials endpoint refused or did not answer.
    #[error("container credentials from {url}: {message}")]
    Container {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A profile's `credential_process` failed.
    #[error("credential_process of profile {profile:?}: {message}")]
    Process {
        /// The profile.
        profile: String,
        /// What went wrong (never its output, which holds the keys).
        message: String,
    },
    /// The metadata service did not answer or gave no keys.
    #[error("instance role credentials from {endpoint}: {message}")]
    Imds {
        /// The metadata service's base URL.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

fn files(credentials: &std::path::Path, config: Option<&PathBuf>) -> String {
    match config {
        Some(config) => format!("{} or {}", config.display(), credentials.display()),
        None => credentials.display().to_string(),
    }
}
