//! The StatsD/DogStatsD source: one parser for every dialect, and its listeners.

pub mod batch;
pub mod kernel;
pub mod parser;
pub mod stream;
pub mod udp;
pub mod unix;
