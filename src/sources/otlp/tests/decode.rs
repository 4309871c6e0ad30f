//! Bodies in both encodings, gzip, and the answers in the client's encoding.

use std::io::Write as _;

use prost::Message as _;

use super::*;
use crate::sources::otlp::decode::{DecodeError, Encoding, decode, export_response, gunzip, status_response};
use crate::sources::otlp::proto::{ExportMetricsServiceResponse, Status};

/// The request the JSON below describes.
fn expected() -> ExportMetricsServiceRequest {
    let mut h = buckets(1_000, 2_000, &[1.0, 5.0], &[1, 2, 3], 20.5);
    (h.min, h.max) = (Some(0.25), Some(9.0));
    request(
        &[("service.name", "shop")],
        vec![
            sum("hits", true, true, vec![int(&[("route", "a")], 1_000, 2_000, 9_007_199_254_740_993)]),
            gauge("temp", vec![double(&[], 0, 2_000, -1.5)]),
            histogram("latency", false, vec![h]),
        ],
    )
}

/// OTLP JSON as the specification writes it: lowerCamelCase keys, 64-bit integers as strings,
/// enums as numbers.
const JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
 "scopeMetrics":[{"scope":{"name":"shop","version":"1.0"},"metrics":[
  {"name":"hits","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"attributes":[{"key":"route","value":{"stringValue":"a"}}],"startTimeUnixNano":"1000","timeUnixNano":"2000","asInt":"9007199254740993"}]}},
  {"name":"temp","gauge":{"dataPoints":[{"timeUnixNano":"2000","asDouble":-1.5}]}},
  {"name":"latency","histogram":{"aggregationTemporality":1,"dataPoints":[
    {"startTimeUnixNano":"1000","timeUnixNano":"2000","count":"6","sum":20.5,"bucketCounts":["1","2","3"],
     "explicitBounds":[1,5],"min":0.25,"max":9}]}}]}]}]}"#;

/// A request decodes to the same message from protobuf and from its OTLP JSON form, 64-bit
/// integers beyond `f64`'s precision included.
#[test]
fn protobuf_and_json_decode_to_the_same_request() {
    let expected = expected();
    assert_eq!(decode(&expected.encode_to_vec(), Encoding::Protobuf).unwrap(), expected);
    assert_eq!(decode(JSON.as_bytes(), Encoding::Json).unwrap(), expected);
}

/// JSON from other producers: proto field names, integers as numbers, enum names and unknown
/// fields are accepted, as the OTLP specification asks receivers to.
#[test]
fn json_accepts_proto_names_numbers_enum_names_and_unknown_fields() {
    let json = r#"{"resource_metrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
      "futureField":{"x":1},
      "scope_metrics":[{"scope":{"name":"shop","version":"1.0"},"metrics":[
      {"name":"hits","sum":{"aggregation_temporality":"AGGREGATION_TEMPORALITY_DELTA","is_monotonic":true,
       "data_points":[{"time_unix_nano":2000,"as_int":3}]}}]}]}]}"#;
    let request = decode(json.as_bytes(), Encoding::Json).unwrap();
    let converted = run(&mut state(), &request);
    assert_eq!(
        samples(&converted),
        [("hits".to_owned(), vec!["service.name:shop".to_owned()], SampleValue::Counter(3.0))]
    );
}

/// What is not a request is a decode error, never a panic or an empty request: bad protobuf,
/// JSON that is not an object of the schema, trailing bytes after the JSON.
#[test]
fn bodies_that_are_not_requests_are_decode_errors() {
    let protobuf = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01];
    assert!(matches!(decode(&protobuf, Encoding::Protobuf), Err(DecodeError::Protobuf(_))));
    for json in [&b"{\"resourceMetrics\":"[..], b"[1,2]", b"{\"resourceMetrics\":[{\"resource\":7}]}", b"{} {}"] {
        let result = decode(json, Encoding::Json);
        assert!(matches!(result, Err(DecodeError::Json(_))), "{}: {result:?}", String::from_utf8_lossy(json));
    }
}

/// Gzip is inflated up to the limit and no further: a small body that would inflate beyond it
/// is refused as too large, and a body that is not gzip as malformed.
#[test]
fn gunzip_stops_at_the_limit() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0_u8; 4 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 8 << 10, "4 MiB of zeros compress to {} bytes", bomb.len());
    assert!(matches!(gunzip(&bomb, 1 << 20), Err(DecodeError::TooLarge(_))));
    assert_eq!(gunzip(&bomb, 4 << 20).unwrap().len(), 4 << 20);
    assert!(matches!(gunzip(b"not gzip", 1 << 20), Err(DecodeError::Gzip(_))));
}

/// Answers are in the request's encoding: a partial success with the count and message (an
/// int64 as a string in JSON), none when every point was taken, a `google.rpc.Status` for a
/// refusal.
#[test]
fn answers_are_in_the_request_encoding() {
    let protobuf = ExportMetricsServiceResponse::decode(&export_response(3, "why".to_owned(), Encoding::Protobuf)[..]);
    let partial = protobuf.unwrap().partial_success.unwrap();
    assert_eq!((partial.rejected_data_points, partial.error_message.as_str()), (3, "why"));
    let json: serde_json::Value =
        serde_json::from_slice(&export_response(3, "why".to_owned(), Encoding::Json)).unwrap();
    assert_eq!(json, serde_json::json!({"partialSuccess": {"rejectedDataPoints": "3", "errorMessage": "why"}}));
    assert_eq!(export_response(0, String::new(), Encoding::Json), b"{}");
    assert!(export_response(0, String::new(), Encoding::Protobuf).is_empty());
    let status = Status::decode(&status_response(3, "bad".to_owned(), Encoding::Protobuf)[..]).unwrap();
    assert_eq!((status.code, status.message.as_str()), (3, "bad"));
    let json: serde_json::Value =
        serde_json::from_slice(&status_response(8, "big".to_owned(), Encoding::Json)).unwrap();
    assert_eq!(json, serde_json::json!({"code": 8, "message": "big"}));
}

/// Content types name the encoding with or without parameters, in any case.
#[test]
fn content_types_name_the_encoding() {
    assert_eq!(Encoding::from_content_type("application/x-protobuf"), Some(Encoding::Protobuf));
    assert_eq!(Encoding::from_content_type("Application/JSON; charset=utf-8"), Some(Encoding::Json));
    assert_eq!(Encoding::from_content_type("text/plain"), None);
    assert_eq!(Encoding::from_content_type(""), None);
}

/// The `partial_success` example in `docs/translation.md` is exactly what a request with one
/// NaN point is answered.
#[test]
fn the_documented_partial_success_is_what_the_receiver_answers() {
    let request = request(&[], vec![gauge("g", vec![double(&[], 0, 1, f64::NAN), double(&[], 0, 1, 1.0)])]);
    let converted = run(&mut state(), &request);
    let answer = export_response(converted.rejected.total(), converted.rejected.message(), Encoding::Json);
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/translation.md")).unwrap();
    let line = format!("    {}\n", String::from_utf8(answer).unwrap());
    assert!(doc.contains(&line), "docs/translation.md does not show {line}");
}
