//! sluice's own telemetry as a source (`[sources.internal]`): every `interval`, each family of
//! `/metrics` becomes window series named `sluice.*`, so the agent's health reaches every
//! backend the operator already reads, without a second pipeline.
//!
//! - [`readings`]: one reading of the telemetry into samples, counters as increases.
//! - [`spec`]: its place in the registry, and the task that reads on a timer.

mod readings;
mod spec;

#[cfg(test)]
mod tests;

pub use readings::{Readings, series_name};
pub use spec::{InternalSource, InternalSpec};
