//! `type = "cloudwatch"`: `PutMetricData` in the Query protocol, signed with SigV4, at most
//! 1000 datums and 1 MB per request.

mod config;
pub mod credentials;
mod encode;
mod service;
#[cfg(test)]
mod tests;
mod values;

pub use config::CloudWatchConfig;
pub use credentials::{Credentials, CredentialsError, Env, Provider, Source};
pub use encode::{
    BARE_TAG_VALUE, Datum, Encoding, HOST_DIMENSION, MAX_DATUMS_PER_REQUEST, MAX_DIMENSIONS, MAX_DISTINCT_VALUES,
    MAX_MAGNITUDE, MAX_REQUEST_BYTES, Measure, Options, Request, Unit, encode, form,
};
pub use service::{CloudWatch, Dropped, MAX_AGE, Payload, aws_error, classify};
