//! Shared delivery: one bounded queue and one task per backend, so a slow or stuck backend
//! never blocks ingestion or the other backends; retry with capped exponential backoff and
//! full jitter; the shared HTTP client.

mod backoff;
mod config;
mod fanout;
pub mod http;
mod queue;
mod stats;
mod task;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use config::{BufferConfig, BufferType, RetryConfig};
pub use fanout::Fanout;
pub use queue::WindowQueue;
pub use stats::{BackendState, BackendStats, BackendStatus};
pub use task::{DeliveryHandle, spawn};
