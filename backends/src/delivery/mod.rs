//! Shared delivery: one bounded queue and one task per backend, so a slow or stuck backend
//! never blocks ingestion or the other backends; retry with capped exponential backoff and
//! full jitter; the disk spool; the shared HTTP client and the sinks' HTTP authentication.

mod auth;
mod backoff;
mod config;
mod fanout;
mod handover;
pub mod http;
mod queue;
pub mod spool;
mod stats;
mod task;
#[cfg(test)]
mod tests;

pub use auth::{Credentials, HttpAuth};
pub use backoff::Backoff;
pub use config::{BufferConfig, BufferType, Fsync, RetryConfig, WhenFull};
pub use fanout::{Change, Fanout, FanoutControl, Stopped, WindowSender};
pub use handover::{Handover, Predecessor};
pub use queue::DROP_LOG_INTERVAL;
pub use spool::Position;
pub use stats::{BackendState, BackendStats, BackendStatus, BufferMode, Replay};
pub use task::{DeliveryHandle, spawn};
pub(crate) use task::{Sink, spawn_at};
