//! Real servers end to end: StatsD lines into the `sluice` binary, exact totals read back from
//! Etsy StatsD, InfluxDB, Pushgateway, Prometheus, VictoriaMetrics, moto's CloudWatch and a Datadog
//! intake, and scraped by Prometheus and `node_exporter`; alerts through a real Alertmanager to a
//! webhook of the test's. One test binary for the area, so these tests link once.
//!
//! The backends' library-level tests against the same servers live in the `backends` crate
//! (`cargo test -p sluice-backends`); the files here also drive the binary.

#[path = "../common/mod.rs"]
mod common;

mod alerting;
mod cloudwatch;
mod dashboards;
mod datadog;
mod influxdb;
mod mapping;
mod otlp;
mod prometheus_exporter;
mod prometheus_remote_write;
mod pushgateway;
mod scrape;
mod statsd;
mod statsd_forward;
mod status_page;
mod textfile;
