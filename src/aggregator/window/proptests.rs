use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::sources::statsd::parser::ParseError;

const MAX_SERIES: usize = 16;

fn state() -> WindowState {
    WindowState::new(WindowSettings {
        percentiles: vec![50.0, 99.0],
        buckets: vec![1.0, 10.0],
        max_series: MAX_SERIES,
        expire_after_windows: 2,
        hostname: Arc::from("h"),
        tags: Arc::from(Vec::new()),
    })
}

/// A valid metric line: few names (so series repeat), every type, optional rate and tags.
fn valid_line() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec!["a", "b.c", "d_e", "f-g", "h", "ü"]);
    let kinds = prop::sample::select(vec!["c", "g", "ms", "h", "d", "s"]);
    let values = prop::collection::vec(-1_000_000i64..1_000_000, 1..4);
    let rates = prop::sample::select(vec!["", "|@0.5", "|@1", "|@0.001"]);
    let tags = prop::collection::vec(prop::sample::select(vec!["x", "y:1", "z:2", "y:1"]), 0..4);
    (names, kinds, values, rates, tags).prop_map(|(name, kind, values, rate, tags)| {
        let values: Vec<String> = values.iter().map(|v| format!("{}", *v as f64 / 8.0)).collect();
        let value = if kind == "s" { values[0].clone() } else { values.join(":") };
        let tags = if tags.is_empty() { String::new() } else { format!("|#{}", tags.join(",")) };
        format!("{name}:{value}|{kind}{rate}{tags}")
    })
}

/// A line that can never parse: no `:`, no newline, and not an event or service check.
fn junk_line() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>().prop_filter("junk", |b| !matches!(b, b':' | b'\n' | b'\r' | b'_')), 1..40)
}

/// One mutation of a line: overwrite, insert or delete a byte.
fn mutate(mut line: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, byte, op) in edits {
        let at = if line.is_empty() { 0 } else { at % line.len() };
        match op % 3 {
            0 if !line.is_empty() => line[at] = byte,
            1 => line.insert(at, byte),
            _ if !line.is_empty() => {
                line.remove(at);
            }
            _ => {}
        }
    }
    line
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic ingestion or flushing, and never exceed `max_series`.
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..512), 1..8)) {
        let mut w = state();
        for d in &datagrams {
            let got = w.ingest(d);
            prop_assert!(got.errors <= got.lines);
            prop_assert!(w.series_count() <= MAX_SERIES);
        }
        let window = w.flush(0, 1000);
        prop_assert!(window.series.len() <= MAX_SERIES);
    }

    /// Mutated valid lines never panic; every line is either accepted or counted as an error.
    #[test]
    fn mutated_lines_are_accepted_or_counted(
        lines in prop::collection::vec((valid_line(), prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4)), 1..20),
    ) {
        let mut w = state();
        let mut datagram = Vec::new();
        for (line, edits) in lines {
            datagram.extend(mutate(line.into_bytes(), &edits));
            datagram.push(b'\n');
        }
        let got = w.ingest(&datagram);
        let counts = w.take_counts();
        prop_assert_eq!(counts.lines + counts.parse_error_total(), got.lines);
        prop_assert_eq!(counts.parse_error_total(), got.errors);
        prop_assert!(w.series_count() <= MAX_SERIES);
        w.flush(0, 1000);
        w.flush(1000, 2000);
        w.flush(2000, 3000);
        prop_assert_eq!(w.series_count(), 0);
    }

    /// Valid lines mixed with junk lines are all accepted, and each junk line is one error.
    #[test]
    fn valid_lines_survive_junk_neighbours(
        lines in prop::collection::vec(prop_oneof![valid_line().prop_map(Ok), junk_line().prop_map(Err)], 1..30),
    ) {
        let mut w = state();
        let mut datagram = Vec::new();
        let (mut valid, mut junk) = (0, 0);
        for line in lines {
            match line {
                Ok(line) => { valid += 1; datagram.extend_from_slice(line.as_bytes()); }
                Err(bytes) => { junk += 1; datagram.extend(bytes); }
            }
            datagram.extend_from_slice(b"\r\n");
        }
        w.ingest(&datagram);
        let counts = w.take_counts();
        prop_assert_eq!(counts.lines, valid);
        prop_assert_eq!(counts.parse_error_total(), junk);
        prop_assert_eq!(counts.parse_errors[ParseError::MissingValue.index()], junk);
    }
}
