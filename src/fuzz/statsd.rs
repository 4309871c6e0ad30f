//! The StatsD/DogStatsD parser on arbitrary datagrams.

use crate::sources::statsd::parser::{
    GaugeUpdate, Item, MAX_CONTAINER_ID_BYTES, MAX_TAGS, Metric, MetricType, parse_datagram, parse_line,
};

/// Parses `datagram` as a StatsD listener does and checks every line against the parser's
/// promises: one item per non-empty line, the same as parsing the line alone, and each
/// metric's fields within their documented bounds, its values exactly what `str::parse`
/// gives.
pub fn statsd_datagram(datagram: &[u8]) {
    let mut items = parse_datagram(datagram);
    for line in datagram.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let item = items.next().expect("parse_datagram yields one item per non-empty line");
        assert_eq!(item, parse_line(line), "a line parses the same alone and in its datagram");
        if let Ok(Item::Metric(metric)) = item {
            check_metric(line, &metric);
        }
    }
    assert!(items.next().is_none(), "parse_datagram yields nothing after the last line");
}

fn check_metric(line: &[u8], metric: &Metric<'_>) {
    assert!(!metric.name.is_empty(), "a metric name is never empty");
    assert_eq!(&line[..=metric.name.len()], [metric.name.as_bytes(), b":"].concat(), "the name is the line's head");
    assert!(metric.sample_rate > 0.0 && metric.sample_rate <= 1.0, "rate {} out of (0, 1]", metric.sample_rate);
    assert!(metric.container.is_none_or(|c| !c.is_empty() && c.len() <= MAX_CONTAINER_ID_BYTES));
    assert_eq!(metric.tags().count(), metric.tag_count(), "tag_count counts what tags() yields");
    assert!(metric.tag_count() <= MAX_TAGS);
    assert!(metric.tags().all(|t| !t.is_empty() && !t.contains(',')), "tags are non-empty and split at commas");

    // The value field: from after the name's colon up to the first `|`.
    let field = &line[metric.name.len() + 1..];
    let field = &field[..field.iter().position(|&b| b == b'|').expect("a metric line has a type")];
    if metric.kind == MetricType::Set {
        assert_eq!(metric.member(), Some(field), "a set's member is its value field verbatim");
        assert_eq!(metric.values().count(), 0);
        assert_eq!(metric.sample_count(), 1);
        return;
    }
    assert_eq!(metric.member(), None);
    let chunks: Vec<&[u8]> = field.split(|&b| b == b':').collect();
    assert_eq!(metric.sample_count(), chunks.len(), "one sample per packed value");
    let values: Vec<f64> = metric.values().collect();
    let updates: Vec<GaugeUpdate> = metric.gauge_updates().collect();
    assert_eq!(values.len(), chunks.len());
    assert_eq!(updates.len(), chunks.len());
    for ((chunk, value), update) in chunks.into_iter().zip(values).zip(updates) {
        let text = std::str::from_utf8(chunk).expect("an accepted value is UTF-8");
        let expected: f64 = text.parse().expect("an accepted value parses as f64");
        assert!(expected.is_finite(), "{text:?} was accepted but is not finite");
        assert_eq!(value.to_bits(), expected.to_bits(), "{text:?} parsed as {value:?}, str::parse gives {expected:?}");
        let signed = matches!(chunk.first(), Some(b'+' | b'-'));
        let expected_update = if signed { GaugeUpdate::Delta(expected) } else { GaugeUpdate::Set(expected) };
        assert_eq!(update, expected_update, "a leading sign makes a gauge delta");
    }
}
