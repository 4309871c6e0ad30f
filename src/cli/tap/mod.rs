//! `sluice tap`: every window the running agent flushes, as it flushes it.

mod command;
mod render;
#[cfg(test)]
mod tests;

pub use command::tap;
