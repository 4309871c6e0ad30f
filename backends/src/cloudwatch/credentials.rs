//! Where the signing keys come from: a small provider chain, resolved once at startup.
//!
//! 1. The environment: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
//!    `AWS_SESSION_TOKEN`).
//! 2. The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`;
//!    the profile named by the sink's `profile`, else `AWS_PROFILE`, else `default`. A profile
//!    named explicitly must exist.
//! 3. The EC2 instance role through `IMDSv2` (`PUT /latest/api/token`, then the role's keys
//!    from `/latest/meta-data/iam/security-credentials/`), at `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//!    or `http://169.254.169.254`; skipped when `AWS_EC2_METADATA_DISABLED=true`. The keys
//!    are fetched on first use and again [`REFRESH_BEFORE_EXPIRY`] before they expire.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Client;

/// The instance metadata service of EC2.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// Lifetime asked for an `IMDSv2` session token (the maximum, six hours).
const IMDS_TOKEN_TTL_SECONDS: &str = "21600";
/// Longest wait for one metadata request; the service is on the instance itself.
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// Role keys are fetched again this long before they expire (the AWS SDKs use 5 minutes).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_mins(5);

/// The variables the chain reads, so tests can pass their own instead of the process's.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<&'static str, String>,
}

impl Env {
    /// Every variable the chain reads.
    pub const NAMES: [&'static str; 8] = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_PROFILE",
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

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// A set of keys. `Debug` shows the access key ID but never the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AccessKeyId`.
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: String,
    /// The session token of temporary keys.
    pub session_token: Option<String>,
    /// When temporary keys stop working.
    pub expires: Option<SystemTime>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expires", &self.expires)
            .finish()
    }
}

/// Which provider of the chain supplies the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// A profile of the shared credentials file.
    Profile {
        /// The file read.
        path: PathBuf,
        /// The profile (section) read.
        name: String,
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
            Self::InstanceRole { endpoint } => write!(f, "EC2 instance role from {endpoint}"),
        }
    }
}

/// Why no keys could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Nothing in the chain has keys.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in the shared credentials \
         file, or run on EC2 with an instance role"
    )]
    Missing,
    /// A profile named by `profile` or `AWS_PROFILE` is not in the file.
    #[error("profile {name:?} not found in {path} (set by {set_by})")]
    NoProfile {
        /// The profile asked for.
        name: String,
        /// The file read.
        path: PathBuf,
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
    /// The metadata service did not answer or gave no keys.
    #[error("instance role credentials from {endpoint}: {message}")]
    Imds {
        /// The metadata service's base URL.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

/// The chain's choice and, for the instance role, the keys fetched last.
#[derive(Debug)]
pub struct Provider {
    source: Source,
    current: Option<Credentials>,
    client: Client,
}

impl Provider {
    /// Picks the first provider of the chain that has keys. Reads the environment and the
    /// credentials file now; the instance role's keys are fetched on first use.
    pub fn resolve(env: &Env, profile: Option<&str>, client: Client) -> Result<Self, CredentialsError> {
        if let (Some(id), Some(secret)) = (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")) {
            let credentials = Credentials {
                access_key_id: id.to_owned(),
                secret_access_key: secret.to_owned(),
                session_token: env.get("AWS_SESSION_TOKEN").map(str::to_owned),
                expires: None,
            };
            return Ok(Self { source: Source::Environment, current: Some(credentials), client });
        }
        let path = env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| env.get("HOME").map(|home| PathBuf::from(home).join(".aws").join("credentials")));
        let (name, set_by) = match (profile, env.get("AWS_PROFILE")) {
            (Some(name), _) => (name, Some("profile")),
            (None, Some(name)) => (name, Some("AWS_PROFILE")),
            (None, None) => ("default", None),
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).ok();
            match text.as_deref().and_then(|t| profile_keys(t, name)) {
                Some(keys) => {
                    let credentials = from_profile(&keys, name, &path)?;
                    let source = Source::Profile { path, name: name.to_owned() };
                    return Ok(Self { source, current: Some(credentials), client });
                }
                None => {
                    if let Some(set_by) = set_by {
                        return Err(CredentialsError::NoProfile { name: name.to_owned(), path, set_by });
                    }
                }
            }
        }
        if env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(CredentialsError::Missing);
        }
        let endpoint = env
            .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or(DEFAULT_IMDS_ENDPOINT)
            .trim_end_matches('/')
            .to_owned();
        Ok(Self { source: Source::InstanceRole { endpoint }, current: None, client })
    }

    /// The provider that supplies the keys, for the startup log (never the secret).
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Keys valid for at least [`REFRESH_BEFORE_EXPIRY`] when the provider can renew them;
    /// the instance role's are fetched again when they come close to expiring. When the
    /// metadata service fails, keys that have not expired yet are still used.
    pub async fn credentials(&mut self) -> Result<Credentials, CredentialsError> {
        let Source::InstanceRole { endpoint } = &self.source else {
            return Ok(self.current.clone().expect("static providers hold their keys"));
        };
        let now = SystemTime::now();
        let fresh = |c: &Credentials| c.expires.is_none_or(|at| now + REFRESH_BEFORE_EXPIRY < at);
        if let Some(current) = self.current.as_ref().filter(|c| fresh(c)) {
            return Ok(current.clone());
        }
        match fetch_instance_role(&self.client, endpoint).await {
            Ok(credentials) => {
                tracing::info!(
                    access_key_id = %credentials.access_key_id,
                    expires = ?credentials.expires.map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()),
                    "Fetched instance role credentials."
                );
                Ok(self.current.insert(credentials).clone())
            }
            Err(e) => match self.current.as_ref().filter(|c| c.expires.is_some_and(|at| now < at)) {
                Some(still_valid) => {
                    tracing::warn!(error = %e, "Could not refresh instance role credentials; using the current ones.");
                    Ok(still_valid.clone())
                }
                None => Err(e),
            },
        }
    }
}

fn from_profile(
    keys: &HashMap<String, String>,
    name: &str,
    path: &std::path::Path,
) -> Result<Credentials, CredentialsError> {
    let get = |key: &'static str| {
        keys.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| CredentialsError::IncompleteProfile {
            name: name.to_owned(),
            path: path.to_owned(),
            key,
        })
    };
    Ok(Credentials {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        session_token: keys.get("aws_session_token").filter(|v| !v.is_empty()).cloned(),
        expires: None,
    })
}

/// The `key = value` pairs of section `[profile]` in an INI text (keys lower-cased), or `None`
/// when there is no such section. Lines starting with `#` or `;` are comments; a repeated
/// section continues the first.
pub fn profile_keys(text: &str, profile: &str) -> Option<HashMap<String, String>> {
    let mut found = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == profile;
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

/// `IMDSv2`: a session token, the role name, then the role's keys.
async fn fetch_instance_role(client: &Client, endpoint: &str) -> Result<Credentials, CredentialsError> {
    let fail = |message: String| CredentialsError::Imds { endpoint: endpoint.to_owned(), message };
    let text = |request: reqwest::RequestBuilder| async {
        let response = request.timeout(IMDS_TIMEOUT).send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| fail(e.to_string()))?;
        if status.is_success() { Ok(body) } else { Err(fail(format!("HTTP {status}: {}", body.trim()))) }
    };
    let token = text(
        client
            .put(format!("{endpoint}/latest/api/token"))
            .header("X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL_SECONDS),
    )
    .await?;
    let roles_url = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let roles = text(client.get(&roles_url).header("X-aws-ec2-metadata-token", token.trim())).await?;
    let role = roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or_else(|| fail("no instance role".into()))?;
    let body = text(client.get(format!("{roles_url}{role}")).header("X-aws-ec2-metadata-token", token.trim())).await?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| fail(format!("unreadable answer: {e}")))?;
    let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    if let Some(code) = field("Code").filter(|c| c != "Success") {
        return Err(fail(format!("the service answered {code}")));
    }
    let (Some(access_key_id), Some(secret_access_key)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err(fail("the answer has no AccessKeyId or SecretAccessKey".into()));
    };
    let expires = field("Expiration").and_then(|e| parse_iso8601(&e));
    Ok(Credentials { access_key_id, secret_access_key, session_token: field("Token"), expires })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` as a time, or `None` when it is not that form.
pub fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let time = time.split('.').next()?;
    let mut time = time.splitn(3, ':').map(str::parse::<i64>);
    let (h, m, s) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
