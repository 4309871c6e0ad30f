//! Prometheus outputs' shared parts: naming, the families form, cumulative state with its
//! file, and the text and protobuf encoders. The Pushgateway uses them now, the agent's own
//! `/metrics` writes through [`TextWriter`], and every further Prometheus output (remote
//! write, a scrape endpoint, a textfile) takes the same naming and type translation.

mod cumulative;
mod families;
pub mod mapping;
pub(crate) mod names;
pub(crate) mod proto;
mod protobuf;
#[cfg(test)]
pub(crate) mod tests;
mod text;
mod translate;

pub use families::FamilyType;
pub use mapping::{MappingError, MappingRule, Mappings};
pub use text::{Number, TextWriter};

pub(crate) use cumulative::State;
pub(crate) use families::{Families, Sample, whole};
pub(crate) use names::is_label_name;
pub(crate) use protobuf::protobuf;
pub(crate) use text::{float, text};
pub(crate) use translate::Encoder;
