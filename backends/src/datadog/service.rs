//! The Datadog backend's task side: normalize → encode → batch to the payload limits →
//! compress once in `encode`, then send → classify in `send`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::{Client, header};

use super::config::{Compression, DatadogConfig};
use super::encode::{Encoding, Endpoint, Fragment, Settings, encode, timestamp};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::delivery::http::{Refusal, execute};
use crate::model::Window;
use crate::registry::BuildError;
use crate::secret::Secret;

/// Oldest point the API stores: one hour
/// (<https://docs.datadoghq.com/api/latest/metrics/#submit-metrics>).
pub const MAX_POINT_AGE: Duration = Duration::from_hours(1);
/// Furthest a point may lie in the future: ten minutes
/// (<https://docs.datadoghq.com/api/latest/metrics/#submit-metrics>).
pub const MAX_POINT_AHEAD: Duration = Duration::from_mins(10);
/// zstd level: 1, as the Datadog agent compresses.
const ZSTD_LEVEL: i32 = 1;
/// The API key header.
pub const API_KEY_HEADER: &str = "DD-API-KEY";
/// Datadog's own rate-limit header: seconds until the limit resets.
pub const RATE_LIMIT_RESET_HEADER: &str = "X-RateLimit-Reset";

/// One request: its endpoint, the fragments it carries (kept to split it on 413), the JSON
/// and the compressed body. Reference-counted, so a retry sends the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Where it goes.
    pub endpoint: Endpoint,
    /// The objects of the body, in order.
    pub fragments: Arc<[Fragment]>,
    /// The uncompressed body.
    pub json: Bytes,
    /// What goes on the wire.
    pub body: Bytes,
    /// The points' timestamp (Unix seconds) for series and distributions, checked again at
    /// each send: a batch retried for an hour is refused by the API anyway.
    pub timestamp: Option<i64>,
    /// True for a half of a batch refused with 413: it is not split again.
    pub split: bool,
}

/// Sends windows to the Datadog API.
#[derive(Debug)]
pub struct Datadog {
    client: Client,
    base_url: String,
    api_key: Secret,
    compression: Compression,
    settings: Settings,
    max_compressed: usize,
    max_uncompressed: usize,
    timeout: Duration,
}

impl Datadog {
    /// A backend for `config`, sending with the agent's shared `client`; reads `api_key_file`.
    pub fn new(config: &DatadogConfig, client: Client) -> Result<Self, BuildError> {
        config.validate()?;
        let api_key = match (&config.api_key, &config.api_key_file) {
            (Some(key), _) => Secret::new(key.expose().trim()),
            (None, Some(path)) => Secret::from_file(path)
                .map(|key| Secret::new(key.expose().trim()))
                .map_err(|e| BuildError::new(format!("cannot read api_key_file {}: {e}", path.display())))?,
            (None, None) => Secret::default(),
        };
        if api_key.is_blank() {
            return Err(BuildError::at("api_key_file", "the file holds no key"));
        }
        Ok(Self {
            client,
            base_url: config.base_url(),
            api_key,
            compression: config.compression,
            settings: Settings {
                aggregates: config.histogram_aggregates.clone(),
                percentiles: config.histogram_percentiles.clone(),
                count_type: config.histogram_count_type,
            },
            max_compressed: usize::try_from(config.max_compressed_bytes.0).unwrap_or(usize::MAX),
            max_uncompressed: usize::try_from(config.max_uncompressed_bytes.0).unwrap_or(usize::MAX),
            timeout: config.timeout.0,
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Builds one request from `fragments`: envelope, JSON, compression.
    fn payload(&self, endpoint: Endpoint, fragments: Vec<Fragment>, ts: Option<i64>, split: bool) -> Payload {
        let (prefix, suffix) = endpoint.envelope();
        let mut json = Vec::with_capacity(json_len(endpoint, &fragments));
        json.extend_from_slice(prefix);
        for (i, f) in fragments.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(&f.json);
        }
        json.extend_from_slice(suffix);
        let body = compress(self.compression, &json);
        Payload {
            endpoint,
            fragments: fragments.into(),
            json: Bytes::from(json),
            body: Bytes::from(body),
            timestamp: ts,
            split,
        }
    }

    /// Packs `fragments` into requests within both limits: greedily up to the uncompressed
    /// limit, then halving any request whose compressed body is still too large.
    fn pack(&self, endpoint: Endpoint, fragments: Vec<Fragment>, ts: Option<i64>, out: &mut Vec<Encoded<Payload>>) {
        if !endpoint.batches() {
            for f in fragments {
                self.fit(endpoint, vec![f], ts, out);
            }
            return;
        }
        let (prefix, suffix) = endpoint.envelope();
        let envelope = prefix.len() + suffix.len();
        // `len` is `json_len` of `group`, kept as it grows: summing the group at every push
        // made a window of 100 000 series quadratic (1.3 s of CPU).
        let (mut group, mut len) = (Vec::new(), envelope);
        for f in fragments {
            if !group.is_empty() && len + 1 + f.json.len() > self.max_uncompressed {
                self.fit(endpoint, std::mem::take(&mut group), ts, out);
                len = envelope;
            }
            len += f.json.len() + usize::from(!group.is_empty());
            group.push(f);
        }
        if !group.is_empty() {
            self.fit(endpoint, group, ts, out);
        }
    }

    fn fit(&self, endpoint: Endpoint, fragments: Vec<Fragment>, ts: Option<i64>, out: &mut Vec<Encoded<Payload>>) {
        let payload = self.payload(endpoint, fragments, ts, false);
        if payload.body.len() > self.max_compressed && payload.fragments.len() > 1 {
            let mut first = payload.fragments.to_vec();
            let second = first.split_off(first.len() / 2);
            self.fit(endpoint, first, ts, out);
            self.fit(endpoint, second, ts, out);
            return;
        }
        // A single object over a limit is sent anyway: the API's 413 drops and counts it.
        out.push(Encoded { series: payload.fragments.iter().map(|f| f.series).sum(), payload });
    }

    fn request(&self, payload: &Payload) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{}", self.base_url, payload.endpoint.path()))
            .timeout(self.timeout)
            .header(API_KEY_HEADER, self.api_key.expose())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_ENCODING, self.compression.header())
            .body(payload.body.clone())
    }
}

/// The length of the body `fragments` make.
fn json_len(endpoint: Endpoint, fragments: &[Fragment]) -> usize {
    let (prefix, suffix) = endpoint.envelope();
    prefix.len()
        + suffix.len()
        + fragments.iter().map(|f| f.json.len()).sum::<usize>()
        + fragments.len().saturating_sub(1)
}

/// `data` compressed as `compression` says. Compressing into memory cannot fail.
pub fn compress(compression: Compression, data: &[u8]) -> Vec<u8> {
    let written = match compression {
        Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).and_then(|()| encoder.finish())
        }
        Compression::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).and_then(|()| encoder.finish())
        }
    };
    written.expect("compressing into memory does not fail")
}

/// `Err` when points at `ts` (Unix seconds) lie outside what the API stores at `now`.
fn check_age(ts: i64, now: SystemTime) -> Result<(), SendError> {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let age = now - ts;
    if age > MAX_POINT_AGE.as_secs() as i64 {
        return Err(SendError::TooOld(format!(
            "points of {ts} are {age}s old; the Datadog API drops points older than {}s",
            MAX_POINT_AGE.as_secs()
        )));
    }
    if -age > MAX_POINT_AHEAD.as_secs() as i64 {
        return Err(SendError::TooOld(format!(
            "points of {ts} are {}s in the future (did the clock step back?); the Datadog API drops points more than \
             {}s ahead",
            -age,
            MAX_POINT_AHEAD.as_secs()
        )));
    }
    Ok(())
}

impl Datadog {
    /// Encodes `window` as requests, checking its age against `now`.
    pub fn encode_at(&mut self, window: &Window, now: SystemTime) -> Result<Vec<Encoded<Payload>>, SendError> {
        // Normalize: a window older than the API accepts is dropped whole and counted.
        let ts = timestamp(window);
        if !window.series.is_empty() {
            check_age(ts, now)?;
        }
        // Encode each series, event and check once.
        let Encoding { series, distributions, events, service_checks, skipped_values, scaled_distributions } =
            encode(window, &self.settings);
        if skipped_values > 0 {
            tracing::warn!(
                window = window.id,
                skipped_values,
                "NaN or infinite values left out: JSON cannot carry them."
            );
        }
        if scaled_distributions > 0 {
            tracing::warn!(
                window = window.id,
                scaled_distributions,
                "Distributions with more than a million samples in one window sent scaled down; their counts are lower."
            );
        }
        // Batch to the payload limits and compress once, so a retry resends the same bytes.
        let mut out = Vec::new();
        self.pack(Endpoint::Series, series, Some(ts), &mut out);
        self.pack(Endpoint::Distributions, distributions, Some(ts), &mut out);
        self.pack(Endpoint::Event, events, None, &mut out);
        self.pack(Endpoint::ServiceChecks, service_checks, None, &mut out);
        Ok(out)
    }
}

impl Backend for Datadog {
    type Batch = Payload;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Payload>>, SendError> {
        self.encode_at(window, SystemTime::now())
    }

    async fn send(&mut self, batch: &Payload) -> Result<(), SendError> {
        if let Some(ts) = batch.timestamp {
            check_age(ts, SystemTime::now())?;
        }
        let endpoint = batch.endpoint.path();
        execute(self.request(batch), |refused| classify(refused, endpoint)).await.map(drop)
    }

    fn split(&mut self, batch: Encoded<Payload>) -> Halves<Payload> {
        // 413: halve once; a half refused again is dropped and counted.
        let payload = &batch.payload;
        if payload.split || payload.fragments.len() < 2 {
            return Err(batch);
        }
        let mut first = payload.fragments.to_vec();
        let second = first.split_off(first.len() / 2);
        let half = |fragments: Vec<Fragment>| {
            let series = fragments.iter().map(|f| f.series).sum();
            Encoded { payload: self.payload(payload.endpoint, fragments, payload.timestamp, true), series }
        };
        Ok((half(first), half(second)))
    }
}

/// Reads `X-RateLimit-Reset`: whole seconds until the limit resets.
pub fn rate_limit_reset(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Datadog's answer as a [`SendError`]: 403 is a bad key (never retried); 408, 429 and 5xx
/// wait as `Retry-After` or the rate-limit reset asks.
fn classify(mut refused: Refusal, endpoint: &str) -> SendError {
    let body = refused.body_start();
    match refused.status {
        403 => {
            tracing::error!(endpoint, %body, "API key rejected by Datadog: check api_key or api_key_file.");
            return SendError::Rejected(format!(
                "API key rejected (HTTP 403): check api_key or api_key_file and the site; Datadog said: {body}"
            ));
        }
        400 => tracing::error!(endpoint, %body, "Datadog refused the payload as malformed."),
        _ => {}
    }
    refused.retry_after = refused.retry_after.or_else(|| {
        refused.headers.get(RATE_LIMIT_RESET_HEADER).and_then(|v| v.to_str().ok()).and_then(rate_limit_reset)
    });
    refused.into_error()
}
