//! The InfluxDB backend's task side: normalize → batch → encode in `encode`, compress once,
//! then send → classify in `send`.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::{Client, Url, header};

use super::config::{Api, InfluxDbConfig, Precision};
use super::encode::{MAX_LINES_PER_BATCH, encode};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::delivery::http::{Refusal, execute};
use crate::model::Window;
use crate::registry::BuildError;
use crate::secret::Secret;

/// One write request: the line protocol and the body sent (gzip-compressed or the same text).
/// Both are reference-counted so a retry sends the same bytes without copying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The uncompressed line protocol, kept to split the batch on 413.
    pub text: Bytes,
    /// What goes on the wire.
    pub body: Bytes,
}

/// Writes windows to InfluxDB 1.x or 2.x.
#[derive(Debug)]
pub struct InfluxDb {
    client: Client,
    /// The write endpoint with its query string.
    url: Url,
    auth: Auth,
    gzip: bool,
    timeout: Duration,
    precision: Precision,
    max_lines: usize,
}

#[derive(Debug)]
enum Auth {
    None,
    Basic { username: String, password: Secret },
    Token(Secret),
}

impl InfluxDb {
    /// A backend for `config`, sending with the agent's shared `client`. Fails when the keys
    /// break a rule (the config validation reports the same error earlier, with its line).
    pub fn new(config: &InfluxDbConfig, client: Client) -> Result<Self, BuildError> {
        let api = config.api()?;
        let mut url = Url::parse(&config.url).map_err(|e| BuildError::at("url", e.to_string()))?;
        // Keep a path prefix (a server behind a proxy): `http://h/influx` → `http://h/influx/write`.
        let prefix = url.path().trim_end_matches('/').to_owned();
        let precision = config.precision.query_value(&api);
        let auth = match api {
            Api::V1 { database, retention_policy, credentials } => {
                url.set_path(&format!("{prefix}/write"));
                let mut query = url.query_pairs_mut();
                query.clear().append_pair("db", database);
                if let Some(rp) = retention_policy {
                    query.append_pair("rp", rp);
                }
                query.append_pair("precision", precision);
                drop(query);
                credentials.map_or(Auth::None, |(u, p)| Auth::Basic { username: u.to_owned(), password: p.clone() })
            }
            Api::V2 { org, bucket, token } => {
                url.set_path(&format!("{prefix}/api/v2/write"));
                url.query_pairs_mut()
                    .clear()
                    .append_pair("org", org)
                    .append_pair("bucket", bucket)
                    .append_pair("precision", precision);
                Auth::Token(token.clone())
            }
        };
        Ok(Self {
            client,
            url,
            auth,
            gzip: config.gzip,
            timeout: config.timeout.0,
            precision: config.precision,
            max_lines: MAX_LINES_PER_BATCH,
        })
    }

    /// The write endpoint, query string included.
    pub fn url(&self) -> &Url {
        &self.url
    }

    fn payload(&self, text: Vec<u8>) -> Result<Payload, SendError> {
        let text = Bytes::from(text);
        let body = if self.gzip {
            // gzip, not deflate: InfluxDB 1.x accepts only gzip.
            let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::fast());
            encoder.write_all(&text)?;
            Bytes::from(encoder.finish()?)
        } else {
            text.clone()
        };
        Ok(Payload { text, body })
    }
}

impl Backend for InfluxDb {
    type Batch = Payload;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Payload>>, SendError> {
        // Normalize, batch and encode: one line per series, at most `max_lines` per request.
        let encoding = encode(window, self.precision, self.max_lines);
        if encoding.skipped_fields > 0 || encoding.skipped_series > 0 {
            tracing::warn!(
                window = window.id,
                skipped_fields = encoding.skipped_fields,
                skipped_series = encoding.skipped_series,
                "NaN or infinite values left out: InfluxDB cannot store them."
            );
        }
        // Compress once per batch, so a retry resends the same bytes.
        encoding
            .batches
            .into_iter()
            .map(|lines| Ok(Encoded { payload: self.payload(lines.text)?, series: lines.lines }))
            .collect()
    }

    async fn send(&mut self, batch: &Payload) -> Result<(), SendError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(batch.body.clone());
        if self.gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        request = match &self.auth {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password.expose())),
            Auth::Token(token) => request.header(header::AUTHORIZATION, format!("Token {}", token.expose())),
        };
        execute(request, classify).await.map(drop)
    }

    fn split(&mut self, batch: Encoded<Payload>) -> Halves<Payload> {
        // 413: halve at a line boundary; each half is compressed again.
        if batch.series < 2 {
            return Err(batch);
        }
        let half = batch.series / 2;
        let text = &batch.payload.text;
        let Some(cut) =
            text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth((half - 1) as usize).map(|(i, _)| i + 1)
        else {
            return Err(batch);
        };
        let (Ok(first), Ok(second)) = (self.payload(text[..cut].to_vec()), self.payload(text[cut..].to_vec())) else {
            return Err(batch);
        };
        Ok((Encoded { payload: first, series: half }, Encoded { payload: second, series: batch.series - half }))
    }
}

/// The points a "partial write" answer says were dropped: the sum of its `dropped=N` counts
/// (InfluxDB 1.x's storage errors), else one per `unable to parse` (its parse errors). At
/// least 1: a partial write always refused something.
pub fn partial_write_dropped(body: &str) -> u64 {
    let counted: u64 = body
        .match_indices("dropped=")
        .filter_map(|(i, m)| {
            let digits: String = body[i + m.len()..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum();
    let counted = if counted > 0 { counted } else { body.matches("unable to parse").count() as u64 };
    counted.max(1)
}

/// InfluxDB's answer as a [`SendError`]: a partial write stored the good lines and must not
/// be resent; anything else is classified by its status.
fn classify(refused: Refusal) -> SendError {
    if matches!(refused.status, 400 | 422) && refused.body.contains("partial write") {
        let dropped = partial_write_dropped(&refused.body);
        return SendError::PartialWrite { dropped, body: refused.body_start() };
    }
    refused.into_error()
}
