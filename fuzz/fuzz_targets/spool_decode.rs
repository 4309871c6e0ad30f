//! Arbitrary bytes as a spooled window's payload.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    backends::fuzz::spool_decode(data);
});
