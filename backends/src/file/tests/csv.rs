use super::super::config::Format;
use super::*;
use crate::model::{Buckets, SummaryKind};
use crate::prometheus::tests::summary;
use crate::units::ByteSize;

/// Every value kind of the model, with a tag that needs quoting.
fn every_kind(id: u64) -> Window {
    let mut timer = summary(SummaryKind::Timer, &[(4.0, 1.0), (20.0, 1.0), (100.0, 2.0)], &[10.0, 50.0]);
    if let Value::Summary(s) = &mut timer {
        s.percentiles = vec![(50.0, 20.0), (99.9, 100.0)];
    }
    let series = vec![
        Series { key: key("app.hits", &["canary", "msg:a,\"b\""]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
        Series { key: key("cpu.temp", &[]), value: Value::Gauge { value: -1.5 } },
        Series { key: key("users", &[]), value: Value::Set { count: 2, members: vec![1, 2] } },
        Series { key: key("req.latency", &[]), value: timer },
        Series { key: key("h", &[]), value: summary(SummaryKind::Histogram, &[(0.25, 1.0)], &[]) },
        Series { key: key("d", &[]), value: summary(SummaryKind::Distribution, &[(7.0, 0.5)], &[]) },
        Series {
            key: key("otel.latency", &[]),
            value: Value::Buckets(Box::new(Buckets {
                bounds: Arc::from(&[0.1, 0.25][..]),
                counts: vec![3, 1, 2],
                sum: 1.5,
                min: Some(0.05),
                max: None,
            })),
        },
    ];
    window(id, series)
}

/// The rows of `every_kind`, as (name, tags, kind, field, value).
const ROWS: [[&str; 5]; 29] = [
    ["app.hits", "canary,msg:a,\"b\"", "counter", "sum", "30"],
    ["app.hits", "canary,msg:a,\"b\"", "counter", "rate", "3"],
    ["cpu.temp", "", "gauge", "value", "-1.5"],
    ["users", "", "set", "count", "2"],
    ["req.latency", "", "timer", "count", "4"],
    ["req.latency", "", "timer", "sum", "224"],
    ["req.latency", "", "timer", "min", "4"],
    ["req.latency", "", "timer", "max", "100"],
    ["req.latency", "", "timer", "p50", "20"],
    ["req.latency", "", "timer", "p99.9", "100"],
    ["req.latency", "", "timer", "le=10", "1"],
    ["req.latency", "", "timer", "le=50", "2"],
    ["req.latency", "", "timer", "le=+Inf", "4"],
    ["h", "", "histogram", "count", "1"],
    ["h", "", "histogram", "sum", "0.25"],
    ["h", "", "histogram", "min", "0.25"],
    ["h", "", "histogram", "max", "0.25"],
    ["h", "", "histogram", "le=+Inf", "1"],
    ["d", "", "distribution", "count", "0.5"],
    ["d", "", "distribution", "sum", "3.5"],
    ["d", "", "distribution", "min", "7"],
    ["d", "", "distribution", "max", "7"],
    ["d", "", "distribution", "le=+Inf", "0.5"],
    ["otel.latency", "", "buckets", "count", "6"],
    ["otel.latency", "", "buckets", "sum", "1.5"],
    ["otel.latency", "", "buckets", "min", "0.05"],
    ["otel.latency", "", "buckets", "le=0.1", "3"],
    ["otel.latency", "", "buckets", "le=0.25", "4"],
    ["otel.latency", "", "buckets", "le=+Inf", "6"],
];

fn fields(row: &::csv::StringRecord) -> Vec<&str> {
    row.iter().collect()
}

/// A CSV export is a header row and one row per value, every kind of the model, read back
/// exactly by a strict CSV reader (RFC 4180 quotes around the tag with a comma and quotes).
#[tokio::test]
async fn csv_rows_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let mut config = FileConfig::new(&path);
    config.format = Format::Csv;
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    write(&mut file, &every_kind(1)).await;
    write(&mut file, &every_kind(2)).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("window_start,window_end,hostname,agent_tags,name,tags,kind,field,value\n"));
    assert!(text.contains(",\"canary,msg:a,\"\"b\"\"\","), "RFC 4180 quoting: {text}");
    let mut reader = ::csv::ReaderBuilder::new().flexible(false).from_path(&path).unwrap();
    assert_eq!(reader.headers().unwrap(), &super::super::csv::COLUMNS[..]);
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let expected = &ROWS[..];
    assert_eq!(rows.len(), 2 * expected.len());
    for (i, row) in rows.iter().enumerate() {
        let id = i / expected.len() + 1;
        let want = expected[i % expected.len()];
        let start = crate::units::iso8601((id as u64 - 1) * 10_000);
        let end = crate::units::iso8601(id as u64 * 10_000);
        assert_eq!(&fields(row)[..4], [start.as_str(), end.as_str(), "web-1", "env:prod"], "row {i}");
        assert_eq!(&fields(row)[4..], want, "row {i}");
        // Each value reads back as the number it was.
        row[8].parse::<f64>().unwrap();
    }
}

/// Every CSV file the sink starts, after a rotation too, begins with the header.
#[tokio::test]
async fn every_rotated_csv_file_starts_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let mut config = FileConfig::new(&path);
    config.format = Format::Csv;
    config.rotate_size = Some(ByteSize(1));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=3 {
        write(&mut file, &counters(id, 50)).await;
        clock.advance(1);
    }
    let names = names(dir.path());
    assert_eq!(names.len(), 3);
    for (name, id) in names.iter().zip(1u64..) {
        let mut reader = ::csv::Reader::from_path(dir.path().join(name)).unwrap();
        assert_eq!(reader.headers().unwrap(), &super::super::csv::COLUMNS[..], "{name}");
        let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 100, "{name}");
        assert_eq!(&fields(&rows[0])[4..], ["app.c0", "route:/api", "counter", "sum", &(id * 1000).to_string()]);
        assert_eq!(&fields(&rows[99])[4..], ["app.c49", "route:/api", "counter", "rate", "0.5"]);
    }
}

/// The CSV example of `docs/translation.md` ("file") is exactly what the sink writes.
#[tokio::test]
async fn csv_matches_the_translation_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/translation.md")).unwrap();
    let golden = doc
        .split("<!-- file-csv-golden -->\n```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/translation.md has the file-csv-golden block");
    let mut timer = summary(SummaryKind::Timer, &[(4.0, 1.0), (20.0, 1.0), (100.0, 1.0)], &[50.0]);
    if let Value::Summary(s) = &mut timer {
        s.percentiles = vec![(99.0, 100.0)];
    }
    let window = window(
        1,
        vec![
            Series { key: key("app.hits", &["canary", "msg:a,\"b\""]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("req.latency", &[]), value: timer },
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let mut config = FileConfig::new(&path);
    config.format = Format::Csv;
    let mut file = file_with_clock(dir.path(), &config, &TestClock::new());
    write(&mut file, &window).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), golden);
}
