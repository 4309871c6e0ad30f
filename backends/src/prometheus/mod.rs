//! Prometheus outputs' shared parts: naming, the families form, cumulative state with its
//! file, and the text, OpenMetrics and protobuf encoders. The Pushgateway, the scrape endpoint
//! and the textfile take the same naming and type translation (with the mapping rules); the
//! two that expose the whole current state share `Exposition`; the agent's own `/metrics`
//! writes through [`TextWriter`]. The Pushgateway and remote write get the agent's side from
//! [`Context`].

mod conflicts;
mod context;
mod cumulative;
mod defaults;
mod exposition;
mod families;
mod gauges;
pub mod mapping;
pub(crate) mod names;
pub(crate) mod proto;
mod protobuf;
#[cfg(test)]
pub(crate) mod tests;
mod text;
mod translate;

pub use context::Context;
pub use defaults::{DEFAULT_BUCKETS, DEFAULT_EXPIRE_AFTER};
pub use families::FamilyType;
pub use mapping::{MappingError, MappingRule, Mappings};
pub use text::{Number, TextWriter};

pub(crate) use conflicts::Conflicts;
pub(crate) use cumulative::State;
pub(crate) use defaults::{check_buckets, default_buckets, default_expire_after};
pub(crate) use exposition::{Exposition, HELP, Settings};
pub(crate) use families::{Families, Sample, whole};
pub use names::{counter_name, is_label_name, label_name, metric_name};
pub(crate) use protobuf::protobuf;
pub(crate) use text::{float, openmetrics, text, text_with_help};
pub(crate) use translate::Encoder;
pub use translate::tag_pair;
