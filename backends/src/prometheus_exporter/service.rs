//! The scrape endpoint's delivery side: each window advances the totals and is rendered once,
//! in both formats, for the listener to serve until the next.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::config::PrometheusExporterConfig;
use super::server::{Endpoint, Scrape};
use crate::backend::{Backend, Encoded, SendError};
use crate::delivery::Position;
use crate::model::Window;
use crate::prometheus::{Encoder, Exposition, HELP, Mappings, Settings, openmetrics, text_with_help};
use crate::registry::BuildError;

/// The `type`, naming the state file `prometheus_exporter-<sink>.json`.
const KIND: &str = "prometheus_exporter";

/// Serves the aggregated series at `GET /metrics` of its own listener (see
/// `docs/translation.md`).
#[derive(Debug)]
pub struct PrometheusExporter {
    exposition: Exposition,
    endpoint: Arc<Endpoint>,
}

impl PrometheusExporter {
    /// Validates `config`, loads the totals of sink `name` from `data_dir` and binds `listen`,
    /// or takes over the listener a sink this one replaces runs there. A bind failure is an
    /// error naming `listen`. Must be called within the tokio runtime.
    pub fn new(
        name: &str,
        config: &PrometheusExporterConfig,
        data_dir: &Path,
        mappings: Arc<Mappings>,
    ) -> Result<Self, BuildError> {
        config.validate()?;
        let exposition = Exposition::open(Settings {
            kind: KIND,
            name,
            data_dir,
            buckets: config.buckets.clone(),
            expire_after: config.expire_after.0,
            consistent_labels: true,
            // No label is reserved: Prometheus renames a series label `job` or `instance`
            // itself (`exported_job`) unless the scrape config says `honor_labels`.
            encoder: Encoder::new([], mappings).for_openmetrics(),
        })
        .map_err(|e| BuildError::new(format!("{KIND} state: {e}")))?;
        let endpoint = Endpoint::open(config.listen)
            .map_err(|e| BuildError::at("listen", format!("cannot listen on {}: {e}", config.listen)))?;
        Ok(Self { exposition, endpoint })
    }

    /// The address the listener serves on (the chosen port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// This window's kept gauges and every running total, rendered in both formats.
    fn render(&mut self, window: &Window) -> Vec<Encoded<Arc<Scrape>>> {
        let families = self.exposition.families(window);
        let series = families.values().map(|f| f.metrics.len() as u64).sum();
        let scrape = Scrape {
            text: Bytes::from(text_with_help(&families, HELP)),
            openmetrics: Bytes::from(openmetrics(&families, HELP)),
        };
        vec![Encoded { payload: Arc::new(scrape), series }]
    }

    /// The render served now, for tests.
    #[cfg(test)]
    pub(crate) fn served(&self) -> Arc<Scrape> {
        self.endpoint.latest()
    }

    /// How many gauges are kept, for tests.
    #[cfg(test)]
    pub(crate) fn kept_gauges(&self) -> usize {
        self.exposition.gauges().len()
    }
}

impl Backend for PrometheusExporter {
    type Batch = Arc<Scrape>;

    fn begin(&mut self) {
        // Continue from the totals the sink this one replaces saved when it stopped.
        self.exposition.reload();
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Arc<Scrape>>>, SendError> {
        // Advance the totals once per window (the mapping rules decide what is kept, at which
        // buckets, for how long), then render the whole state: a scrape reads all of it.
        self.exposition.advance(window, None);
        Ok(self.render(window))
    }

    fn encode_spooled(&mut self, window: &Window, position: Position) -> Result<Vec<Encoded<Arc<Scrape>>>, SendError> {
        // A window replayed from a disk spool after a crash may already be in the saved totals.
        self.exposition.advance(window, Some(position));
        Ok(self.render(window))
    }

    fn take_left_out(&mut self) -> u64 {
        self.exposition.take_left_out()
    }

    async fn send(&mut self, scrape: &Arc<Scrape>) -> Result<(), SendError> {
        // The next scrape answers with this render; nothing can refuse it.
        self.endpoint.publish(Arc::clone(scrape));
        Ok(())
    }

    fn delivered(&mut self, _window: &Window) {
        // The totals include this window now; keep them for the next run of the agent.
        self.exposition.save();
    }

    async fn close(&mut self) {
        // The listener stays up while a successor holds it, and stops when this is dropped
        // otherwise.
        self.exposition.save();
    }
}
