//! The agent through its binary: the HTTP API, the command line, ingestion over real sockets,
//! reloads, shutdown, `sluice status` and `sluice tap`, the host and OTLP sources, backpressure and
//! running under systemd. One test binary for the area, so the agent's tests link once.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod backpressure;
mod cli;
mod host;
mod ingest;
mod otlp;
mod reload;
mod scrape;
mod service;
mod shutdown;
mod status;
mod tap;
