//! `/status` as the command reads it, and the verdict its exit code gives.
//!
//! Every field has a default, so an agent older or newer than this command (a field missing
//! or added) still gives a summary.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The body of `GET /status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Report {
    /// The agent's version.
    pub version: Option<String>,
    /// Seconds since the agent started.
    pub uptime_seconds: Option<u64>,
    /// Every listener bound and every backend built.
    pub ready: bool,
    /// Live series in the window state.
    pub series: u64,
    /// Windows flushed since start.
    pub flushes: u64,
    /// Every listener, stopped ones included.
    pub listeners: Vec<Listener>,
    /// Malformed lines skipped, by reason (only reasons that happened).
    pub parse_errors: BTreeMap<String, u64>,
    /// Samples refused, by reason (only reasons that happened).
    pub dropped_samples: BTreeMap<String, u64>,
    /// Every backend, in config order.
    pub backends: Vec<Backend>,
    /// Every running probe.
    pub probes: Vec<Probe>,
    /// The rules' pending and firing alerts (absent without rules).
    pub alerts: Vec<Alert>,
}

/// One probe of `/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Probe {
    /// Its table's name.
    pub name: String,
    /// Whether it decides `GET /checks`.
    pub critical: bool,
    /// Whether its last run passed.
    pub ok: bool,
    /// Why its last run failed.
    pub error: Option<String>,
}

/// One alert of `/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Alert {
    /// Its rule.
    pub name: String,
    /// `pending` or `firing`.
    pub state: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value in the latest window.
    pub value: Option<f64>,
    /// When it began firing.
    pub fired_at: Option<String>,
}

/// One listener of `/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Listener {
    /// Its label, `udp:127.0.0.1:8125` or `unix:/run/…`.
    #[serde(rename = "listener")]
    pub name: String,
    /// False once a reload removed it.
    pub running: bool,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Datagrams or lines cut for being too large.
    pub truncated: u64,
    /// Datagrams the kernel dropped (UDP only).
    pub kernel_drops: Option<u64>,
}

/// One backend of `/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Backend {
    /// The sink's name.
    pub name: String,
    /// `starting`, `healthy`, `failing` or `stopped`.
    pub state: String,
    /// When a window was last acknowledged, Unix milliseconds.
    pub last_success_ms: Option<u64>,
    /// The last error.
    pub last_error: Option<String>,
    /// Windows waiting, in memory or on disk.
    pub queue_depth: u64,
    /// `memory`, `disk` or `memory_fallback`.
    pub buffer: String,
    /// Why a disk buffer fell back to memory.
    pub buffer_error: Option<String>,
    /// Windows in the disk spool.
    pub spooled_windows: u64,
    /// Bytes in the disk spool.
    pub spooled_bytes: u64,
    /// Age of the oldest waiting window, seconds.
    pub oldest_age_seconds: Option<f64>,
    /// Replay of the windows found in the spool at start.
    pub replay: Replay,
    /// Torn or corrupt spool records skipped.
    pub spool_corrupt_records: u64,
    /// Spool writes and syncs that failed.
    pub spool_errors: u64,
    /// Series acknowledged since start.
    pub sent_series: u64,
    /// Series dropped since start, by reason.
    pub dropped: BTreeMap<String, u64>,
}

/// Replay progress of the windows a disk buffer held at start.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Replay {
    /// Still waiting.
    pub pending: u64,
    /// Delivered or given up.
    pub done: u64,
}

impl Backend {
    /// Why this backend needs attention, or `None` when it is healthy or starting with its
    /// buffer where it was configured.
    pub fn problem(&self) -> Option<&str> {
        if self.buffer == "memory_fallback" {
            return Some("memory_fallback");
        }
        match self.state.as_str() {
            "healthy" | "starting" => None,
            "" => Some("unknown"),
            other => Some(other),
        }
    }
}

impl Report {
    /// `(name, why)` of every backend that needs attention; the command exits 1 when there
    /// is one.
    pub fn problems(&self) -> Vec<(&str, &str)> {
        self.backends.iter().filter_map(|b| Some((b.name.as_str(), b.problem()?))).collect()
    }
}
