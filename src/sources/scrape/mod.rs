//! The Prometheus scrape source (`[sources.scrape.NAME]`): every `interval`, each target's
//! `/metrics` read over HTTP (text format 0.0.4 or OpenMetrics, gzip accepted), its families
//! turned into the window's typed samples, and an `up` gauge per target.
//!
//! - [`parse`]: the two text formats, line by line.
//! - [`convert`]: families to samples, cumulative totals to per-window increases.

mod convert;
mod parse;

#[cfg(test)]
mod tests;

pub(crate) use convert::{Context, Converted, Skip, convert};
pub(crate) use parse::Format;
