//! The fault matrix of the disk buffer, through the sluice binary: outages, crashes, a torn
//! spool, server errors, a full spool, an unwritable data directory, a disk that fills up and a
//! huge window.
//! Totals are read back from a real InfluxDB 1.6 or from an in-process write endpoint that
//! records arrival order (so order and duplicates are checked exactly). Windows are 1 s; the
//! outage row lasts two minutes and the other rows run beside it.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod crash;
mod outage;
mod server;
mod spool;
