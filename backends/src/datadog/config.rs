//! `[sinks.NAME]` with `type = "datadog"`.

use crate::secret::Secret;
use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::registry::BuildError;
use crate::units::{ByteSize, Duration};

/// Largest compressed body the metrics intake takes: 500 kilobytes
/// (<https://docs.datadoghq.com/api/latest/metrics/#submit-metrics>).
pub const MAX_COMPRESSED_BYTES: u64 = 512_000;
/// A decompressed body must be smaller than 5 megabytes, 5 242 880 bytes
/// (<https://docs.datadoghq.com/api/latest/metrics/#submit-metrics>); the largest allowed is
/// one byte less.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 5_242_880 - 1;
/// The smallest `max_uncompressed_bytes` accepted: below it one series may not fit.
pub const MIN_PAYLOAD_BYTES: u64 = 4096;
/// The Datadog site used without `site` or `endpoint`.
pub const DEFAULT_SITE: &str = "datadoghq.com";
/// Every Datadog site, as the `site` parameter of
/// <https://docs.datadoghq.com/getting_started/site/> names it; the API is `https://api.<site>`.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];

/// Sends every window to the Datadog API: series to `/api/v2/series`, distributions to
/// `/api/v1/distribution_points`, events to `/api/v1/events` and service checks to
/// `/api/v1/check_run`. The mapping is in `docs/translation.md`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatadogConfig {
    /// The API key, sent as `DD-API-KEY`; write `"${DD_API_KEY}"` to keep it out of the file.
    /// Required, unless `api_key_file` is set.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// A file holding the API key (trailing newline ignored), read at startup. Defaults to
    /// none; set either this or `api_key`.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// The Datadog site of the account (one of [`SITES`]); requests go to `https://api.<site>`.
    /// Defaults to `"datadoghq.com"` (US1).
    #[serde(default)]
    pub site: Option<String>,
    /// A base URL that replaces the site's, such as `"http://127.0.0.1:8080"` (a proxy or a
    /// test intake); a path is kept as a prefix. Defaults to none; not together with `site`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `"zstd"` (level 1), `"gzip"` or `"deflate"` (zlib), sent as `Content-Encoding`.
    /// Defaults to `"zstd"`.
    #[serde(default)]
    pub compression: Compression,
    /// The suffixes sent for each timer and histogram, as the DogStatsD agent's
    /// `histogram_aggregates`: `"max"`, `"min"`, `"median"`, `"avg"`, `"sum"`, `"count"`.
    /// Defaults to `["max", "median", "avg", "count"]`.
    #[serde(default = "default_aggregates")]
    pub histogram_aggregates: Vec<Aggregate>,
    /// Percentiles sent for each timer and histogram as `.<N>percentile`, whole numbers from
    /// 1 to 100, as the DogStatsD agent's `histogram_percentiles`. Defaults to `[95]`.
    #[serde(default = "default_percentiles")]
    pub histogram_percentiles: Vec<u32>,
    /// The type of `.count`: `"rate"` (samples per second, as the DogStatsD agent sends it) or
    /// `"count"` (samples in the window). Defaults to `"rate"`.
    #[serde(default)]
    pub histogram_count_type: CountType,
    /// Largest compressed request body; at most 512 000 (the API's limit). Defaults to
    /// `512000`.
    #[serde(default = "default_max_compressed")]
    pub max_compressed_bytes: ByteSize,
    /// Largest uncompressed request body; at most 5 242 879 (the API takes less than
    /// 5 242 880). Defaults to `5242879`.
    #[serde(default = "default_max_uncompressed")]
    pub max_uncompressed_bytes: ByteSize,
    /// Longest wait for one request, from connecting to the answer. Defaults to `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How windows wait while Datadog is unreachable. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed requests are retried. Defaults to backoff from 1s up to 60s, without limit;
    /// windows older than an hour are dropped anyway (the API refuses their points).
    #[serde(default)]
    pub retry: RetryConfig,
}

/// How request bodies are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Zstandard, level 1 (what the Datadog agent uses). The default.
    #[default]
    Zstd,
    /// gzip, level 6.
    Gzip,
    /// zlib (`Content-Encoding: deflate`), level 6.
    Deflate,
}

impl Compression {
    /// The `Content-Encoding` header value.
    pub fn header(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }
}

/// One DogStatsD histogram aggregate, sent as `<name>.<aggregate>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The largest sample.
    Max,
    /// The smallest sample.
    Min,
    /// The 50th percentile.
    Median,
    /// The weighted mean.
    Avg,
    /// The weighted sum.
    Sum,
    /// The weighted number of samples, as [`CountType`] says.
    Count,
}

impl Aggregate {
    /// The suffix without its dot.
    pub fn name(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Min => "min",
            Self::Median => "median",
            Self::Avg => "avg",
            Self::Sum => "sum",
            Self::Count => "count",
        }
    }
}

/// The type `.count` is sent as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountType {
    /// Rate (2): count ÷ window seconds, with `interval`. The DogStatsD agent's behaviour.
    #[default]
    Rate,
    /// Count (1): the window's count, with `interval`.
    Count,
}

fn default_aggregates() -> Vec<Aggregate> {
    vec![Aggregate::Max, Aggregate::Median, Aggregate::Avg, Aggregate::Count]
}

fn default_percentiles() -> Vec<u32> {
    vec![95]
}

fn default_max_compressed() -> ByteSize {
    ByteSize(MAX_COMPRESSED_BYTES)
}

fn default_max_uncompressed() -> ByteSize {
    ByteSize(MAX_UNCOMPRESSED_BYTES)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl DatadogConfig {
    /// Checks the values serde cannot: returns the offending key and what to write instead.
    /// The key file is read later, when the backend is built.
    pub fn validate(&self) -> Result<(), BuildError> {
        match (&self.api_key, &self.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(BuildError::at("api_key_file", "set `api_key` or `api_key_file`, not both".to_owned()));
            }
            (None, None) => {
                return Err(BuildError::at(
                    "api_key",
                    "missing: set `api_key = \"${DD_API_KEY}\"` or `api_key_file`".to_owned(),
                ));
            }
            (Some(key), None) if key.is_blank() => {
                return Err(BuildError::at("api_key", "must not be empty".to_owned()));
            }
            _ => {}
        }
        if let Some(site) = &self.site {
            if self.endpoint.is_some() {
                return Err(BuildError::at("endpoint", "set `site` or `endpoint`, not both".to_owned()));
            }
            if !SITES.contains(&site.as_str()) {
                let closest = SITES.iter().min_by_key(|s| edit_distance(s, site)).copied().unwrap_or(DEFAULT_SITE);
                return Err(BuildError::at(
                    "site",
                    format!("{site:?} is not a Datadog site; did you mean {closest:?}? Sites: {}", SITES.join(", ")),
                ));
            }
        }
        if let Some(endpoint) = &self.endpoint {
            match reqwest::Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                Ok(_) => {
                    return Err(BuildError::at(
                        "endpoint",
                        "must be an http:// or https:// URL with a host".to_owned(),
                    ));
                }
                Err(e) => {
                    return Err(BuildError::at(
                        "endpoint",
                        format!("not a URL ({e}); write it like \"http://127.0.0.1:8080\""),
                    ));
                }
            }
        }
        if self.histogram_percentiles.iter().any(|p| !(1..=100).contains(p)) {
            return Err(BuildError::at(
                "histogram_percentiles",
                "each must be a whole number from 1 to 100".to_owned(),
            ));
        }
        if !(1..=MAX_COMPRESSED_BYTES).contains(&self.max_compressed_bytes.0) {
            return Err(BuildError::at(
                "max_compressed_bytes",
                format!("must be from 1 to {MAX_COMPRESSED_BYTES} (the API's limit)"),
            ));
        }
        if !(MIN_PAYLOAD_BYTES..=MAX_UNCOMPRESSED_BYTES).contains(&self.max_uncompressed_bytes.0) {
            return Err(BuildError::at(
                "max_uncompressed_bytes",
                format!(
                    "must be from {MIN_PAYLOAD_BYTES} to {MAX_UNCOMPRESSED_BYTES} (the API takes less than 5242880)"
                ),
            ));
        }
        if self.timeout.0.is_zero() {
            return Err(BuildError::at("timeout", "must be longer than zero".to_owned()));
        }
        Ok(())
    }

    /// The base URL requests go to: `endpoint`, else `https://api.<site>`.
    pub fn base_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_owned(),
            None => format!("https://api.{}", self.site.as_deref().unwrap_or(DEFAULT_SITE)),
        }
    }
}

/// Levenshtein distance, for the "did you mean" of an unknown site.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
