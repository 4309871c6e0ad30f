//! The backends library driven directly, without the `sluice` binary: the Datadog, InfluxDB,
//! Pushgateway and StatsD backends against real servers and in-process ones, and the quantile sketch's
//! contract. One test binary, so `cargo test -p sluice-backends` runs them.

/// The server harnesses these tests use, shared with the `sluice` crate's tests.
#[allow(dead_code)]
mod common;

mod datadog;
mod fixtures;
mod influxdb;
mod pushgateway;
mod sketch;
mod statsd;
