//! The host source: samples the machine from `/proc` and `statvfs` every `interval` and feeds
//! typed [`Sample`]s into the same windows as StatsD (listener label `host`): values, signs
//! and tags exactly as read, with no wire format in between.
//!
//! Each collector is one file with one signature, [`Collect`]: pure `parse_*` functions over
//! the text of a `/proc` file (unit-tested with fixture strings) and a `collect` function that
//! reads the file and writes gauges and counters to an [`Emitter`]. Kernel counters are
//! monotonic totals; the [`Emitter`] keeps the previous value of each and emits the delta.
//!
//! [`Sample`]: crate::aggregator::input::Sample

mod agent;
mod cpu;
mod disk;
mod diskio;
mod emit;
mod load;
mod memory;
mod net;
mod processes;
mod sampler;
mod spec;
mod uptime;

#[cfg(test)]
mod tests;

pub use emit::{Collect, Context, Emitter};
pub use sampler::{HostSource, LABEL, Sampler};
pub use spec::HostSpec;
// The file probe reports the free space of a file's file system as this source reads it.
pub(crate) use disk::statvfs;
