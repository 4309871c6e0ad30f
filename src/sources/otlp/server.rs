//! `POST /v1/metrics`: a request read within its limits, decoded, converted and handed to the
//! aggregator, answered as the OTLP/HTTP specification says.
//!
//! | what | answer |
//! | --- | --- |
//! | every point taken | 200, an empty `ExportMetricsServiceResponse` |
//! | some points refused | 200, `partial_success` with `rejected_data_points` and why |
//! | a body that does not decode (protobuf, JSON, gzip) | 400 |
//! | a body over `max_body_bytes`, as sent or gunzipped | 413 |
//! | a content type other than protobuf or JSON, an encoding other than gzip | 415 |
//! | the aggregator's input queue full, or [`CONCURRENT_REQUESTS`] under way, for [`QUEUE_WAIT`] | 429, `Retry-After: 1` |
//! | the aggregator gone (the agent is stopping) | 503, `Retry-After: 5` |
//!
//! Answers are in the request's encoding (a refusal's body is a `google.rpc.Status`). A request
//! is converted only once room for it in the aggregator's queue is reserved, so a refused
//! request changed no cumulative baseline and the client's retry counts exactly once.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt as _;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

use super::attributes::AttributeFilter;
use super::convert::convert;
use super::cumulative::Cumulative;
use super::decode::{DecodeError, Encoding, decode, export_response, gunzip, status_response};
use super::reject::Refusal;
use crate::aggregator::input::{Input, Samples};
use crate::config::OtlpConfig;
use crate::telemetry::{ListenerStats, Telemetry};

/// How long a request waits for room in the aggregator's queue before it is answered 429.
pub const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// How much of an oversized body is read (and thrown away) before the 413, at most, and for
/// how long.
const DRAIN_BYTES: usize = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Requests read, decoded and converted at once; more wait (for [`QUEUE_WAIT`], then 429).
/// Each holds its body, gunzipped body and decoded request in memory: this bounds their sum.
pub const CONCURRENT_REQUESTS: usize = 4;

/// How long requests under way may take to finish once the receiver is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every request shares: the config, the cumulative state, the way to the aggregator.
#[derive(Debug)]
pub struct Receiver {
    filter: AttributeFilter,
    max_body_bytes: usize,
    state: Mutex<Cumulative>,
    /// One permit per request being read, decoded and converted.
    busy: Semaphore,
    /// The aggregator's input; `None` once the receiver stopped, so that a connection still
    /// open then cannot keep the aggregator's input open.
    tx: RwLock<Option<mpsc::Sender<Input>>>,
    /// The receiver's entry in [`Telemetry::listeners`].
    listener: usize,
    stats: Arc<ListenerStats>,
    telemetry: Arc<Telemetry>,
}

/// A refusal of the whole request, with what the client is told.
struct Refused(Refusal, Option<Encoding>, String);

impl Receiver {
    /// A receiver for `config` sending to `tx`, counting under `listener` and in `telemetry`.
    /// `started` (Unix nanoseconds) decides which first cumulative points count in full.
    pub fn new(
        config: &OtlpConfig,
        started: u64,
        listener: usize,
        stats: Arc<ListenerStats>,
        telemetry: Arc<Telemetry>,
        tx: mpsc::Sender<Input>,
    ) -> Self {
        Self {
            filter: AttributeFilter::new(&config.resource_attributes),
            max_body_bytes: usize::try_from(config.max_body_bytes.0).unwrap_or(usize::MAX),
            state: Mutex::new(Cumulative::new(config.max_series, config.expire_after.0, started)),
            busy: Semaphore::new(CONCURRENT_REQUESTS),
            tx: RwLock::new(Some(tx)),
            listener,
            stats,
            telemetry,
        }
    }

    /// Stops sending to the aggregator: requests from now on are answered 503.
    fn close(&self) {
        self.tx.write().unwrap_or_else(PoisonError::into_inner).take();
    }

    async fn export(&self, request: Request) -> Result<Response, Refused> {
        let headers = request.headers();
        let encoding = content_type(headers)?;
        let gzip = content_encoding(headers, encoding)?;
        let overloaded = || {
            let message = "sluice's aggregator is behind; retry later".to_owned();
            Refused(Refusal::Overloaded, Some(encoding), message)
        };
        let Ok(Ok(_busy)) = tokio::time::timeout(QUEUE_WAIT, self.busy.acquire()).await else {
            return Err(overloaded());
        };
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        let body = self.read(request.into_body(), declared, encoding).await?;
        self.stats.bytes.fetch_add(body.len() as u64, Relaxed);
        let malformed = |e: DecodeError| match e {
            DecodeError::TooLarge(_) => Refused(Refusal::TooLarge, Some(encoding), e.to_string()),
            _ => Refused(Refusal::Malformed, Some(encoding), e.to_string()),
        };
        let body = if gzip { gunzip(&body, self.max_body_bytes).map_err(malformed)? } else { body };
        let request = decode(&body, encoding).map_err(malformed)?;

        // Room in the queue first: a request refused from here on changed nothing.
        let tx = self.tx.read().unwrap_or_else(PoisonError::into_inner).clone();
        let unavailable = || Refused(Refusal::Unavailable, Some(encoding), "sluice is stopping".to_owned());
        let tx = tx.ok_or_else(unavailable)?;
        let permit = match tokio::time::timeout(QUEUE_WAIT, tx.reserve()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(unavailable()),
            Err(_) => return Err(overloaded()),
        };
        let converted = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            convert(&request, &self.filter, &mut state, Instant::now())
        };
        let otlp = &self.telemetry.otlp;
        otlp.points.fetch_add(converted.points, Relaxed);
        otlp.baselines.fetch_add(converted.baselines, Relaxed);
        for (i, n) in converted.rejected.0.iter().enumerate() {
            otlp.rejected.add(i, *n);
        }
        let rejected = converted.rejected.total();
        if rejected > 0 {
            tracing::debug!(rejected, message = %converted.rejected.message(), "OTLP data points rejected.");
        }
        if converted.samples.is_empty() {
            drop(permit);
        } else {
            permit.send(Input::Samples(Samples { listener: self.listener, samples: converted.samples }));
        }
        let body = export_response(rejected, converted.rejected.message(), encoding);
        Ok(answer(StatusCode::OK, encoding.content_type(), body))
    }

    /// The body, refused beyond `max_body_bytes` (at once when `Content-Length` says so).
    async fn read(&self, body: Body, declared: Option<u64>, encoding: Encoding) -> Result<Vec<u8>, Refused> {
        let mut stream = body.into_data_stream();
        let mut out = Vec::new();
        let mut too_large = declared.is_some_and(|n| n > self.max_body_bytes as u64);
        while !too_large && let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| Refused(Refusal::Malformed, Some(encoding), format!("reading the body: {e}")))?;
            too_large = out.len() + chunk.len() > self.max_body_bytes;
            if !too_large {
                out.extend_from_slice(&chunk);
            }
        }
        if too_large {
            // The client sends the whole body before it reads the answer: closing on unread
            // bytes would reset the connection and lose the 413, so the rest is read first.
            let drain = async {
                let mut read = 0;
                while let Some(Ok(chunk)) = stream.next().await {
                    read += chunk.len();
                    if read > DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            let message = format!("the body is larger than max_body_bytes ({} bytes)", self.max_body_bytes);
            return Err(Refused(Refusal::TooLarge, Some(encoding), message));
        }
        Ok(out)
    }

    /// Answers a refused request and counts it.
    fn refuse(&self, Refused(refusal, encoding, message): Refused) -> Response {
        self.telemetry.otlp.refused.add(refusal.index(), 1);
        tracing::debug!(reason = refusal.as_str(), %message, "OTLP request refused.");
        let mut response = match encoding {
            Some(encoding) => answer(
                refusal.status(),
                encoding.content_type(),
                status_response(refusal.grpc_code(), message, encoding),
            ),
            None => answer(refusal.status(), "text/plain; charset=utf-8", message.into_bytes()),
        };
        if let Some(seconds) = refusal.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The request's encoding, or a 415 naming what is accepted.
fn content_type(headers: &HeaderMap) -> Result<Encoding, Refused> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    Encoding::from_content_type(value).ok_or_else(|| {
        let message = format!(
            "unsupported Content-Type {value:?}: send application/x-protobuf or application/json to /v1/metrics"
        );
        Refused(Refusal::UnsupportedMediaType, None, message)
    })
}

/// Whether the body is gzipped, or a 415 for an encoding other than gzip and identity.
fn content_encoding(headers: &HeaderMap, encoding: Encoding) -> Result<bool, Refused> {
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim()) {
        None | Some("" | "identity") => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("gzip") => Ok(true),
        Some(other) => Err(Refused(
            Refusal::UnsupportedMediaType,
            Some(encoding),
            format!("unsupported Content-Encoding {other:?}: send gzip or no encoding"),
        )),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn export(State(receiver): State<Arc<Receiver>>, request: Request) -> Response {
    match receiver.export(request).await {
        Ok(response) => response,
        Err(refused) => receiver.refuse(refused),
    }
}

/// The receiver's one route.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new().route("/v1/metrics", post(export)).with_state(receiver)
}

/// Serves `receiver` on `listener` until `stop` turns true; requests under way then get
/// [`SHUTDOWN_GRACE`] to finish, after which the receiver stops sending to the aggregator
/// whatever connection is still open.
pub async fn run(listener: TcpListener, receiver: Arc<Receiver>, stop: watch::Receiver<bool>) -> io::Result<()> {
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(listener, router(Arc::clone(&receiver))).with_graceful_shutdown(stopped(stop.clone()));
    let result = tokio::select! {
        result = server => result,
        () = async { stopped(stop).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("OTLP requests still under way at shutdown are answered 503.");
            Ok(())
        }
    };
    receiver.close();
    result
}
