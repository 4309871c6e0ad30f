//! `type = "influxdb"`: line protocol over HTTP to InfluxDB 1.x (`/write`) or 2.x
//! (`/api/v2/write`), gzip-compressed, in batches of at most 5000 lines.

mod config;
mod encode;
mod service;
#[cfg(test)]
mod tests;

pub use config::{Api, InfluxDbConfig, Precision};
pub use encode::{Encoding, Lines, encode};
pub use service::{InfluxDb, Payload};
