//! Request bodies to [`ExportMetricsServiceRequest`], and answers back to the client's
//! encoding: protobuf through the generated types, OTLP JSON through the proto3 JSON mapping
//! over the same descriptors (field names in lowerCamelCase or as in the proto, 64-bit
//! integers as strings or numbers, enums as numbers or names, unknown fields ignored — as the
//! OTLP specification asks of receivers).

use std::io::Read as _;

use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage};

use super::proto::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse, Status, descriptor,
};

/// The fully qualified names of the messages read and written as JSON.
const REQUEST: &str = "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest";
const RESPONSE: &str = "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse";
const STATUS: &str = "google.rpc.Status";

/// How a body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (or `application/protobuf`).
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters such as `charset` ignored), if the
    /// receiver reads it.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Self::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of an answer in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `Content-Encoding: gzip` but not gzip.
    #[error("the body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// Gunzipped, the body is larger than the limit.
    #[error("the body is larger than max_body_bytes ({0} bytes) once gunzipped")]
    TooLarge(usize),
    /// Not a protobuf `ExportMetricsServiceRequest`.
    #[error("the body is not a protobuf ExportMetricsServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Not an OTLP JSON `ExportMetricsServiceRequest`.
    #[error("the body is not an OTLP JSON ExportMetricsServiceRequest: {0}")]
    Json(String),
}

/// `body` gunzipped, refused once it would exceed `limit` bytes (so a small body that
/// inflates enormously costs at most `limit`).
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(out)
}

/// The request `body` holds, in `encoding`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportMetricsServiceRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => Ok(ExportMetricsServiceRequest::decode(body)?),
        Encoding::Json => {
            let json = |e: &dyn std::fmt::Display| DecodeError::Json(e.to_string());
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let options = DeserializeOptions::new().deny_unknown_fields(false);
            let message = DynamicMessage::deserialize_with_options(descriptor(REQUEST), &mut deserializer, &options)
                .map_err(|e| json(&e))?;
            deserializer.end().map_err(|e| json(&e))?;
            message.transcode_to().map_err(|e| json(&e))
        }
    }
}

/// The answer to an accepted request: an empty `ExportMetricsServiceResponse`, or one whose
/// `partial_success` says how many points were refused and why.
pub fn export_response(rejected: u64, message: String, encoding: Encoding) -> Vec<u8> {
    let partial_success = (rejected > 0)
        .then_some(ExportMetricsPartialSuccess { rejected_data_points: rejected as i64, error_message: message });
    encode(&ExportMetricsServiceResponse { partial_success }, RESPONSE, encoding)
}

/// The answer to a refused request: a `google.rpc.Status` with `code` and `message`.
pub fn status_response(code: i32, message: String, encoding: Encoding) -> Vec<u8> {
    encode(&Status { code, message, details: Vec::new() }, STATUS, encoding)
}

fn encode(message: &impl prost::Message, name: &str, encoding: Encoding) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    match encoding {
        Encoding::Protobuf => bytes,
        Encoding::Json => {
            // Our own message, just encoded: it decodes, and a DynamicMessage serializes.
            DynamicMessage::decode(descriptor(name), bytes.as_slice())
                .ok()
                .and_then(|dynamic| serde_json::to_vec(&dynamic).ok())
                .unwrap_or_else(|| b"{}".to_vec())
        }
    }
}
