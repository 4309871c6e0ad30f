//! `type = "file"`: appends each window to a file as a JSON line, CSV rows or a Prometheus
//! text exposition, rotating it by size or age and expiring its archives.
//!
//! - `config.rs`: the keys and their checks.
//! - `encode.rs`: the JSON line and the Prometheus exposition of a window; `csv.rs`: its rows.
//! - `rotation.rs`: one append per window, rotation between windows, retention.
//! - `archive.rs`: archive names that sort by time, and finding them again.
//! - `service.rs`: the `Backend`.

mod archive;
mod config;
mod csv;
mod encode;
mod rotation;
mod service;
#[cfg(test)]
mod tests;

pub use config::{FileConfig, Format};
pub use encode::json_line;
pub use service::File;
