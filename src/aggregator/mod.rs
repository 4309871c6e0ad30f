//! The aggregator: one task owning the window state.

pub mod window;
