//! The HTTP API: `/health`, `/ready`, `/status`, `/metrics`, `/tap`.

mod metrics;
mod routes;
mod tap;

pub use metrics::render;
pub use routes::{router, serve};
