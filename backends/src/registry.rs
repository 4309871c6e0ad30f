//! The sink registry: every backend named once. A `[sinks.NAME]` table's `type` chooses a
//! variant of [`SinkConfig`]; the variant's config validates itself and builds its backend
//! into a running delivery task. The agent's config, validation and topology name no backend:
//! adding one is its directory, a line in each match below, and its docs.

use std::cell::OnceCell;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use crate::cloudwatch::{self, CloudWatchConfig};
use crate::console::{Console, ConsoleConfig};
use crate::datadog::{Datadog, DatadogConfig};
use crate::delivery::http::{self, Client};
use crate::delivery::{self, BufferConfig, DeliveryHandle, Handover, RetryConfig};
use crate::file::{File, FileConfig};
use crate::influxdb::{InfluxDb, InfluxDbConfig};
use crate::prometheus::Mappings;
use crate::prometheus_exporter::{PrometheusExporter, PrometheusExporterConfig};
use crate::pushgateway::{Pushgateway, PushgatewayConfig};
use crate::remote_write::{RemoteWrite, RemoteWriteConfig};
use crate::statsd::{Statsd, StatsdSinkConfig};
use crate::textfile::{TextfileConfig, TextfileWriter};

/// `[sinks.NAME]`: one backend, chosen by `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// Prints each window to standard output.
    Console(ConsoleConfig),
    /// Appends each window to a file as JSON lines, CSV rows or Prometheus text, rotated and
    /// expired as configured.
    File(FileConfig),
    /// Pushes each window to a Prometheus Pushgateway, counters and histograms cumulative.
    Pushgateway(Box<PushgatewayConfig>),
    /// Writes each window to a Prometheus remote write 1.0 receiver, counters and histograms
    /// cumulative.
    PrometheusRemoteWrite(Box<RemoteWriteConfig>),
    /// Writes each window to InfluxDB 1.x or 2.x as line protocol.
    Influxdb(InfluxDbConfig),
    /// Forwards each window to an upstream StatsD or DogStatsD server.
    Statsd(StatsdSinkConfig),
    /// Puts each window into Amazon CloudWatch with `PutMetricData`.
    Cloudwatch(CloudWatchConfig),
    /// Sends each window to the Datadog API.
    Datadog(Box<DatadogConfig>),
    /// Serves the aggregated series at `GET /metrics` of its own listener for Prometheus.
    PrometheusExporter(PrometheusExporterConfig),
    /// Writes each window's Prometheus text to a file for `node_exporter`'s textfile collector.
    Textfile(TextfileConfig),
}

/// Why a sink cannot be built: the key of `[sinks.NAME]` to fix, when one is to blame, and
/// what is wrong. Every backend reports this one shape; the config validation shows it with
/// the key's line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .key { Some(key) => format!("invalid value for key {key:?}: {}", .message), None => .message.clone() })]
pub struct BuildError {
    /// The key to fix; `None` when the problem is not one key's (a missing key, a file).
    pub key: Option<&'static str>,
    /// What is wrong and what to change.
    pub message: String,
}

impl BuildError {
    /// A problem with the value of `key`.
    pub fn at(key: &'static str, message: impl Into<String>) -> Self {
        Self { key: Some(key), message: message.into() }
    }

    /// A problem that is not one key's.
    pub fn new(message: impl Into<String>) -> Self {
        Self { key: None, message: message.into() }
    }
}

/// What building a sink may use from the agent. Network backends share one HTTP client,
/// built at the first that needs it.
#[derive(Debug)]
pub struct BuildContext<'a> {
    /// `[agent] data_dir`: the spool and the cumulative state live under it.
    pub data_dir: &'a Path,
    /// `[agent] hostname` or the machine's.
    pub hostname: &'a str,
    /// `[[mappings]]`, compiled: every Prometheus output applies them.
    pub mappings: Arc<Mappings>,
    client: OnceCell<Client>,
}

impl<'a> BuildContext<'a> {
    /// A context for sinks of an agent with this `data_dir` and `hostname`, and no mapping
    /// rules.
    pub fn new(data_dir: &'a Path, hostname: &'a str) -> Self {
        Self { data_dir, hostname, mappings: Arc::new(Mappings::none()), client: OnceCell::new() }
    }

    /// This context with the agent's compiled `[[mappings]]`.
    #[must_use]
    pub fn with_mappings(mut self, mappings: Arc<Mappings>) -> Self {
        self.mappings = mappings;
        self
    }

    /// What a Prometheus output that keeps cumulative state needs: the shared client, the
    /// data directory, the hostname and the mapping rules.
    pub fn prometheus(&self) -> Result<crate::prometheus::Context, BuildError> {
        Ok(crate::prometheus::Context {
            client: self.client()?,
            data_dir: self.data_dir.to_owned(),
            hostname: self.hostname.to_owned(),
            mappings: self.mappings.clone(),
        })
    }

    fn client(&self) -> Result<Client, BuildError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let client = http::client().map_err(|e| BuildError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client).clone())
    }
}

impl SinkConfig {
    /// Every valid `type` of a `[sinks.NAME]` table, as shown to the operator.
    pub const TYPES: &'static [&'static str] = &[
        "console",
        "file",
        "pushgateway",
        "prometheus_remote_write",
        "prometheus_exporter",
        "textfile",
        "influxdb",
        "statsd",
        "cloudwatch",
        "datadog",
    ];

    /// Deserializes the body of a `[sinks.NAME]` table, without its `type` key, as a sink of
    /// type `kind`; `None` when `kind` is not one of [`SinkConfig::TYPES`].
    ///
    /// The loader uses this instead of the derived, internally tagged `Deserialize`: serde
    /// buffers an internally tagged table before choosing the variant, which loses the
    /// position of every error inside it.
    pub fn from_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Option<Result<Self, D::Error>> {
        Some(match kind {
            "console" => ConsoleConfig::deserialize(body).map(Self::Console),
            "file" => FileConfig::deserialize(body).map(Self::File),
            "pushgateway" => PushgatewayConfig::deserialize(body).map(|c| Self::Pushgateway(Box::new(c))),
            "prometheus_remote_write" => {
                RemoteWriteConfig::deserialize(body).map(|c| Self::PrometheusRemoteWrite(Box::new(c)))
            }
            "influxdb" => InfluxDbConfig::deserialize(body).map(Self::Influxdb),
            "statsd" => StatsdSinkConfig::deserialize(body).map(Self::Statsd),
            "cloudwatch" => CloudWatchConfig::deserialize(body).map(Self::Cloudwatch),
            "datadog" => DatadogConfig::deserialize(body).map(|c| Self::Datadog(Box::new(c))),
            "prometheus_exporter" => PrometheusExporterConfig::deserialize(body).map(Self::PrometheusExporter),
            "textfile" => TextfileConfig::deserialize(body).map(Self::Textfile),
            _ => return None,
        })
    }

    /// The `type` this sink is written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Console(_) => "console",
            Self::File(_) => "file",
            Self::Pushgateway(_) => "pushgateway",
            Self::PrometheusRemoteWrite(_) => "prometheus_remote_write",
            Self::Influxdb(_) => "influxdb",
            Self::Statsd(_) => "statsd",
            Self::Cloudwatch(_) => "cloudwatch",
            Self::Datadog(_) => "datadog",
            Self::PrometheusExporter(_) => "prometheus_exporter",
            Self::Textfile(_) => "textfile",
        }
    }

    /// How windows wait for this sink while it cannot take them.
    pub fn buffer(&self) -> &BufferConfig {
        match self {
            Self::Console(c) => &c.buffer,
            Self::File(c) => &c.buffer,
            Self::Pushgateway(c) => &c.buffer,
            Self::PrometheusRemoteWrite(c) => &c.buffer,
            Self::Influxdb(c) => &c.buffer,
            Self::Statsd(c) => &c.buffer,
            Self::Cloudwatch(c) => &c.buffer,
            Self::Datadog(c) => &c.buffer,
            Self::PrometheusExporter(c) => &c.buffer,
            Self::Textfile(c) => &c.buffer,
        }
    }

    /// How this sink retries a failed delivery.
    pub fn retry(&self) -> &RetryConfig {
        match self {
            Self::Console(c) => &c.retry,
            Self::File(c) => &c.retry,
            Self::Pushgateway(c) => &c.retry,
            Self::PrometheusRemoteWrite(c) => &c.retry,
            Self::Influxdb(c) => &c.retry,
            Self::Statsd(c) => &c.retry,
            Self::Cloudwatch(c) => &c.retry,
            Self::Datadog(c) => &c.retry,
            Self::PrometheusExporter(c) => &c.retry,
            Self::Textfile(c) => &c.retry,
        }
    }

    /// Checks the sink's own keys without touching the network or the disk; the first
    /// problem names its key.
    pub fn validate(&self) -> Result<(), BuildError> {
        match self {
            Self::Console(_) => Ok(()),
            Self::File(c) => c.validate(),
            Self::Pushgateway(c) => c.validate(),
            Self::PrometheusRemoteWrite(c) => c.validate(),
            Self::Influxdb(c) => c.api().map(drop),
            Self::Statsd(c) => c.check(),
            Self::Cloudwatch(c) => c.check(),
            Self::Datadog(c) => c.validate(),
            Self::PrometheusExporter(c) => c.validate(),
            Self::Textfile(c) => c.validate(),
        }
    }

    /// True when the backend reads the agent's `hostname` or `data_dir`, so a reload that
    /// changes them rebuilds it (the Pushgateway's grouping key and state file, remote
    /// write's `instance` label and state file, the scrape endpoint's and the textfile's
    /// state files, the file sink's in the Prometheus format).
    pub fn reads_identity(&self) -> bool {
        matches!(
            self,
            Self::Pushgateway(_) | Self::PrometheusRemoteWrite(_) | Self::PrometheusExporter(_) | Self::Textfile(_)
        ) || matches!(self, Self::File(c) if c.format == crate::file::Format::Prometheus)
    }

    /// True when the backend applies the agent's `[[mappings]]` (every Prometheus output), so
    /// a reload that changes the rules rebuilds it.
    pub fn reads_mappings(&self) -> bool {
        matches!(
            self,
            Self::Pushgateway(_) | Self::PrometheusRemoteWrite(_) | Self::PrometheusExporter(_) | Self::Textfile(_)
        ) || matches!(self, Self::File(c) if c.format == crate::file::Format::Prometheus)
    }

    /// The TCP address the backend listens on itself (the scrape endpoint's `listen`), so the
    /// config can refuse two sinks, or a sink and the API, on one address.
    pub fn listens_on(&self) -> Option<std::net::SocketAddr> {
        match self {
            Self::PrometheusExporter(c) => Some(c.listen),
            _ => None,
        }
    }

    /// Builds the backend of sink `name` and starts its delivery task; with `after`, the
    /// backend starts once the sink it replaces has stopped.
    pub fn spawn(
        &self,
        name: &str,
        context: &BuildContext,
        after: Option<Handover>,
    ) -> Result<DeliveryHandle, BuildError> {
        let at = delivery::Sink { name, data_dir: context.data_dir, buffer: self.buffer(), retry: self.retry(), after };
        Ok(match self {
            Self::Console(_) => delivery::spawn_at(at, Console::new()),
            Self::File(c) => delivery::spawn_at(at, File::new(name, c, context.data_dir, context.mappings.clone())?),
            Self::Pushgateway(c) => {
                let agent = context.prometheus()?;
                delivery::spawn_at(at, Pushgateway::new(name, c, agent)?)
            }
            Self::PrometheusRemoteWrite(c) => {
                let agent = context.prometheus()?;
                delivery::spawn_at(at, RemoteWrite::new(name, c, agent)?)
            }
            Self::Influxdb(c) => delivery::spawn_at(at, InfluxDb::new(c, context.client()?)?),
            Self::Statsd(c) => delivery::spawn_at(at, Statsd::new(c)?),
            Self::Cloudwatch(c) => {
                let env = cloudwatch::Env::process();
                let backend = cloudwatch::CloudWatch::new(c, context.client()?, &env)?;
                // Say where the keys come from, never the keys.
                tracing::info!(sink = %name, credentials = %backend.credentials_source(), "CloudWatch credentials found.");
                delivery::spawn_at(at, backend)
            }
            Self::Datadog(c) => delivery::spawn_at(at, Datadog::new(c, context.client()?)?),
            Self::PrometheusExporter(c) => {
                let backend = PrometheusExporter::new(name, c, context.data_dir, context.mappings.clone())?;
                delivery::spawn_at(at, backend)
            }
            Self::Textfile(c) => {
                delivery::spawn_at(at, TextfileWriter::new(name, c, context.data_dir, context.mappings.clone())?)
            }
        })
    }
}
