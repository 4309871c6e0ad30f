//! `type = "prometheus_exporter"`: the `statsd_exporter`'s job. A listener of its own serves
//! the aggregated series at `GET /metrics`, in the text format 0.0.4 or OpenMetrics 1.0 as
//! the scraper asks, counters and histograms cumulative across windows and restarts.
//!
//! Naming, translation, state and writers are [`crate::prometheus`]'s; this module keeps the
//! listener and the hand-over of the latest render to it.

mod config;
mod server;
mod service;
#[cfg(test)]
mod tests;

pub use config::PrometheusExporterConfig;
pub use server::{OPENMETRICS_CONTENT_TYPE, Scrape, TEXT_CONTENT_TYPE};
pub use service::PrometheusExporter;
