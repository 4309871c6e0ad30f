//! The chain itself: which provider supplies the keys, picked once at startup in the AWS
//! SDKs' order.

use std::fmt;
use std::path::PathBuf;

use reqwest::Client;

use super::cache::{Cached, Fetch};
use super::container::Container;
use super::imds::Imds;
use super::profile::{Files, Resolver};
use super::web_identity::WebIdentity;
use super::{Credentials, CredentialsError, Env};

/// Which provider of the chain supplies the keys. `Display` is the startup log's wording and
/// names files, roles and URLs, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// The keys of a profile in a shared file.
    Profile {
        /// The file read.
        path: PathBuf,
        /// The profile (section) read.
        name: String,
    },
    /// A profile's `credential_process`.
    Process {
        /// The profile.
        profile: String,
    },
    /// A profile's `role_arn`, assumed with STS `AssumeRole`.
    AssumeRole {
        /// The profile.
        profile: String,
        /// The role.
        role_arn: String,
        /// What signs the `AssumeRole` request.
        via: Box<Source>,
    },
    /// STS `AssumeRoleWithWebIdentity` with a token file.
    WebIdentity {
        /// The role.
        role_arn: String,
        /// The token file.
        token_file: PathBuf,
    },
    /// An ECS or EKS Pod Identity credentials endpoint.
    Container {
        /// The endpoint, without its query.
        url: String,
    },
    /// The EC2 instance role, through `IMDSv2`.
    InstanceRole {
        /// The metadata service's base URL.
        endpoint: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("environment variables"),
            Self::Profile { path, name } => write!(f, "profile {name:?} of {}", path.display()),
            Self::Process { profile } => write!(f, "credential_process of profile {profile:?}"),
            Self::AssumeRole { profile, role_arn, via } => {
                write!(f, "role {role_arn} of profile {profile:?} assumed with {via}")
            }
            Self::WebIdentity { role_arn, token_file } => {
                write!(f, "web identity token {} for role {role_arn}", token_file.display())
            }
            Self::Container { url } => write!(f, "container credentials from {url}"),
            Self::InstanceRole { endpoint } => write!(f, "EC2 instance role from {endpoint}"),
        }
    }
}

/// The chain's choice and the keys it gave last.
#[derive(Debug)]
pub struct Provider {
    source: Source,
    cache: Cached,
    client: Client,
}

impl Provider {
    /// Picks the first provider that is configured, in the AWS SDKs' order:
    ///
    /// 1. the environment's keys;
    /// 2. the profile (the sink's `profile`, else `AWS_PROFILE`, else `default`) of the shared
    ///    config and credentials files; a profile named explicitly must exist and hold
    ///    credentials;
    /// 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`);
    /// 4. the container endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`);
    /// 5. the EC2 instance role, unless `AWS_EC2_METADATA_DISABLED=true`.
    ///
    /// Files and variables are read now; keys that must be fetched are fetched on first use.
    /// STS requests are signed for `us-east-1` unless the profile names its region; the sink
    /// uses [`Provider::resolve_in`] with its own.
    pub fn resolve(env: &Env, profile: Option<&str>, client: Client) -> Result<Self, CredentialsError> {
        Self::resolve_in(env, profile, "us-east-1", client)
    }

    /// [`Provider::resolve`] with `region` for STS requests (and the regional STS endpoint)
    /// of providers whose profile names none.
    pub fn resolve_in(
        env: &Env,
        profile: Option<&str>,
        region: &str,
        client: Client,
    ) -> Result<Self, CredentialsError> {
        let (source, cache) = choose(env, profile, region)?;
        Ok(Self { source, cache, client })
    }

    /// The provider that supplies the keys, for the startup log (never the secret).
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Keys valid for more than five minutes when the provider can renew them, fetched again
    /// when they come close to expiring; when a refresh fails, keys that have not expired yet
    /// are still used.
    pub async fn credentials(&mut self) -> Result<Credentials, CredentialsError> {
        self.cache.credentials(&self.client).await
    }
}

fn choose(env: &Env, profile: Option<&str>, region: &str) -> Result<(Source, Cached), CredentialsError> {
    if let Some(keys) = environment_keys(env) {
        return Ok((Source::Environment, Cached::fixed(keys)));
    }
    let (name, set_by) = match (profile, env.get("AWS_PROFILE")) {
        (Some(name), _) => (name, Some("profile")),
        (None, Some(name)) => (name, Some("AWS_PROFILE")),
        (None, None) => ("default", None),
    };
    let files = Files::read(env);
    match files.profile(name) {
        Some(found) => {
            let resolver = Resolver { env, files: &files, region };
            match resolver.build(name, &found, &mut Vec::new())? {
                Some(chosen) => return Ok(chosen),
                // A profile with only settings (`region`) lets the chain go on, unless it was named.
                None if set_by.is_some() => {
                    return Err(CredentialsError::IncompleteProfile {
                        name: name.to_owned(),
                        path: found.path,
                        key: "aws_access_key_id",
                    });
                }
                None => {}
            }
        }
        None => {
            if let (Some(set_by), Some((path, config))) = (set_by, files.paths()) {
                return Err(CredentialsError::NoProfile { name: name.to_owned(), path, config, set_by });
            }
        }
    }
    if let Some(web) = WebIdentity::from_env(env, region)? {
        let source = Source::WebIdentity { role_arn: web.role.arn.clone(), token_file: web.token_file.clone() };
        return Ok((source, Cached::lazy(Fetch::WebIdentity(web))));
    }
    if let Some(container) = Container::from_env(env)? {
        return Ok((Source::Container { url: container.display_url() }, Cached::lazy(Fetch::Container(container))));
    }
    match Imds::from_env(env) {
        Some(imds) => Ok((Source::InstanceRole { endpoint: imds.endpoint.clone() }, Cached::lazy(Fetch::Imds(imds)))),
        None => Err(CredentialsError::Missing),
    }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, when the first two
/// are set.
pub fn environment_keys(env: &Env) -> Option<Credentials> {
    let (id, secret) = (env.get("AWS_ACCESS_KEY_ID")?, env.get("AWS_SECRET_ACCESS_KEY")?);
    Some(Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.into(),
        session_token: env.get("AWS_SESSION_TOKEN").map(Into::into),
        expires: None,
    })
}
