//! The server harnesses, shared with the `sluice` crate's tests rather than copied: each file
//! stands alone (it needs neither the agent harness nor the binary).

#[path = "../../../tests/common/datadog.rs"]
pub mod datadog;
#[path = "../../../tests/common/etsy.rs"]
pub mod etsy;
#[path = "../../../tests/common/influxdb.rs"]
pub mod influxdb;
#[path = "../../../tests/common/pushgateway.rs"]
pub mod pushgateway;
