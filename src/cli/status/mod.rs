//! `sluice status`: the running agent's `/status`, summarised for a terminal or a script.

mod command;
mod report;
mod summary;
#[cfg(test)]
mod tests;

pub use command::status;
