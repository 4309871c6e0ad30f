//! The scrape source's parser and conversion on arbitrary bodies.

use std::time::{Duration, Instant};

use crate::aggregator::input::MAX_TAGS;
use crate::sources::otlp::Cumulative;
use crate::sources::scrape::{Context, Format, convert};

/// `body` as a scraped exposition, in both formats; converted as a target read three times
/// (the first a baseline, the next two against it) through a small cumulative state. Checks
/// that every line is read or counted as malformed, never both, and that every sample has a
/// name and at most 64 tags.
pub fn scrape_text(body: &[u8]) {
    for format in [Format::Text, Format::OpenMetrics] {
        let mut state = Cumulative::new(64, Duration::from_mins(1), 0);
        for scrape in 0..3 {
            let context = Context {
                job: "fuzz",
                instance: "127.0.0.1:9100",
                known: scrape > 0,
                started: 0,
                time: scrape,
                now: Instant::now(),
            };
            let converted = convert(body, format, &context, &mut state);
            let lines = body.split(|&b| b == b'\n').count() as u64;
            assert!(converted.lines + converted.malformed <= lines, "a line is read once at most");
            for sample in &converted.samples {
                assert!(!sample.name().is_empty());
                assert!(sample.tags().len() <= MAX_TAGS, "{} tags", sample.tags().len());
            }
        }
    }
}
