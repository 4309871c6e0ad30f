//! The HTTP API: `/health`, `/ready`, `/status`, `/metrics`.

mod metrics;
mod routes;

pub use metrics::render;
pub use routes::{router, serve};
