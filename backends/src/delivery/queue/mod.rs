//! The buffer of one backend: a bounded queue of windows that never blocks the producer, in
//! memory or backed by a disk spool. The delivery task sees the same queue either way.

mod buffer;
mod spooler;
mod state;

pub use buffer::{Front, WindowQueue};
pub use state::DROP_LOG_INTERVAL;
