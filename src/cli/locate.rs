//! Which config file a command reads — `--config`, `$SLUICE_CONFIG`, `/etc/sluice/sluice.toml`,
//! else none (the embedded default) — and, for the commands that read a running agent's API,
//! the address it gives.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use backends::Secret;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sluice::config::{self, ApiConfig, AuthConfig, ConfigError, TokenEntry};

/// Where commands look when neither `--config` nor `$SLUICE_CONFIG` is given.
pub const SYSTEM_CONFIG: &str = "/etc/sluice/sluice.toml";

/// The config file to read: `explicit` (`--config`), else `$SLUICE_CONFIG`, else
/// [`SYSTEM_CONFIG`] when it exists; `None` means the embedded default.
pub fn config_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| std::env::var_os("SLUICE_CONFIG").map(PathBuf::from)).or_else(|| {
        let system = PathBuf::from(SYSTEM_CONFIG);
        system.exists().then_some(system)
    })
}

/// The running agent's API address, where it came from (for messages), and the token to
/// present when `[api.auth]` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    /// The address.
    pub addr: SocketAddr,
    /// `--api`, `[api] listen in FILE`, or the embedded default.
    pub origin: String,
    /// The bearer token, when there is one to send.
    pub token: Option<Secret>,
    /// With `[api.tls]`, the certificate the agent serves (the first of its `cert`): the only
    /// one the command trusts.
    pub pinned: Option<CertificateDer<'static>>,
}

impl fmt::Display for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.addr, self.origin)
    }
}

/// The variable a command's token is taken from first.
pub const TOKEN_VARIABLE: &str = "SLUICE_API_TOKEN";

/// `api` (`--api`) when given; else `[api] listen` of the config [`config_path`] finds, as
/// `sluice run` would; else the embedded default's. Only `[api]` of the file is read (see
/// [`config::parse_api`]). The token is `$SLUICE_API_TOKEN` when set, else the first token of
/// the file's `[api.auth]` (its `${VAR}` expanded from this shell's environment, or the first
/// of its `tokens_file` when this user can read it).
pub fn api_target(api: Option<SocketAddr>, config: Option<PathBuf>) -> Result<ApiTarget, Box<ConfigError>> {
    let path = config_path(config);
    let file = match &path {
        Some(path) => config::api_config(path),
        None => config::parse_api(config::DEFAULT_CONFIG, config::DEFAULT_ORIGIN),
    };
    let token = |file: Option<&ApiConfig>| {
        let from_env = std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty()).map(Secret::new);
        from_env.or_else(|| file?.auth.as_ref().and_then(configured_token))
    };
    // With --api the file only lends its token and certificate: a file that does not parse is
    // no reason to fail.
    if let Some(addr) = api {
        let pinned = file.as_ref().ok().map(pinned).transpose()?.flatten();
        return Ok(ApiTarget { addr, origin: "--api".to_owned(), token: token(file.as_ref().ok()), pinned });
    }
    let file = file?;
    let origin = match &path {
        Some(path) => format!("[api] listen in {}", path.display()),
        None => "the embedded default".to_owned(),
    };
    Ok(ApiTarget { addr: file.listen, origin, token: token(Some(&file)), pinned: pinned(&file)? })
}

/// The first certificate of `[api.tls] cert`, when the API serves TLS.
fn pinned(file: &ApiConfig) -> Result<Option<CertificateDer<'static>>, Box<ConfigError>> {
    let Some(tls) = &file.tls else { return Ok(None) };
    let unreadable = |message: String| {
        Box::new(ConfigError::Read { path: tls.cert.display().to_string(), source: std::io::Error::other(message) })
    };
    CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| unreadable(e.to_string()))?
        .next()
        .ok_or_else(|| unreadable("no CERTIFICATE in it".to_owned()))?
        .map(Some)
        .map_err(|e| unreadable(e.to_string()))
}

/// The first token `auth` names that this shell can know.
fn configured_token(auth: &AuthConfig) -> Option<Secret> {
    let first = auth.tokens.first().map(|entry| match entry {
        TokenEntry::Plain(token) | TokenEntry::Named { token, .. } => token.expose(),
    });
    if let Some(token) = first.and_then(|t| config::expand_env(t).ok()) {
        return Some(Secret::new(token));
    }
    let text = std::fs::read_to_string(auth.tokens_file.as_ref()?).ok()?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))?;
    // `NAME TOKEN` or `TOKEN`.
    Some(Secret::new(line.rsplit(char::is_whitespace).next().unwrap_or(line)))
}
