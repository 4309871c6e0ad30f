use std::sync::atomic::Ordering::Relaxed;

use backends::prometheus::FamilyType::{Counter, Gauge};

use super::{Readings, series_name};
use crate::aggregator::input::{Sample, SampleValue};
use crate::telemetry::Telemetry;

fn read(readings: &mut Readings, t: &Telemetry) -> Vec<Sample> {
    let mut out = Vec::new();
    readings.read(t, &mut out);
    out
}

/// The value of the one sample named `name` with exactly `tags`.
fn value<'a>(samples: &'a [Sample], name: &str, tags: &[&str]) -> &'a SampleValue {
    let found: Vec<_> = samples.iter().filter(|s| s.name() == name && s.tags().eq(tags.iter().copied())).collect();
    assert_eq!(found.len(), 1, "{name} {tags:?} in {samples:#?}");
    found[0].value()
}

/// A family's prefix becomes `sluice.` and a counter loses its `_total`; a gauge keeps its
/// whole name.
#[test]
fn families_are_named_sluice_dot_without_a_counters_total() {
    assert_eq!(series_name("sluice_received_lines_total", Counter), "sluice.received_lines");
    assert_eq!(series_name("sluice_backend_buffered_windows", Gauge), "sluice.backend_buffered_windows");
    assert_eq!(series_name("sluice_series", Gauge), "sluice.series");
}

/// The first reading of a counter sends its whole value (it counted from 0 with the agent),
/// later ones the increase, and one lower than before (started again) its whole value.
#[test]
fn counters_are_sent_as_their_increase_since_the_previous_reading() {
    let t = Telemetry::for_tests();
    let (_, udp) = t.listener("udp:127.0.0.1:8125");
    let mut readings = Readings::default();
    let tags = ["listener:udp:127.0.0.1:8125"];

    udp.lines.store(5, Relaxed);
    assert_eq!(value(&read(&mut readings, &t), "sluice.received_lines", &tags), &SampleValue::Counter(5.0));
    udp.lines.store(12, Relaxed);
    assert_eq!(value(&read(&mut readings, &t), "sluice.received_lines", &tags), &SampleValue::Counter(7.0));
    assert_eq!(value(&read(&mut readings, &t), "sluice.received_lines", &tags), &SampleValue::Counter(0.0));
    udp.lines.store(3, Relaxed);
    assert_eq!(value(&read(&mut readings, &t), "sluice.received_lines", &tags), &SampleValue::Counter(3.0));
}

/// Gauges are sent as their value at each reading, however often they are read.
#[test]
fn gauges_are_sent_as_their_value() {
    let t = Telemetry::for_tests();
    let mut readings = Readings::default();
    t.series.store(42, Relaxed);
    assert_eq!(value(&read(&mut readings, &t), "sluice.series", &[]), &SampleValue::Gauge(42.0));
    assert_eq!(value(&read(&mut readings, &t), "sluice.series", &[]), &SampleValue::Gauge(42.0));
    t.series.store(7, Relaxed);
    assert_eq!(value(&read(&mut readings, &t), "sluice.series", &[]), &SampleValue::Gauge(7.0));
}

/// Every sample line of `/metrics` is one sample of a reading, with the same name (renamed),
/// labels and value: the two read the same families.
#[test]
fn a_reading_holds_every_sample_metrics_shows() {
    let t = Telemetry::for_tests();
    let (_, udp) = t.listener("udp:127.0.0.1:8125");
    udp.lines.store(1234, Relaxed);
    udp.bytes.store(56_789, Relaxed);
    t.flushes.store(9, Relaxed);
    t.series.store(3, Relaxed);
    t.otlp.points.store(77, Relaxed);
    let text = crate::api::render(&t);
    let samples = read(&mut Readings::default(), &t);

    let mut kind = Gauge;
    let mut lines = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            kind = if rest.ends_with(" counter") { Counter } else { Gauge };
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        lines += 1;
        let (series, number) = line.rsplit_once(' ').unwrap();
        let (family, labels) = series.split_once('{').unwrap_or((series, ""));
        let tags: Vec<String> = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                format!("{k}:{}", v.trim_matches('"'))
            })
            .collect();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let number: f64 = number.parse().unwrap();
        let expected = if kind == Counter { SampleValue::Counter(number) } else { SampleValue::Gauge(number) };
        assert_eq!(value(&samples, &series_name(family, kind), &tags), &expected, "{line}");
    }
    assert_eq!(samples.len(), lines);
    assert!(lines > 10, "{text}");
}
