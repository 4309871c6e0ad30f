//! The agent through its binary: the HTTP API, the command line, ingestion over real sockets,
//! reloads, shutdown, `sluice status` and `sluice tap`, the host, OTLP and internal sources, backpressure and
//! running under systemd. One test binary for the area, so the agent's tests link once.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod api_tls;
mod auth;
mod backpressure;
mod cli;
mod export;
mod host;
mod ingest;
mod internal;
mod otlp;
mod probe;
mod reload;
mod rules;
mod scrape;
mod service;
mod shutdown;
mod status;
mod tap;
