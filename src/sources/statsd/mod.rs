//! The StatsD/DogStatsD source: one parser for every dialect, and its listeners.

pub mod batch;
pub mod parser;
