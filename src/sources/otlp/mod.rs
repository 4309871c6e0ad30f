//! The OTLP/HTTP metrics receiver (`[sources.otlp]`): `POST /v1/metrics` on a listener of its
//! own, bodies in protobuf or OTLP JSON (gzip accepted), each OTLP type turned into the
//! window's typed samples. Cumulative points become per-window deltas against the last point
//! of their series ([`cumulative`]); a point that cannot be taken is refused alone and counted
//! by reason, and told to the client in `partial_success`.
//!
//! - [`decode`]: bodies to requests, answers back (both encodings).
//! - [`convert`]: a request to samples; [`exponential`]: exponential histograms' buckets.
//! - [`attributes`]: attribute values as tag text, the resource attribute filter.
//! - [`server`]: the route, its limits and statuses; [`spec`]: its place in the registry.

mod attributes;
mod convert;
mod cumulative;
mod decode;
mod exponential;
mod proto;
mod reject;
mod server;
mod spec;

#[cfg(test)]
mod tests;

// For the fuzz targets, which drive the decoders and the conversion without a server, and
// the scrape source, which keeps its cumulative series the same way.
pub(crate) use attributes::AttributeFilter;
pub(crate) use convert::convert;
pub use cumulative::Cumulative;
pub(crate) use cumulative::{Last, Stamp, Step, increase};
pub(crate) use decode::{Encoding, decode};
pub use reject::{Refusal, RejectReason};
pub use spec::{OtlpListener, OtlpSpec};
