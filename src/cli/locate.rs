//! Which config file a command reads — `--config`, `$SLUICE_CONFIG`, `/etc/sluice/sluice.toml`,
//! else none (the embedded default) — and, for the commands that read a running agent's API,
//! the address it gives.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use sluice::config::{self, ConfigError};

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

/// The running agent's API address, and where it came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    /// The address.
    pub addr: SocketAddr,
    /// `--api`, `[api] listen in FILE`, or the embedded default.
    pub origin: String,
}

impl fmt::Display for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.addr, self.origin)
    }
}

/// `api` (`--api`) when given; else `[api] listen` of the config [`config_path`] finds, as
/// `sluice run` would; else the embedded default's. Only `[api]` of the file is read (see
/// [`config::parse_api_listen`]).
pub fn api_target(api: Option<SocketAddr>, config: Option<PathBuf>) -> Result<ApiTarget, Box<ConfigError>> {
    if let Some(addr) = api {
        return Ok(ApiTarget { addr, origin: "--api".to_owned() });
    }
    Ok(match config_path(config) {
        Some(path) => {
            ApiTarget { addr: config::api_listen(&path)?, origin: format!("[api] listen in {}", path.display()) }
        }
        None => ApiTarget {
            addr: config::parse_api_listen(config::DEFAULT_CONFIG, config::DEFAULT_ORIGIN)?,
            origin: "the embedded default".to_owned(),
        },
    })
}
