//! The Prometheus data model (`io.prometheus.client`), generated at build time from the
//! vendored `proto/metrics.proto`.
#![allow(missing_docs, dead_code, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/io.prometheus.client.rs"));
