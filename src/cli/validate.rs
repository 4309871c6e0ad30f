//! `sluice validate --config FILE`: 0 when the file is valid, 1 with the key and line otherwise.

use std::path::Path;
use std::process::ExitCode;

use sluice::config;

/// Checks the config file at `path` and prints the verdict.
pub fn validate(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(_) => {
            println!("{}: valid", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}
