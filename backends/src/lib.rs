//! The backends of sluice: the flushed-window model every backend reads, the [`Backend`]
//! trait, the shared delivery machinery and one module per backend.
//!
//! # Layout
//!
//! - [`model`]: [`Window`], [`Series`], [`SeriesKey`], [`Value`] — what a flush hands over.
//! - [`sketch`]: the mergeable quantile sketch carried by timers and distributions.
//! - [`backend`]: the [`Backend`] trait and its typed [`SendError`].
//! - [`delivery`]: one bounded queue and one task per backend, and their telemetry.
//! - [`units`]: human-readable durations and sizes for backend configs.
//! - [`registry`]: [`SinkConfig`], every backend named once, and the one [`BuildError`].
//! - [`secret`]: [`Secret`], a credential that is never printed.
//! - [`console`], [`file`](mod@file): the local backends.
//! - [`prometheus`]: naming, families, cumulative state and encoders of every Prometheus output.
//! - [`pushgateway`]: the Prometheus Pushgateway.
//! - [`remote_write`]: Prometheus remote write 1.0 (Prometheus, Mimir, VictoriaMetrics, …).
//! - [`prometheus_exporter`]: a scrape endpoint of its own for Prometheus (text and OpenMetrics).
//! - [`textfile`]: a file for `node_exporter`'s textfile collector.
//! - [`influxdb`]: InfluxDB 1.x and 2.x line protocol over HTTP.
//! - [`statsd`]: forwarding to an upstream StatsD or DogStatsD server.
//! - [`cloudwatch`]: Amazon CloudWatch `PutMetricData`, signed with SigV4.
//! - [`datadog`]: the Datadog API (series, distributions, events, service checks).
//!
//! This crate never sees sources, the CLI or the config loader: backends only ever see
//! flushed windows.
#![warn(missing_docs)]

pub mod backend;
pub mod cloudwatch;
pub mod console;
pub mod datadog;
pub mod delivery;
pub mod file;
#[doc(hidden)]
pub mod fuzz;
pub mod influxdb;
pub mod model;
pub mod prometheus;
pub mod prometheus_exporter;
pub mod pushgateway;
pub mod registry;
pub mod remote_write;
pub mod secret;
pub mod sketch;
pub mod statsd;
pub mod textfile;
pub mod units;

pub use backend::{Backend, Encoded, Halves, SendError};
pub use model::{Buckets, Event, Series, SeriesKey, ServiceCheck, Summary, SummaryKind, Value, Window};
pub use registry::{BuildContext, BuildError, SinkConfig};
pub use secret::Secret;
pub use sketch::Sketch;
