//! One read of a target: the request as Prometheus makes it (content negotiation, gzip,
//! credentials), the body read within `max_body_bytes`, and why a read failed.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};

use super::parse::Format;
use crate::config::ScrapeConfig;

/// What Prometheus asks for: OpenMetrics 1.0, then 0.0.1, then the text format.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Bytes of an error response's body kept for the log.
const ERROR_BODY_BYTES: usize = 512;

/// Why a read failed: the `reason` label of `sluice_scrape_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Not done within `timeout`.
    Timeout,
    /// No connection (refused, unreachable, TLS).
    Connect,
    /// The request or the body's transfer broke off.
    Request,
    /// An answer other than 2xx.
    HttpStatus,
    /// A body over `max_body_bytes`, as sent or gunzipped.
    TooLarge,
    /// A gzipped body that does not gunzip.
    BadGzip,
    /// More sample lines than `sample_limit`.
    SampleLimit,
    /// The bearer token or password file could not be read.
    Credentials,
}

impl FailReason {
    /// Number of reasons.
    pub const COUNT: usize = 8;

    /// Every label, in declaration order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] =
        ["timeout", "connect", "request", "http_status", "too_large", "bad_gzip", "sample_limit", "credentials"];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        Self::LABELS[self as usize]
    }
}

/// A failed read, worded for the log.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// See [`FailReason::Timeout`].
    #[error("no answer within the timeout of {0:?}")]
    Timeout(Duration),
    /// See [`FailReason::Connect`] and [`FailReason::Request`].
    #[error("{0}")]
    Http(#[source] reqwest::Error),
    /// See [`FailReason::HttpStatus`].
    #[error("answered {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// See [`FailReason::TooLarge`].
    #[error("the body is larger than max_body_bytes ({0} bytes)")]
    TooLarge(usize),
    /// See [`FailReason::BadGzip`].
    #[error("the gzipped body does not gunzip: {0}")]
    BadGzip(#[source] std::io::Error),
    /// See [`FailReason::SampleLimit`].
    #[error("{lines} sample lines, more than sample_limit ({limit})")]
    SampleLimit {
        /// Sample lines in the body.
        lines: usize,
        /// The limit.
        limit: usize,
    },
    /// See [`FailReason::Credentials`].
    #[error("cannot read {path}: {source}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl FetchError {
    /// The reason it is counted under.
    pub fn reason(&self) -> FailReason {
        match self {
            Self::Timeout(_) => FailReason::Timeout,
            Self::Http(e) if e.is_timeout() => FailReason::Timeout,
            Self::Http(e) if e.is_connect() => FailReason::Connect,
            Self::Http(_) => FailReason::Request,
            Self::Status { .. } => FailReason::HttpStatus,
            Self::TooLarge(_) => FailReason::TooLarge,
            Self::BadGzip(_) => FailReason::BadGzip,
            Self::SampleLimit { .. } => FailReason::SampleLimit,
            Self::Credentials { .. } => FailReason::Credentials,
        }
    }
}

/// A body read, gunzipped, with the format its `Content-Type` names.
#[derive(Debug)]
pub struct Body {
    /// The exposition.
    pub text: Vec<u8>,
    /// Bytes as sent (before gunzipping).
    pub sent: usize,
    /// Its format.
    pub format: Format,
}

/// Reads `url` as `config` says, within its timeout.
pub async fn fetch(client: &reqwest::Client, url: &reqwest::Url, config: &ScrapeConfig) -> Result<Body, FetchError> {
    let timeout = config.timeout.0;
    let max = usize::try_from(config.max_body_bytes.0).unwrap_or(usize::MAX);
    match tokio::time::timeout(timeout, read(client, url, config, max)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(timeout)),
    }
}

async fn read(
    client: &reqwest::Client,
    url: &reqwest::Url,
    config: &ScrapeConfig,
    max: usize,
) -> Result<Body, FetchError> {
    let mut request = client
        .get(url.clone())
        .header(ACCEPT, ACCEPT_HEADER)
        .header(ACCEPT_ENCODING, "gzip")
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", config.timeout.0.as_secs_f64()));
    if let Some(path) = &config.bearer_token_file {
        request = request.bearer_auth(secret(path).await?);
    }
    if let Some(auth) = &config.basic_auth {
        request = request.basic_auth(&auth.username, Some(secret(&auth.password_file).await?));
    }
    let mut response = request.send().await.map_err(FetchError::Http)?;
    let status = response.status();
    if !status.is_success() {
        let mut body = Vec::new();
        while body.len() < ERROR_BODY_BYTES
            && let Ok(Some(chunk)) = response.chunk().await
        {
            body.extend_from_slice(&chunk);
        }
        body.truncate(ERROR_BODY_BYTES);
        let body = String::from_utf8_lossy(&body).trim().to_owned();
        return Err(FetchError::Status { status: status.as_u16(), body });
    }
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let format = Format::from_content_type(&header(CONTENT_TYPE));
    let gzip = header(CONTENT_ENCODING).trim().eq_ignore_ascii_case("gzip");
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(FetchError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::Http)? {
        if body.len() + chunk.len() > max {
            return Err(FetchError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    let sent = body.len();
    let text = if gzip { gunzip(&body, max)? } else { body };
    Ok(Body { text, sent, format })
}

/// `body` gunzipped, refused beyond `max` bytes.
pub fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1).read_to_end(&mut out).map_err(FetchError::BadGzip)?;
    if out.len() > max {
        return Err(FetchError::TooLarge(max));
    }
    Ok(out)
}

/// A token or password file's text, without one trailing newline.
async fn secret(path: &Path) -> Result<String, FetchError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|source| FetchError::Credentials { path: path.to_owned(), source })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}
