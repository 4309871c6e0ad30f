//! `type = "datadog"`: series as v2 `/api/v2/series` JSON, distributions as
//! `/api/v1/distribution_points`, events and service checks, compressed with zstd, gzip or
//! deflate, split to the API's payload limits.

mod config;
mod encode;
mod service;
#[cfg(test)]
mod tests;

pub use config::{
    Aggregate, Compression, CountType, DEFAULT_SITE, DatadogConfig, MAX_COMPRESSED_BYTES, MAX_UNCOMPRESSED_BYTES, SITES,
};
pub use encode::{Settings, encode};
pub use service::{Datadog, Payload, compress};
