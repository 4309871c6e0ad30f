//! `sluice status [--api ADDR] [--config FILE] [--json]`: how the running agent is doing.
//!
//! Exit status, for scripts and health checks: 0 when every backend is healthy or starting,
//! 1 when any is failing, stopped or buffering in memory because its disk buffer failed
//! (`memory_fallback`), 2 when the agent cannot be asked (nothing answers at the address,
//! or the answer is not a status).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use super::report::Report;
use super::summary::summary;
use crate::cli::exit;
use crate::cli::http;
use crate::cli::locate::api_target;

/// Prints the summary (or, with `json`, the agent's JSON as received) and exits as the module
/// docs say.
pub fn status(api: Option<SocketAddr>, config: Option<PathBuf>, json: bool) -> ExitCode {
    let target = match api_target(api, config) {
        Ok(target) => target,
        Err(e) => return exit::unreachable(&format!("cannot find the agent's API address: {e}; or pass --api")),
    };
    let body = match http::get(&target, "/status").and_then(http::Answer::text) {
        Ok(body) => body,
        Err(e) => return exit::unreachable(&format!("cannot reach the agent's API at {target}: {e}")),
    };
    let report: Report = match serde_json::from_str(&body) {
        Ok(report) => report,
        Err(e) => {
            return exit::unreachable(&format!("the answer of {target} to GET /status is not a sluice status: {e}"));
        }
    };
    let text = if json { format!("{}\n", body.trim_end()) } else { summary(&report, target.addr, now_ms()) };
    if let Err(e) = exit::print(&text) {
        return e;
    }
    if report.problems().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(exit::UNHEALTHY) }
}

/// Now, Unix milliseconds, for the age of the last success.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
