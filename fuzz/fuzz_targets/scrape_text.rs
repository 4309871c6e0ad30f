//! A scraped exposition through the scrape source's parser and conversion.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzz::scrape_text(data));
