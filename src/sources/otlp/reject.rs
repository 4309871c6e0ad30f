//! Why the receiver refuses a data point (answered in `partial_success`, the request's other
//! points kept) or a whole request (answered with an error status).

use axum::http::StatusCode;

/// Why a data point was refused: the `reason` label of `sluice_otlp_rejected_points_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// More attributes than a series may have tags.
    TooManyAttributes,
    /// A NaN or infinite value, sum, bound or threshold.
    NotFinite,
    /// Histogram buckets that do not add up: counts not one more than the bounds, bounds not
    /// increasing, too many buckets, a count that is not the buckets' total, an unknown scale.
    BadBuckets,
    /// A number point without a value, or a metric without data.
    NoValue,
    /// A sum or histogram whose aggregation temporality is unspecified.
    BadTemporality,
    /// A cumulative point older than the last one seen for its series.
    OutOfOrder,
    /// A cumulative point of a new series while `[sources.otlp].max_series` are kept.
    MaxSeries,
    /// A metric without a name.
    NoName,
}

impl RejectReason {
    /// Number of reasons.
    pub const COUNT: usize = 8;

    /// Every reason, in [`RejectReason::index`] order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::TooManyAttributes,
        Self::NotFinite,
        Self::BadBuckets,
        Self::NoValue,
        Self::BadTemporality,
        Self::OutOfOrder,
        Self::MaxSeries,
        Self::NoName,
    ];

    /// Every label, in [`RejectReason::index`] order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = crate::telemetry::labels!(Self::ALL, Self::COUNT);

    /// The `reason` label, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooManyAttributes => "too_many_attributes",
            Self::NotFinite => "not_finite",
            Self::BadBuckets => "bad_buckets",
            Self::NoValue => "no_value",
            Self::BadTemporality => "bad_temporality",
            Self::OutOfOrder => "out_of_order",
            Self::MaxSeries => "max_series",
            Self::NoName => "no_name",
        }
    }

    /// What the client is told, in `partial_success.error_message`.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::TooManyAttributes => "more attributes than the 64 tags a series may have",
            Self::NotFinite => "a NaN or infinite value, sum or bound",
            Self::BadBuckets => "histogram buckets that do not add up to the count or bounds that do not increase",
            Self::NoValue => "a point without a value or a metric without data",
            Self::BadTemporality => "an unspecified aggregation temporality",
            Self::OutOfOrder => "a cumulative point older than the last one received for its series",
            Self::MaxSeries => "the receiver already keeps max_series cumulative series",
            Self::NoName => "a metric without a name",
        }
    }

    /// The position of this reason in [`RejectReason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Points refused per reason, for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected(pub [u64; RejectReason::COUNT]);

impl Rejected {
    /// Counts one point refused for `reason`.
    pub fn add(&mut self, reason: RejectReason) {
        self.0[reason.index()] += 1;
    }

    /// Points refused, every reason together.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `partial_success.error_message`: how many points each reason refused, and why.
    pub fn message(&self) -> String {
        let parts: Vec<String> = RejectReason::ALL
            .iter()
            .filter(|r| self.0[r.index()] > 0)
            .map(|r| format!("{} {} ({})", self.0[r.index()], r.as_str(), r.describe()))
            .collect();
        format!("{} data points rejected: {}", self.total(), parts.join("; "))
    }
}

/// Why a whole request was refused: the `reason` label of `sluice_otlp_refused_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A body that does not decode (bad protobuf, JSON or gzip): 400.
    Malformed,
    /// A body over `max_body_bytes`, as sent or gunzipped: 413.
    TooLarge,
    /// A content type or encoding other than protobuf or JSON, identity or gzip: 415.
    UnsupportedMediaType,
    /// The aggregator's input queue stayed full: 429 with `Retry-After`.
    Overloaded,
    /// The aggregator is gone (the agent is stopping): 503 with `Retry-After`.
    Unavailable,
}

impl Refusal {
    /// Number of refusals.
    pub const COUNT: usize = 5;

    /// Every refusal, in [`Refusal::index`] order.
    pub const ALL: [Self; Self::COUNT] =
        [Self::Malformed, Self::TooLarge, Self::UnsupportedMediaType, Self::Overloaded, Self::Unavailable];

    /// Every label, in [`Refusal::index`] order.
    pub const LABELS: [&'static str; Self::COUNT] = crate::telemetry::labels!(Self::ALL, Self::COUNT);

    /// The `reason` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "unavailable",
        }
    }

    /// The HTTP status OTLP/HTTP gives it.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `google.rpc.Code` of the `Status` body.
    pub fn grpc_code(self) -> i32 {
        match self {
            // INVALID_ARGUMENT
            Self::Malformed | Self::UnsupportedMediaType => 3,
            // RESOURCE_EXHAUSTED
            Self::TooLarge | Self::Overloaded => 8,
            // UNAVAILABLE
            Self::Unavailable => 14,
        }
    }

    /// Seconds the client is asked to wait before retrying (`Retry-After`), for the
    /// refusals a retry can cure.
    pub fn retry_after(self) -> Option<u32> {
        match self {
            Self::Overloaded => Some(1),
            Self::Unavailable => Some(5),
            Self::Malformed | Self::TooLarge | Self::UnsupportedMediaType => None,
        }
    }

    /// The position of this refusal in [`Refusal::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}
