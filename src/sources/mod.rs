//! Where samples come from.

pub mod statsd;
