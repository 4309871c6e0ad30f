//! `sluice tap [--api ADDR] [--config FILE] [--match SUBSTRING] [--json]`: print every window
//! the running agent flushes, until Ctrl-C.
//!
//! `--match` goes to the agent as `GET /tap?match=…`, which sends only the series whose name
//! contains it. `--json` prints the agent's lines as received: one window per line, or
//! `{"missed":N}` when this tap fell behind and lost N windows.
//!
//! Exit status: 0 when the agent ends the tap (it is stopping) or the reader of the output
//! goes away (`| head`); 2 when the agent cannot be reached or the connection breaks.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::render::{Line, render};
use crate::cli::exit;
use crate::cli::http;
use crate::cli::locate::api_target;

/// Streams the agent's windows to standard output, as the module docs say.
pub fn tap(api: Option<SocketAddr>, config: Option<PathBuf>, pattern: Option<&str>, json: bool) -> ExitCode {
    let target = match api_target(api, config) {
        Ok(target) => target,
        Err(e) => return exit::unreachable(&format!("cannot find the agent's API address: {e}; or pass --api")),
    };
    let path = match pattern.filter(|p| !p.is_empty()) {
        Some(p) => format!("/tap?match={}", utf8_percent_encode(p, NON_ALPHANUMERIC)),
        None => "/tap".to_owned(),
    };
    let mut lines = match http::get(&target, &path).and_then(http::Answer::stream) {
        Ok(body) => body,
        Err(e) => return exit::unreachable(&format!("cannot reach the agent's API at {target}: {e}")),
    };
    let filter = pattern.map(|p| format!(", series matching {p:?}")).unwrap_or_default();
    eprintln!("sluice: tapping {target}{filter}; Ctrl-C stops.");
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) => {
                eprintln!("sluice: the agent ended the tap (it is stopping).");
                return ExitCode::SUCCESS;
            }
            Ok(_) => {}
            Err(e) => return exit::unreachable(&format!("the tap from {target} broke: {e}")),
        }
        let text = if json {
            String::from_utf8_lossy(&line).into_owned()
        } else {
            match serde_json::from_slice::<Line>(&line) {
                Ok(parsed) => render(&parsed),
                Err(e) => {
                    eprintln!("sluice: skipped a tap line that is not a window ({e}).");
                    continue;
                }
            }
        };
        if let Err(status) = exit::print(&text) {
            return status;
        }
    }
}
