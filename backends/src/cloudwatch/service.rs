//! The CloudWatch backend's task side: normalize → batch → encode in `encode`, compress once,
//! then sign → send → classify in `send`.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::{Client, Url, header};

use super::config::CloudWatchConfig;
use super::credentials::{Env, Provider, Source, post_headers};
use super::encode::{Datum, MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES, Options, encode, form};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::delivery::http::execute;
use crate::model::Window;
use crate::registry::BuildError;

/// The SigV4 service name of CloudWatch metrics.
/// The oldest point `PutMetricData` accepts: two weeks
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html>).
/// A window replayed from the spool after a longer outage is dropped as `too_old`.
pub const MAX_AGE: Duration = Duration::from_hours(14 * 24);

const SIGNING_SERVICE: &str = "monitoring";
/// The Query protocol's content type.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// AWS error codes that mean "slow down": retried with backoff although the status is 400.
const THROTTLING_CODES: &[&str] =
    &["Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"];

/// One `PutMetricData` request: its datums (kept to split it) and the body sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The datums, in order.
    pub datums: Vec<Datum>,
    /// The window's end, Unix milliseconds: every datum's `Timestamp`.
    pub end_ms: u64,
    /// What goes on the wire (gzip-compressed or the form text).
    pub body: Bytes,
}

/// What this backend left out so far, for tests and the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Series with a NaN, infinite or out-of-range value.
    pub non_finite: u64,
    /// Series with a name CloudWatch refuses, or a summary without samples.
    pub skipped: u64,
    /// Tags dropped beyond the 30-dimension limit.
    pub dimensions: u64,
}

/// Puts windows into CloudWatch.
#[derive(Debug)]
pub struct CloudWatch {
    client: Client,
    url: Url,
    region: String,
    options: Options,
    gzip: bool,
    timeout: Duration,
    credentials: Provider,
    dropped: Dropped,
}

impl CloudWatch {
    /// A backend for `config` that sends with the agent's shared `client` and finds its keys
    /// through the chain in [`super::credentials`] reading `env`.
    pub fn new(config: &CloudWatchConfig, client: Client, env: &Env) -> Result<Self, BuildError> {
        config.check()?;
        let url = Url::parse(&config.url()).map_err(|e| BuildError::at("endpoint", e.to_string()))?;
        let credentials = Provider::resolve_in(env, config.profile.as_deref(), &config.region, client.clone())
            .map_err(|e| BuildError::new(e.to_string()))?;
        Ok(Self {
            client,
            url,
            region: config.region.clone(),
            options: Options {
                namespace: config.namespace.clone(),
                storage_resolution: config.storage_resolution,
                host_dimension: config.host_dimension,
                agent_tags: config.agent_tags,
                max_datums: MAX_DATUMS_PER_REQUEST,
                max_bytes: MAX_REQUEST_BYTES,
            },
            gzip: config.gzip,
            timeout: config.timeout.0,
            credentials,
            dropped: Dropped::default(),
        })
    }

    /// The provider of the chain that supplies the keys.
    pub fn credentials_source(&self) -> &Source {
        self.credentials.source()
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// What was left out so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    fn payload(&self, form: String, datums: Vec<Datum>, end_ms: u64) -> Result<Payload, SendError> {
        let body = if self.gzip {
            let mut encoder = GzEncoder::new(Vec::with_capacity(form.len() / 4), Compression::fast());
            encoder.write_all(form.as_bytes())?;
            Bytes::from(encoder.finish()?)
        } else {
            Bytes::from(form)
        };
        Ok(Payload { datums, end_ms, body })
    }

    /// The SigV4 headers (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`) for a POST of
    /// `body` with `headers`.
    async fn signature(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Result<Vec<(String, String)>, SendError> {
        let keys = self.credentials.credentials().await.map_err(|e| SendError::Connect(e.to_string()))?;
        post_headers(&keys, &self.region, SIGNING_SERVICE, self.url.as_str(), headers, body)
            .map_err(SendError::Rejected)
    }
}

impl Backend for CloudWatch {
    fn max_age(&self) -> Option<Duration> {
        Some(MAX_AGE)
    }

    type Batch = Payload;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Payload>>, SendError> {
        // Normalize, batch and encode: one datum per series within the request limits.
        let encoding = encode(window, &self.options);
        self.dropped.non_finite += encoding.non_finite;
        self.dropped.skipped += encoding.skipped;
        self.dropped.dimensions += encoding.dropped_dimensions;
        if encoding.non_finite > 0 || encoding.skipped > 0 || encoding.dropped_dimensions > 0 {
            tracing::warn!(
                window = window.id,
                non_finite = encoding.non_finite,
                skipped = encoding.skipped,
                dropped_dimensions = encoding.dropped_dimensions,
                "Series or dimensions left out: CloudWatch cannot take them."
            );
        }
        // Compress once per request, so a retry resends the same bytes.
        encoding
            .requests
            .into_iter()
            .map(|r| {
                let series = r.datums.len() as u64;
                Ok(Encoded { payload: self.payload(r.form, r.datums, window.end_ms)?, series })
            })
            .collect()
    }

    async fn send(&mut self, batch: &Payload) -> Result<(), SendError> {
        // Sign what goes on the wire: the body hash covers the compressed bytes.
        let mut headers = vec![(header::CONTENT_TYPE.as_str(), FORM_CONTENT_TYPE)];
        if self.gzip {
            headers.push((header::CONTENT_ENCODING.as_str(), "gzip"));
        }
        let signature = self.signature(&headers, &batch.body).await?;
        let mut request = self.client.post(self.url.clone()).timeout(self.timeout).body(batch.body.clone());
        for (name, value) in headers.iter().map(|(k, v)| (*k, *v)).chain(signature.iter().map(|(k, v)| (&**k, &**v))) {
            request = request.header(name, value);
        }
        // Classify by the AWS error code: throttling is retried although it is a 400.
        execute(request, |refused| classify(refused.status, &refused.body_start(), refused.retry_after)).await.map(drop)
    }

    fn split(&mut self, batch: Encoded<Payload>) -> Halves<Payload> {
        // 413: halve the datums; each half is numbered from 1 and compressed again.
        let datums = &batch.payload.datums;
        if datums.len() < 2 {
            return Err(batch);
        }
        let (first, second) = datums.split_at(datums.len() / 2);
        let end_ms = batch.payload.end_ms;
        let half = |d: &[Datum]| {
            let text = form(&self.options.namespace, end_ms, self.options.storage_resolution, d);
            self.payload(text, d.to_vec(), end_ms).map(|p| Encoded { payload: p, series: d.len() as u64 })
        };
        match (half(first), half(second)) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(batch),
        }
    }
}

/// An AWS error answer as a [`SendError`]: throttling codes are retriable whatever the
/// status; otherwise the status decides, and the message carries the code.
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> SendError {
    let explained = match aws_error(body) {
        Some((code, message)) if THROTTLING_CODES.contains(&code.as_str()) => {
            return SendError::Throttled { body: format!("{code}: {message}"), retry_after };
        }
        Some((code, message)) => format!("{code}: {message}"),
        None => body.to_owned(),
    };
    SendError::Http { status, body: explained, retry_after }
}

/// The error code and message of an AWS error body: the Query protocol's XML
/// (`<Error><Code>…</Code><Message>…</Message>`) or the JSON protocols' `__type` and
/// `message` (the code is what follows the last `#` of `__type`).
pub fn aws_error(body: &str) -> Option<(String, String)> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        let code = json.get("__type").or_else(|| json.get("code")).and_then(serde_json::Value::as_str)?;
        let code = code.rsplit('#').next().unwrap_or(code).split(':').next().unwrap_or(code);
        let message = ["message", "Message"].iter().find_map(|k| json.get(*k).and_then(serde_json::Value::as_str));
        return Some((code.to_owned(), message.unwrap_or_default().to_owned()));
    }
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(xml_unescape(body[start..end].trim()))
    };
    Some((element("Code")?, element("Message").unwrap_or_default()))
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}
