//! The aggregator: one task owning the window state, which is a pure struct.

mod task;
pub mod window;

pub use task::{Aggregator, Control, Retire};
