//! Where samples come from.

pub mod host;
pub mod statsd;
