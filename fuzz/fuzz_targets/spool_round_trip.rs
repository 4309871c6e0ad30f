//! An arbitrary window through the spool codec and back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| backends::fuzz::spool_round_trip(data));
