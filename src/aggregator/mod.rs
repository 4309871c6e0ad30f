//! The aggregator: one task owning the window state, which is a pure struct, fed by the
//! sources through one [`input::Input`] channel.

pub mod input;
mod task;
pub mod window;

pub use task::{Aggregator, Control};
