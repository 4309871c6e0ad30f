//! The remote write backend's task side: advance the totals, translate, mark what left as
//! stale, batch, compress, `POST`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder};

use super::config::RemoteWriteConfig;
use super::encode::{self, Request, Written};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::delivery::http::{Refusal, execute};
use crate::delivery::{HttpAuth, Position};
use crate::model::Window;
use crate::prometheus::{Context, Encoder, State};
use crate::registry::BuildError;

/// `Content-Encoding` of remote write 1.0: the snappy block format.
pub const CONTENT_ENCODING: &str = "snappy";
/// `Content-Type` of remote write 1.0: a protobuf `prometheus.WriteRequest`.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// The remote write version header and the version this sink speaks.
pub const VERSION_HEADER: &str = "X-Prometheus-Remote-Write-Version";
/// The protocol version sent in [`VERSION_HEADER`], as the 1.0 specification requires.
pub const VERSION: &str = "0.1.0";
/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("sluice/", env!("CARGO_PKG_VERSION"));

/// Writes each window to a remote write receiver (see `docs/translation.md`).
#[derive(Debug)]
pub struct RemoteWrite {
    client: Client,
    url: String,
    /// The required headers and the configured ones.
    headers: HeaderMap,
    auth: HttpAuth,
    timeout: Duration,
    max_samples: usize,
    max_age: Duration,
    expire_after: Option<Duration>,
    /// `job`, `instance` and the configured labels, sorted, put on every series.
    labels: Vec<(String, String)>,
    encoder: Encoder,
    state: State,
    state_path: PathBuf,
    /// The series of the last window sent, for stale markers.
    written: Written,
    /// Family names already logged as colliding, so each is logged once.
    reported: HashSet<String>,
}

impl RemoteWrite {
    /// Validates `config`, reads its secret files and loads the cumulative state of sink
    /// `name` from `context.data_dir` (`remote_write-<name>.json`). Loading here refuses a
    /// start or a reload whose state file cannot be read; [`Backend::begin`] loads it again,
    /// as the sink this one replaces left it.
    pub fn new(name: &str, config: &RemoteWriteConfig, context: Context) -> Result<Self, BuildError> {
        config.validate()?;
        let auth = config.credentials().read()?;
        let client = match &config.ca_file {
            None => context.client,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| BuildError::new(format!("cannot read \"ca_file\" {}: {e}", path.display())))?;
                let roots = reqwest::Certificate::from_pem_bundle(&pem)
                    .ok()
                    .filter(|roots| !roots.is_empty())
                    .ok_or_else(|| BuildError::at("ca_file", format!("{} holds no PEM certificate", path.display())))?;
                crate::delivery::http::client_trusting(roots)
                    .map_err(|e| BuildError::new(format!("cannot build the HTTP client for \"ca_file\": {e}")))?
            }
        };
        let mut labels = std::collections::BTreeMap::from([
            ("job".to_owned(), config.job.clone()),
            ("instance".to_owned(), context.hostname.clone()),
        ]);
        labels.extend(config.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let encoder = Encoder::new(labels.keys().map(String::as_str), context.mappings.clone());
        let state_path = context.data_dir.join(format!("remote_write-{name}.json"));
        let state = State::load(&state_path, config.buckets.clone())
            .map_err(|e| BuildError::new(format!("remote write state: {e}")))?;
        Ok(Self {
            client,
            url: config.url.clone(),
            headers: headers(config)?,
            auth,
            timeout: config.timeout.0,
            max_samples: config.max_samples_per_request,
            max_age: config.max_age.0,
            expire_after: config.expire_after.map(|d| d.0),
            labels: labels.into_iter().collect(),
            encoder,
            state,
            state_path,
            written: Written::default(),
            reported: HashSet::new(),
        })
    }

    /// The cumulative state, as last advanced by [`Backend::encode`].
    #[cfg(test)]
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Series remembered as written in the last window sent.
    #[cfg(test)]
    pub(crate) fn written(&self) -> usize {
        self.written.len()
    }

    /// [`Backend::encode_spooled`] at the wall-clock time `now` (tests pass their own):
    /// normalize → check age → translate → mark stale → batch and compress.
    pub fn encode_at(
        &mut self,
        window: &Window,
        position: Option<Position>,
        now: SystemTime,
    ) -> Result<Vec<Encoded<Request>>, SendError> {
        // Advance the totals once per window (counters, histograms and sets are cumulative),
        // except for a window replayed from the spool after a crash that the saved totals
        // already include (saved before its acknowledgement reached the spool).
        let counted = position.is_some_and(|at| {
            self.state.applied.is_some_and(|applied| applied.spool == at.spool && at.seq <= applied.seq)
        });
        if counted {
            tracing::info!(window = window.id, "Replayed window already in the totals; not added again.");
        } else {
            // The mapping rules decide what is kept, at which buckets, for how long.
            let dropped = self.encoder.advance(&mut self.state, window, self.expire_after);
            if dropped > 0 {
                tracing::debug!(series = dropped, "Series dropped by mapping rules; not kept.");
            }
            if position.is_some() {
                self.state.applied = position;
            }
        }
        // A receiver refuses samples older than its head block: count the window rather than
        // send it to be refused. Its counts stay in the totals, so later windows carry them.
        let now_ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let age = Duration::from_millis(now_ms.saturating_sub(window.end_ms));
        if age > self.max_age {
            return Err(SendError::TooOld(format!(
                "window {} ended {}s ago; max_age is {}s",
                window.id,
                age.as_secs(),
                self.max_age.as_secs()
            )));
        }
        // Translate: the Pushgateway's names and types, one sample per series at the window end.
        let (families, dropped) = self.encoder.families(window, &self.state);
        if dropped.by_rule > 0 {
            tracing::debug!(series = dropped.by_rule, "Series dropped by mapping rules; not written.");
        }
        for name in dropped.names.iter().filter(|n| !self.reported.contains(*n)).cloned().collect::<Vec<_>>() {
            tracing::warn!(
                family = %name,
                "Metric name collides with another of a different type (a histogram's _bucket/_sum/_count included); not written."
            );
            self.reported.insert(name);
        }
        let timestamp_ms = i64::try_from(window.end_ms).unwrap_or(i64::MAX);
        let numbers = encode::numbers(&families);
        let rows = encode::rows(&families, &self.labels, &numbers);
        // Batch and compress within the receiver's request limit; series that left since the
        // last window end now, with a stale marker, not five minutes later.
        let requests = self.written.requests(&rows, timestamp_ms, self.max_samples)?;
        Ok(requests.into_iter().map(|r| Encoded { series: r.samples as u64, payload: r }).collect())
    }

    fn request(&self, body: bytes::Bytes) -> RequestBuilder {
        let request = self.client.post(&self.url).timeout(self.timeout).headers(self.headers.clone()).body(body);
        self.auth.apply(request)
    }
}

/// The four headers remote write 1.0 requires, then the configured ones (validation refused
/// any that would override the four).
fn headers(config: &RemoteWriteConfig) -> Result<HeaderMap, BuildError> {
    let mut map = HeaderMap::new();
    map.insert(header::CONTENT_ENCODING, HeaderValue::from_static(CONTENT_ENCODING));
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    map.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    map.insert(HeaderName::from_static("x-prometheus-remote-write-version"), HeaderValue::from_static(VERSION));
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| BuildError::at("headers", format!("{name:?} is not an HTTP header name: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| BuildError::at("headers", format!("the value of {name:?} is not a header value: {e}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// A secret given inline or in a file (trailing newline ignored).
impl Backend for RemoteWrite {
    type Batch = Request;

    fn begin(&mut self) {
        // A reload built this backend while the one it replaces was still writing and saving
        // its totals: continue from what that one saved last, or counters would go backwards.
        match State::load(&self.state_path, self.state.bounds.clone()) {
            Ok(state) => self.state = state,
            Err(e) => tracing::error!(
                path = %self.state_path.display(),
                error = %e,
                "Cannot read the remote write totals again; continuing from those read at build."
            ),
        }
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Request>>, SendError> {
        self.encode_at(window, None, SystemTime::now())
    }

    fn encode_spooled(&mut self, window: &Window, position: Position) -> Result<Vec<Encoded<Request>>, SendError> {
        self.encode_at(window, Some(position), SystemTime::now())
    }

    async fn send(&mut self, request: &Request) -> Result<(), SendError> {
        // 5xx and 429 are retried (honouring Retry-After), any other refusal is final: the
        // specification says a 4xx must not be retried.
        execute(self.request(request.body.clone()), Refusal::into_error).await.map(drop)
    }

    fn split(&mut self, batch: Encoded<Request>) -> Halves<Request> {
        match encode::halves(&batch.payload) {
            Some((first, second)) => Ok((
                Encoded { series: first.samples as u64, payload: first },
                Encoded { series: second.samples as u64, payload: second },
            )),
            None => Err(batch),
        }
    }

    fn delivered(&mut self, window: &Window) {
        // The totals include this window now; keep them for the next run of the agent.
        if let Err(e) = self.state.save(&self.state_path) {
            tracing::error!(
                path = %self.state_path.display(),
                window = window.id,
                error = %e,
                "Cannot save the remote write totals; a restart would reset them."
            );
        }
    }

    async fn close(&mut self) {
        if let Err(e) = self.state.save(&self.state_path) {
            tracing::error!(path = %self.state_path.display(), error = %e, "Cannot save the remote write totals.");
        }
    }
}
