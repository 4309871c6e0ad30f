//! `type = "console"`: prints each window to standard output, human readable.

mod config;
mod encode;
mod service;
#[cfg(test)]
mod tests;

pub use config::ConsoleConfig;
pub use encode::encode;
pub(crate) use service::Console;
