//! `type = "pushgateway"`: pushes each window to a Prometheus Pushgateway as one group, with
//! cumulative counters and histograms kept across windows and restarts.

mod config;
mod encode;
mod proto;
mod service;
mod state;
#[cfg(test)]
mod tests;

pub use config::{DEFAULT_BUCKETS, DEFAULT_JOB, DEFAULT_TIMEOUT, Format, PushgatewayConfig};
pub use encode::{
    Encoder, Families, Family, FamilyType, Sample, counter_name, label_name, metric_name, protobuf, text,
};
pub use proto::MetricFamily;
pub use service::{Context, PROTOBUF_CONTENT_TYPE, Push, Pushgateway, TEXT_CONTENT_TYPE, group_url};
pub use state::{State, bucket_counts};
