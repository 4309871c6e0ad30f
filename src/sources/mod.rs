//! Where samples come from: each source in its own directory, every one named once in the
//! [`registry`]. Sources hand the aggregator [`crate::aggregator::input::Input`].

pub mod host;
pub mod internal;
pub mod otlp;
pub mod probe;
pub mod registry;
pub mod scrape;
pub mod statsd;
