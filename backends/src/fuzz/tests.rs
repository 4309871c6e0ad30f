//! The spool fuzz corpus replayed: every input the fuzzers keep (seeds, and every crash they
//! found, minimized) goes through the same entry points, so a regression fails `cargo test`.

use std::path::PathBuf;

/// Calls `entry` on every file of `fuzz/corpus/<target>/` (beside this crate); panics
/// (failing the test) on the first input that panics, naming it. Returns each file's name
/// and what `entry` returned for it.
fn replay<T>(target: &str, entry: fn(&[u8]) -> T) -> Vec<(String, T)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let input = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let out = std::panic::catch_unwind(|| entry(&input))
                .unwrap_or_else(|_| panic!("corpus input {} panics", file.display()));
            (file.file_name().unwrap_or_default().to_string_lossy().into_owned(), out)
        })
        .collect()
}

/// Every kept spool payload decodes or is refused, without panicking; the seeds, windows
/// written the way `encode` writes them, all decode.
#[test]
fn every_spool_decode_corpus_input_decodes_without_panicking() {
    let results = replay("spool_decode", super::spool_decode);
    let seeds: Vec<_> = results.iter().filter(|(name, _)| name.starts_with("seed-")).collect();
    assert!(!seeds.is_empty(), "the corpus has seeds");
    for (name, decoded) in seeds {
        assert!(decoded, "seed {name} is a valid spooled window");
    }
}

/// Every kept window survives the spool bit for bit.
#[test]
fn every_spool_round_trip_corpus_input_survives_the_spool() {
    assert!(!replay("spool_round_trip", super::spool_round_trip).is_empty(), "the corpus has inputs");
}
