//! An arbitrary config file through the loader: TOML, `${ENV}`, deserialization, validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzz::config_text(data));
