//! What a Prometheus output that keeps cumulative state gets from the agent.

use std::path::PathBuf;
use std::sync::Arc;

use super::Mappings;
use crate::delivery::http::Client;

/// The agent's side of a Pushgateway or remote write sink.
#[derive(Debug, Clone)]
pub struct Context {
    /// The shared HTTP client (`delivery::http::client`); a sink with a `ca_file` builds its
    /// own.
    pub client: Client,
    /// `[agent] data_dir`, where the cumulative state is kept.
    pub data_dir: PathBuf,
    /// `[agent] hostname` or the machine's: the default `instance`.
    pub hostname: String,
    /// The agent's `[[mappings]]`.
    pub mappings: Arc<Mappings>,
}
