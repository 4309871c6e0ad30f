//! An OTLP/HTTP protobuf body through the receiver's decoder and conversion.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzz::otlp_protobuf(data));
