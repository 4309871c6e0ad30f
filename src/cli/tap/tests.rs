use std::sync::Arc;

use backends::{Buckets, Event, Series, SeriesKey, ServiceCheck, Sketch, Summary, SummaryKind, Value, Window};

use backends::units::iso8601;

use super::render::{Line, render};

fn series(name: &str, tags: &[&str], value: Value) -> Series {
    Series {
        key: Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 }),
        value,
    }
}

/// The window of the README's quick start, plus a set, an event and a service check.
fn window() -> Window {
    Window {
        id: 12,
        start_ms: 1_763_823_600_000,
        end_ms: 1_763_823_610_000,
        hostname: "web-1".into(),
        tags: Arc::new([]),
        series: vec![
            series("queue.depth", &[], Value::Gauge { value: 7.0 }),
            series("checkout.total", &["region:eu"], Value::Counter { sum: 1.0, rate: 0.1 }),
            series(
                "checkout.latency",
                &[],
                Value::Summary(Box::new(Summary {
                    kind: SummaryKind::Timer,
                    count: 2.0,
                    sum: 84.0,
                    min: 40.0,
                    max: 44.0,
                    percentiles: vec![(50.0, 40.0), (99.9, 44.0)],
                    buckets: Vec::new(),
                    sketch: Sketch::new(),
                })),
            ),
            series("checkout.users", &["region:eu", "app"], Value::Set { count: 3, members: vec![1, 2, 3] }),
        ],
        events: vec![Event {
            title: "deploy".into(),
            text: "v2 is out".into(),
            timestamp: None,
            hostname: None,
            aggregation_key: None,
            priority: None,
            source_type: None,
            alert_type: None,
            tags: Vec::new(),
        }],
        service_checks: vec![ServiceCheck {
            name: "db.up".into(),
            status: 2,
            timestamp: None,
            hostname: None,
            message: None,
            tags: Vec::new(),
        }],
    }
}

/// A window as the agent sends it (the file sink's JSON line) reads as a header with its UTC
/// time range, then `name{tags} kind value` per series sorted by name, then events and checks.
#[test]
fn a_tapped_window_reads_as_one_line_per_series_under_its_time_range() {
    let line = backends::file::json_line(&window()).unwrap();
    let parsed: Line = serde_json::from_slice(&line).unwrap();
    assert_eq!(
        render(&parsed),
        "window 12 2025-11-22T15:00:00.000Z .. 15:00:10.000Z host=web-1 series=4\n\
         \x20 checkout.latency timer count=2 sum=84 min=40 max=44 mean=42 p50=40 p99.9=44\n\
         \x20 checkout.total{region:eu} counter sum=1 rate=0.1\n\
         \x20 checkout.users{region:eu,app} set count=3\n\
         \x20 queue.depth gauge value=7\n\
         \x20 event \"deploy\" \"v2 is out\"\n\
         \x20 check db.up status=2\n"
    );
}

/// An explicit-bucket histogram reads as its count, sum, the extremes the client reported and
/// the cumulative `le` counts.
#[test]
fn a_tapped_histogram_reads_as_cumulative_buckets() {
    let mut w = window();
    let buckets =
        Buckets { bounds: Arc::from([0.1, 1.0]), counts: vec![2, 0, 1], sum: 3.25, min: None, max: Some(3.0) };
    w.series = vec![series("rpc.seconds", &["method:get"], Value::Buckets(Box::new(buckets)))];
    let parsed: Line = serde_json::from_slice(&backends::file::json_line(&w).unwrap()).unwrap();
    let rendered = render(&parsed);
    let line = rendered.lines().nth(1).unwrap();
    assert_eq!(line, "  rpc.seconds{method:get} buckets count=3 sum=3.25 max=3 le0.1=2 le1=2");
}

/// The line saying the tap fell behind reads as how many windows were missed.
#[test]
fn a_missed_line_says_how_many_windows_were_lost() {
    let one: Line = serde_json::from_slice(b"{\"missed\":1}\n").unwrap();
    let many: Line = serde_json::from_slice(b"{\"missed\":3}\n").unwrap();
    assert_eq!(render(&one), "missed 1 window: this tap read too slowly\n");
    assert_eq!(render(&many), "missed 3 windows: this tap read too slowly\n");
}

/// A window spanning midnight shows the end's date too; a value kind from a newer agent is
/// shown as unknown rather than refusing the window.
#[test]
fn a_window_across_midnight_and_an_unknown_kind_still_read() {
    let line = r#"{"id":1,"start_ms":1763855995000,"end_ms":1763856005000,"hostname":"h",
        "series":[{"key":{"name":"x","tags":[]},"value":{"type":"exemplar","v":1}}]}"#;
    let parsed: Line = serde_json::from_str(line).unwrap();
    assert_eq!(
        render(&parsed),
        "window 1 2025-11-22T23:59:55.000Z .. 2025-11-23T00:00:05.000Z host=h series=1\n\
         \x20 x (a kind this sluice does not know)\n"
    );
}

/// Unix milliseconds become UTC dates, leap days and century ends included.
#[test]
fn unix_milliseconds_become_utc_timestamps() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(iso8601(1_763_823_610_000), "2025-11-22T15:00:10.000Z");
    assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
}
