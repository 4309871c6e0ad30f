//! Profiles of the shared config file (`AWS_CONFIG_FILE`, else `~/.aws/config`, sections
//! `[profile NAME]` and `[default]`) and the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`, sections `[NAME]`); where both
//! have a key, the credentials file wins, as in the AWS CLI.
//!
//! A profile gives keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`),
//! a `credential_process`, or a `role_arn` assumed with STS `AssumeRole` signed by its
//! `source_profile` (itself a profile of any of these kinds) or its `credential_source`
//! (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`), or with
//! `AssumeRoleWithWebIdentity` from its `web_identity_token_file`. `region` is the region of
//! that profile's STS requests; `role_session_name`, `external_id` and `duration_seconds` go
//! into `AssumeRole`.

use std::collections::HashMap;
use std::path::PathBuf;

use super::cache::{Cached, Fetch};
use super::chain::{Source, environment_keys};
use super::container::Container;
use super::imds::Imds;
use super::process::Process;
use super::sts::{Role, Sts};
use super::web_identity::{WebIdentity, default_session_name};
use super::{Credentials, CredentialsError, Env};

/// A file's path and, when it could be read, its text.
#[derive(Debug, Default)]
struct File {
    path: Option<PathBuf>,
    text: Option<String>,
}

impl File {
    fn read(path: Option<PathBuf>) -> Self {
        let text = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
        Self { path, text }
    }
}

/// The two shared files, read once at startup.
#[derive(Debug)]
pub struct Files {
    credentials: File,
    config: File,
}

/// One profile's keys and the file that holds them.
pub struct Profile {
    /// The credentials file when it has the section, else the config file.
    pub path: PathBuf,
    keys: HashMap<String, String>,
}

impl Files {
    /// Reads both files; a file that is missing or unreadable counts as empty.
    pub fn read(env: &Env) -> Self {
        let home = env.get("HOME").map(|h| PathBuf::from(h).join(".aws"));
        let credentials = env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join("credentials")));
        let config = env.get("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home.map(|h| h.join("config")));
        Self { credentials: File::read(credentials), config: File::read(config) }
    }

    /// The credentials file and the config file, for messages; `None` when neither has a path.
    pub fn paths(&self) -> Option<(PathBuf, Option<PathBuf>)> {
        match (&self.credentials.path, &self.config.path) {
            (Some(c), config) => Some((c.clone(), config.clone())),
            (None, Some(config)) => Some((config.clone(), None)),
            (None, None) => None,
        }
    }

    /// Profile `name` from both files, or `None` when neither has it.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        let config = self.config.text.as_deref().and_then(|t| {
            profile_keys(t, &format!("profile {name}"))
                .or_else(|| (name == "default").then(|| profile_keys(t, name)).flatten())
        });
        let credentials = self.credentials.text.as_deref().and_then(|t| profile_keys(t, name));
        let path = match (&credentials, &config) {
            (Some(_), _) => self.credentials.path.clone()?,
            (None, Some(_)) => self.config.path.clone()?,
            (None, None) => return None,
        };
        let mut keys = config.unwrap_or_default();
        keys.extend(credentials.unwrap_or_default());
        Some(Profile { path, keys })
    }
}

/// What builds a profile's provider.
pub struct Resolver<'a> {
    /// The variables, for `credential_source` and the STS endpoint.
    pub env: &'a Env,
    /// The shared files.
    pub files: &'a Files,
    /// The region of STS requests when the profile has no `region`.
    pub region: &'a str,
}

impl Resolver<'_> {
    /// The provider of profile `name`, or `None` when it holds no credentials of any kind.
    /// `visited` holds the profiles on the way here, to refuse a `source_profile` loop.
    pub fn build(
        &self,
        name: &str,
        profile: &Profile,
        visited: &mut Vec<String>,
    ) -> Result<Option<(Source, Cached)>, CredentialsError> {
        visited.push(name.to_owned());
        let get = |key: &str| profile.keys.get(key).map(String::as_str).filter(|v| !v.is_empty());
        let bad = |message: String| CredentialsError::BadProfile { name: name.to_owned(), message };
        if let Some(arn) = get("role_arn") {
            let duration_seconds = get("duration_seconds")
                .map(|d| {
                    d.parse::<u32>().map_err(|_| bad(format!("duration_seconds {d:?} is not a number of seconds")))
                })
                .transpose()?;
            let role = Role {
                arn: arn.to_owned(),
                session_name: get("role_session_name").map_or_else(default_session_name, str::to_owned),
                external_id: get("external_id").map(str::to_owned),
                duration_seconds,
            };
            let sts = Sts::from_env(self.env, get("region").unwrap_or(self.region))?;
            if let Some(token_file) = get("web_identity_token_file") {
                let web = WebIdentity { token_file: PathBuf::from(token_file), role, sts };
                let source = Source::WebIdentity { role_arn: arn.to_owned(), token_file: web.token_file.clone() };
                return Ok(Some((source, Cached::lazy(Fetch::WebIdentity(web)))));
            }
            let (via, source) = match (get("source_profile"), get("credential_source")) {
                (Some(source), _) if source == name => (
                    Source::Profile { path: profile.path.clone(), name: name.to_owned() },
                    Cached::fixed(keys(profile, name)?),
                ),
                (Some(source), _) => {
                    if visited.iter().any(|v| v == source) {
                        return Err(bad(format!("source_profile loop: {} → {source}", visited.join(" → "))));
                    }
                    let next = self
                        .files
                        .profile(source)
                        .ok_or_else(|| bad(format!("source_profile {source:?} is in neither shared file")))?;
                    self.build(source, &next, visited)?
                        .ok_or_else(|| bad(format!("source_profile {source:?} has no credentials")))?
                }
                (None, Some(source)) => self.credential_source(source).map_err(bad)?,
                (None, None) => {
                    return Err(bad(
                        "role_arn needs source_profile, credential_source or web_identity_token_file".to_owned()
                    ));
                }
            };
            let source_name =
                Source::AssumeRole { profile: name.to_owned(), role_arn: arn.to_owned(), via: Box::new(via) };
            let fetch = Fetch::AssumeRole { role, sts, source: Box::new(source) };
            return Ok(Some((source_name, Cached::lazy(fetch))));
        }
        if let Some(command) = get("credential_process") {
            let process = Process { profile: name.to_owned(), command: command.to_owned() };
            return Ok(Some((Source::Process { profile: name.to_owned() }, Cached::lazy(Fetch::Process(process)))));
        }
        if get("aws_access_key_id").is_some() || get("aws_secret_access_key").is_some() {
            let source = Source::Profile { path: profile.path.clone(), name: name.to_owned() };
            return Ok(Some((source, Cached::fixed(keys(profile, name)?))));
        }
        if get("sso_session").is_some() || get("sso_start_url").is_some() {
            return Err(bad(format!(
                "IAM Identity Center (SSO) profiles are not supported; use credential_process = aws configure \
                 export-credentials --profile {name} --format process"
            )));
        }
        Ok(None)
    }

    fn credential_source(&self, source: &str) -> Result<(Source, Cached), String> {
        match source {
            "Environment" => environment_keys(self.env)
                .map(|keys| (Source::Environment, Cached::fixed(keys)))
                .ok_or_else(|| "credential_source Environment, but AWS_ACCESS_KEY_ID is not set".to_owned()),
            "Ec2InstanceMetadata" => Imds::from_env(self.env)
                .map(|imds| (Source::InstanceRole { endpoint: imds.endpoint.clone() }, Cached::lazy(Fetch::Imds(imds))))
                .ok_or_else(|| "credential_source Ec2InstanceMetadata, but AWS_EC2_METADATA_DISABLED=true".to_owned()),
            "EcsContainer" => match Container::from_env(self.env).map_err(|e| e.to_string())? {
                Some(c) => Ok((Source::Container { url: c.display_url() }, Cached::lazy(Fetch::Container(c)))),
                None => Err("credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_* URI is set".to_owned()),
            },
            other => Err(format!(
                "credential_source {other:?} is not one of \"Environment\", \"Ec2InstanceMetadata\", \"EcsContainer\""
            )),
        }
    }
}

fn keys(profile: &Profile, name: &str) -> Result<Credentials, CredentialsError> {
    let get =
        |key: &'static str| {
            profile.keys.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
                CredentialsError::IncompleteProfile { name: name.to_owned(), path: profile.path.clone(), key }
            })
        };
    Ok(Credentials {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?.into(),
        session_token: profile.keys.get("aws_session_token").filter(|v| !v.is_empty()).map(|t| t.as_str().into()),
        expires: None,
    })
}

/// The `key = value` pairs of section `[profile]` in an INI text (keys lower-cased), or `None`
/// when there is no such section. Lines starting with `#` or `;` are comments; a repeated
/// section continues the first; runs of spaces in a section name count as one.
pub fn profile_keys(text: &str, profile: &str) -> Option<HashMap<String, String>> {
    let mut found = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.split_whitespace().eq(profile.split_whitespace());
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if inside && let Some((key, value)) = line.split_once('=') {
            found.get_or_insert_with(HashMap::new).insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    found
}
