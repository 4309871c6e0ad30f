//! `type = "statsd"`: forwards each window to an upstream StatsD or DogStatsD server over UDP,
//! a Unix datagram socket, TCP or a Unix stream, so that the upstream's totals equal what
//! sluice received.
//!
//! The exact mapping is in `docs/translation.md`; the timer sampling scheme and its error in
//! `samples.rs`; what "delivered" means per transport, pacing and reconnects in `transport/`.
//!
//! Why not the `cadence` crate: it is a client for applications. Its counters and sets take
//! integers (a window's counter sum is an `f64` once sample rates applied), it puts a sample
//! rate only on values it samples itself, it cannot write a rate chosen so that `1 / rate` is
//! exact, and its sinks report errors through a handler per metric instead of per datagram,
//! which is what retry and the telemetry need. What remains — writing `name:value|type` — is
//! a few lines here, so the backend encodes itself and does not depend on it.

mod config;
mod encode;
mod samples;
mod service;
#[cfg(test)]
mod tests;
mod transport;

pub use config::{StatsdSinkConfig, TagFormat, Target, Transport};
pub use encode::Batch;
pub use service::Statsd;
