//! The [`Backend`] trait every backend implements, and its typed error.

use std::future::Future;
use std::time::Duration;

use crate::model::Window;

/// Where a window sits in a backend's disk spool (`delivery::spool`): which spool (a random id made when the spool is
/// created) and the window's sequence number in it, which only grows, across restarts too.
/// Backends with cumulative state record it to never count a replayed window twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The spool's id.
    pub spool: u64,
    /// The window's sequence number.
    pub seq: u64,
}

/// One request's worth of a window, and how many series it carries (for the telemetry).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded<B> {
    /// What the backend sends in one request.
    pub payload: B,
    /// Series (or points) in this batch; counted as sent or dropped with it.
    pub series: u64,
}

/// The two halves of a split batch, or the batch back when it cannot be split.
pub type Halves<B> = Result<(Encoded<B>, Encoded<B>), Encoded<B>>;

/// A destination for flushed windows.
///
/// The delivery task ([`crate::delivery`]) owns the backend. It calls [`Backend::begin`] once,
/// then for each window, in order, [`Backend::encode`] once, then [`Backend::send`] for each
/// batch, retrying with backoff what [`SendError::is_retriable`] says may succeed later and
/// halving with [`Backend::split`] what the backend refused as too large. The backend stays a
/// short pipeline: normalize → batch → encode in `encode`, send → classify in `send`.
///
/// `encode` must be deterministic for a given window (and state): a spooled window replayed
/// after a crash is encoded again and resumes after the batches already acknowledged.
pub trait Backend: Send + 'static {
    /// The payload of one request.
    type Batch: Send + Sync + 'static;

    /// Called once on the delivery task before the first window, after the backend this one
    /// replaces (a reload rebuilt the sink) has stopped and saved what it keeps; at once when
    /// it replaces none. A backend that keeps state across runs in `data_dir` reads it again
    /// here, as its predecessor left it.
    fn begin(&mut self) {}

    /// Turns a window into requests within the backend's limits. Called exactly once per
    /// window, so state that accumulates across windows (cumulative counters) advances once.
    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Self::Batch>>, SendError>;

    /// [`Backend::encode`] for a window that sits in a disk spool at `position`. A window is
    /// encoded again when it is replayed after a crash; a backend whose state accumulates
    /// across windows records the position with its state and skips windows it already
    /// counted. Defaults to [`Backend::encode`].
    fn encode_spooled(&mut self, window: &Window, _position: Position) -> Result<Vec<Encoded<Self::Batch>>, SendError> {
        self.encode(window)
    }

    /// Series the last [`Backend::encode`] left out because the backend's data model cannot
    /// hold them next to others (two Prometheus families of one name, or one family with
    /// different label names), each returned once: the delivery task counts them as dropped
    /// (`reason="conflict"`). Defaults to none.
    fn take_left_out(&mut self) -> u64 {
        0
    }

    /// The age beyond which the backend's API refuses points, if it has one: older windows
    /// (replayed after a long outage) are dropped and counted as `too_old`, not sent.
    fn max_age(&self) -> Option<Duration> {
        None
    }

    /// Sends one batch and classifies the outcome.
    fn send(&mut self, batch: &Self::Batch) -> impl Future<Output = Result<(), SendError>> + Send;

    /// Halves a batch the backend refused as too large (HTTP 413). `Err` gives the batch back
    /// when it cannot be split (one series); it is then dropped and counted.
    fn split(&mut self, batch: Encoded<Self::Batch>) -> Halves<Self::Batch> {
        Err(batch)
    }

    /// Called once per window after every batch was acknowledged or given up.
    fn delivered(&mut self, _window: &Window) {}

    /// Called once after the last window, before the process exits.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Why a batch did not reach its destination.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Local or network I/O failed (connection refused, broken pipe).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The request could not be completed (connection refused, reset, DNS).
    #[error("connection failed: {0}")]
    Connect(String),
    /// No answer within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The server answered with a non-success status.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the response body, as the server explains itself.
        body: String,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The server asked to slow down with an error code rather than a status (AWS answers
    /// HTTP 400 with the code `Throttling`); retried with backoff like a 429.
    #[error("throttled: {body}")]
    Throttled {
        /// The error code and message, as the server explains itself.
        body: String,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The data cannot be delivered as it is; resending cannot help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The points lie outside the time range the backend's API stores (Datadog: older than
    /// an hour, or more than ten minutes ahead). Not retried; counted as `too_old`.
    #[error("too old: {0}")]
    TooOld(String),
    /// The server stored part of the batch and refused the rest for good (InfluxDB's 400
    /// "partial write"). Resending would duplicate what was stored, so it is not retried;
    /// `dropped` points are counted as rejected and the others as sent.
    #[error("partial write, {dropped} dropped: {body}")]
    PartialWrite {
        /// Points (series) the server refused, as it reported them.
        dropped: u64,
        /// The start of the response body, as the server explains itself.
        body: String,
    },
}

impl SendError {
    /// True when sending the same batch again later may succeed: I/O and connection errors,
    /// timeouts, 408, 429, 5xx and throttling.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Io(_) | Self::Connect(_) | Self::Timeout | Self::Throttled { .. } => true,
            Self::Http { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::Rejected(_) | Self::TooOld(_) | Self::PartialWrite { .. } => false,
        }
    }

    /// Of a failed batch of `series`, how many the server did not store: all of them, except
    /// for a [`SendError::PartialWrite`], which stored all but `dropped`.
    pub fn dropped_of(&self, series: u64) -> u64 {
        match self {
            Self::PartialWrite { dropped, .. } => (*dropped).min(series),
            _ => series,
        }
    }

    /// True for HTTP 413: the batch should be split and the halves sent.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::Http { status: 413, .. })
    }

    /// True when the points are outside the time range the API stores.
    pub fn is_too_old(&self) -> bool {
        matches!(self, Self::TooOld(_))
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } | Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `class` label of `sluice_backend_errors_total`.
    pub fn class(&self) -> &'static str {
        if self.is_retriable() { "retriable" } else { "rejected" }
    }
}
