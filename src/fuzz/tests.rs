//! The fuzz corpus replayed: every input the fuzzers keep (seeds, and every crash they found,
//! minimized) goes through the same entry points, so a regression fails a plain `cargo test`.

use std::path::PathBuf;

/// Calls `entry` on every file of `fuzz/corpus/<target>/`; panics (failing the test) on the
/// first input that panics, naming it. Returns how many inputs ran.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    for file in &files {
        let input = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(std::panic::catch_unwind(|| entry(&input)).is_ok(), "corpus input {} panics", file.display());
    }
    files.len()
}

/// Every kept StatsD datagram parses without breaking a parser promise.
#[test]
fn every_statsd_corpus_input_parses_without_panicking() {
    assert!(replay("statsd_parser", super::statsd_datagram) > 0, "the corpus has inputs");
}

/// Every kept config file loads or is refused with a located message, without panicking.
#[test]
fn every_config_corpus_input_loads_without_panicking() {
    assert!(replay("config_loader", super::config_text) > 0, "the corpus has inputs");
}

/// Every kept OTLP protobuf body decodes and converts without breaking a promise.
#[test]
fn every_otlp_protobuf_corpus_input_converts_without_panicking() {
    assert!(replay("otlp_protobuf", super::otlp_protobuf) > 0, "the corpus has inputs");
}

/// Every kept OTLP JSON body decodes and converts without breaking a promise.
#[test]
fn every_otlp_json_corpus_input_converts_without_panicking() {
    assert!(replay("otlp_json", super::otlp_json) > 0, "the corpus has inputs");
}

/// Every kept exposition parses and converts without breaking a promise.
#[test]
fn every_scrape_corpus_input_converts_without_panicking() {
    assert!(replay("scrape_text", super::scrape_text) > 0, "the corpus has inputs");
}
