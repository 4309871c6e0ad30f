//! The remote write 1.0 messages (`prometheus.WriteRequest`), generated at build time from the
//! vendored `proto/remote.proto` and `proto/types.proto`.
#![allow(missing_docs, dead_code, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
