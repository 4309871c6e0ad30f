//! The Prometheus scrape source (`[sources.scrape.NAME]`): every `interval`, each target's
//! metrics read over HTTP (text format 0.0.4 or OpenMetrics, gzip accepted), its families
//! turned into the window's typed samples, with an `up` gauge per target.
//!
//! - [`parse`]: the two text formats, line by line.
//! - [`convert`]: families to samples, cumulative totals to per-window increases.
//! - [`fetch`]: one read of a target and why it failed; [`run`]: the targets' tasks.
//! - [`spec`]: its place in the registry.

mod convert;
mod fetch;
mod parse;
mod run;
mod spec;

#[cfg(test)]
mod tests;

// Public for the benchmark and the fuzz target, which drive the parser and the conversion alone.
pub use convert::{Context, Converted, Skip, convert};
pub use fetch::FailReason;
pub use parse::Format;
pub use spec::{ScrapeSource, ScrapeSpec};
