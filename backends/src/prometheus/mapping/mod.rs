//! `statsd_exporter`-style mapping rules (`[[mappings]]`): a StatsD name (and kind) matched by a
//! glob or a regex becomes a chosen Prometheus name and labels, is dropped, or gets its own
//! histogram buckets, summary quantiles or expiry. Every Prometheus output applies them inside
//! its `Encoder`, in the sink's task, never on the ingest path.

mod cache;
mod config;
mod rules;
mod template;
#[cfg(test)]
mod tests;

pub use config::{Action, MappingRule, MatchType, MetricType};
pub use rules::{Exported, MappingError, Mappings};

pub(crate) use cache::Cache;
pub(crate) use rules::{Mapped, Observer};
