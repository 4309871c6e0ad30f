//! `type = "file"`: appends each window as one JSON line to a file.

mod config;
mod encode;
mod service;
#[cfg(test)]
mod tests;

pub use config::FileConfig;
pub use encode::json_line;
pub use service::File;
