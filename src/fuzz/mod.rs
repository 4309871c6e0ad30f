//! Entry points for the fuzz targets in `fuzz/`, and the replay of their corpus under a plain
//! `cargo test`: each takes arbitrary bytes, feeds them to a part that reads untrusted input
//! and checks what that part promises; none may panic except on a broken promise.
//!
//! Not part of the agent's API: the fuzz crate is a separate package and needs a public path.

mod config;
mod otlp;
mod scrape;
mod statsd;
#[cfg(test)]
mod tests;

pub use config::config_text;
pub use otlp::{otlp_json, otlp_protobuf};
pub use scrape::scrape_text;
pub use statsd::statsd_datagram;
