//! Health probes of the services sluice sits beside (`[sources.probe.NAME]`): each runs every
//! `interval` within its `timeout`, and its result becomes `probe.*` series tagged
//! `probe:NAME` and `probe_type:TYPE`, so rules, backends and dashboards see it like any
//! other; the critical ones decide `GET /checks`.
//!
//! - [`http`], [`tcp`], [`file`]: one check each, returning an [`Outcome`].
//! - [`outcome`]: what a run found, and the samples it becomes.
//! - [`spec`]: its place in the registry, and the task that runs it.

mod file;
mod http;
mod outcome;
mod spec;
mod tcp;

#[cfg(test)]
mod tests;

pub use outcome::Outcome;
pub use spec::{ProbeSource, ProbeSpec};
