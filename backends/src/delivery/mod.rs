//! Shared delivery: one bounded queue and one task per backend, so a slow or stuck backend
//! never blocks ingestion or the other backends.

mod config;
mod fanout;
mod queue;
mod stats;
mod task;
#[cfg(test)]
mod tests;

pub use config::{BufferConfig, BufferType};
pub use fanout::Fanout;
pub use queue::WindowQueue;
pub use stats::{BackendState, BackendStats, BackendStatus};
pub use task::{DeliveryHandle, spawn};
