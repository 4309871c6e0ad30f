//! `type = "pushgateway"`: pushes each window to a Prometheus Pushgateway as one group, with
//! cumulative counters and histograms kept across windows and restarts.
//!
//! Naming, translation, state and encoding are [`crate::prometheus`]'s; this module keeps the
//! grouping key, the URL and the push.

mod config;
mod service;
#[cfg(test)]
mod tests;

pub use config::{DEFAULT_JOB, DEFAULT_TIMEOUT, Format, PushgatewayConfig};
pub use service::{PROTOBUF_CONTENT_TYPE, Push, Pushgateway, TEXT_CONTENT_TYPE, group_url};
