//! `type = "prometheus_remote_write"`: writes each window to a Prometheus remote write 1.0
//! receiver (Prometheus, Mimir, Thanos Receive, VictoriaMetrics) as snappy-compressed
//! protobuf, with cumulative counters and histograms kept across windows and restarts and
//! stale markers for series that leave.
//!
//! Naming, translation and state are [`crate::prometheus`]'s; this module keeps the
//! time series, the stale markers, the batching and the request.

mod config;
mod encode;
mod prompb;
mod service;
#[cfg(test)]
mod tests;

pub use config::{DEFAULT_JOB, DEFAULT_MAX_AGE, DEFAULT_MAX_SAMPLES_PER_REQUEST, DEFAULT_TIMEOUT, RemoteWriteConfig};
pub use encode::{Request, STALE_NAN_BITS};
pub use service::{CONTENT_ENCODING, CONTENT_TYPE, RemoteWrite, USER_AGENT, VERSION, VERSION_HEADER};
