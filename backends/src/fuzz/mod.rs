//! Entry points for the spool fuzz targets in `fuzz/`, and the replay of their corpus under a
//! plain `cargo test`. Not part of the crate's API: the fuzz crate is a separate package and
//! needs a public path.

mod spool;
#[cfg(test)]
mod tests;
mod window;

pub use spool::{spool_decode, spool_round_trip};
