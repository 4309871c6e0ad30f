//! The StatsD/DogStatsD source: one parser for every dialect, its listeners, and the fast
//! path that folds parsed lines into the window on the aggregator's thread.

mod ingest;
pub mod kernel;
pub mod parser;
mod spec;
pub mod stream;
pub mod udp;
pub mod unix;

pub use spec::{StreamSpec, UdpSpec, UnixSpec};
