//! Which config file a command reads: `--config`, `$SLUICE_CONFIG`, `/etc/sluice/sluice.toml`,
//! else none (the embedded default).

use std::path::PathBuf;

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
