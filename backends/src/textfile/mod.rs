//! `type = "textfile"`: writes each window's Prometheus text to a file for `node_exporter`'s
//! textfile collector, counters and histograms cumulative across windows and restarts.
//!
//! Naming, translation, state and the text writer are [`crate::prometheus`]'s; this module
//! keeps the atomic replacement of the file.

mod config;
mod service;
#[cfg(test)]
mod tests;

pub use config::TextfileConfig;
pub use service::{Textfile, TextfileWriter};
