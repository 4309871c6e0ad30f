//! The HTTP API: the status page at `/`, `/health`, `/ready`, `/status`, `/metrics`, `/tap`, behind `[api.auth]`'s
//! bearer tokens when it is set ([`auth`]), over HTTPS when `[api.tls]` is ([`tls`]).

pub mod auth;
mod metrics;
mod page;
mod routes;
mod tap;
pub mod tls;

pub use metrics::render;
pub use routes::{router, serve};
