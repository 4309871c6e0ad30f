//! The host source: samples the machine from `/proc` and `statvfs` every `interval` and feeds
//! the samples into the same windows as StatsD, rendered as StatsD lines in a [`Batch`]
//! (listener label `host`).
//!
//! Each collector is one file with one signature, [`Collect`]: pure `parse_*` functions over
//! the text of a `/proc` file (unit-tested with fixture strings) and a `collect` function that
//! reads the file and writes gauges and counters to an [`Emitter`]. Kernel counters are
//! monotonic totals; the [`Emitter`] keeps the previous value of each and emits the delta.
//!
//! [`Batch`]: crate::aggregator::input::Batch

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
mod uptime;

#[cfg(test)]
mod tests;

pub use emit::{Collect, Context, Emitter};
pub use sampler::{HostSource, LABEL, Sampler};
