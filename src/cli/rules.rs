//! `sluice rules export [--config FILE]`: the config's `[rules.*]` as a Prometheus rule file
//! on standard output (see [`sluice::alerting::export`]). A rule with no Prometheus
//! counterpart is left out, with the reason on standard error and as a comment in the file.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use sluice::alerting::{Rule, export};

use super::exit::print;
use super::run::load;

/// Prints the rule file of the config found as `sluice run` finds it.
pub fn export_rules(path: Option<PathBuf>) -> ExitCode {
    let config = match load(path) {
        Ok((config, _, _)) => config,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mappings = match config.compile_mappings() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Validation compiled every rule already.
    let rules: Vec<Rule> = config.rules.iter().filter_map(|(name, r)| Rule::compile(name, r).ok()).collect();
    let (mut text, skipped) = export::export(&rules, &mappings, config.agent.flush_interval.0);
    for s in &skipped {
        eprintln!("sluice: [rules.{}] left out: {}", s.rule, s.reason);
        let _ = writeln!(text, "# [rules.{}] left out: {}", s.rule, s.reason);
    }
    match print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
