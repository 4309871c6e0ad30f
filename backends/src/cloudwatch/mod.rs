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
pub(crate) use credentials::Env;
pub use credentials::{Credentials, Source};
pub use encode::{Encoding, Request, Unit, encode, form};
pub(crate) use service::aws_error;
pub use service::{CloudWatch, Dropped, Payload};
