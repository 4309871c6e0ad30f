//! The OTLP receiver's decoders and conversion on arbitrary bodies.

use std::time::{Duration, Instant};

use prost::Message as _;

use crate::aggregator::input::MAX_TAGS;
use crate::config::AttributeRules;
use crate::sources::otlp::{AttributeFilter, Cumulative, Encoding, convert, decode};

/// `body` as a protobuf `ExportMetricsServiceRequest`; see [`check`].
pub fn otlp_protobuf(body: &[u8]) {
    check(body, Encoding::Protobuf);
}

/// `body` as an OTLP JSON `ExportMetricsServiceRequest`; see [`check`].
pub fn otlp_json(body: &[u8]) {
    check(body, Encoding::Json);
}

/// Decodes `body` as the receiver does and checks what it promises: a request that decodes
/// encodes to protobuf that decodes to the same request; converting it (every attribute
/// kept, through a small cumulative state, twice as a client's retry would) accounts for
/// every point and yields only samples the window can fold, within the tag limit.
fn check(body: &[u8], encoding: Encoding) {
    let Ok(request) = decode(body, encoding) else { return };
    let bytes = request.encode_to_vec();
    let again = decode(&bytes, Encoding::Protobuf).expect("an encoded request decodes");
    assert_eq!(again.encode_to_vec(), bytes, "a request encodes the same after a round trip");

    let filter = AttributeFilter::new(&AttributeRules { allow: vec!["*".to_owned()], deny: Vec::new() });
    let mut state = Cumulative::new(64, Duration::from_mins(1), 0);
    for _ in 0..2 {
        let converted = convert(&request, &filter, &mut state, Instant::now());
        let refused = converted.rejected.total();
        assert!(refused + converted.baselines <= converted.points, "a point is refused, a baseline or taken");
        for sample in &converted.samples {
            assert!(!sample.name().is_empty());
            assert!(sample.tags().len() <= MAX_TAGS, "{} tags", sample.tags().len());
        }
    }
}
