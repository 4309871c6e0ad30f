use std::sync::Arc;

use super::{File, FileConfig};
use crate::backend::Backend;
use crate::model::{Series, SeriesKey, Value, Window};

/// Each window becomes one JSON line appended to the file, with exact values.
#[tokio::test]
async fn file_backend_appends_one_json_line_per_window() {
    let dir = std::env::temp_dir().join(format!("sluice-file-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("windows.jsonl");
    let _ = std::fs::remove_file(&path);
    let mut backend = File::new("export", &FileConfig::new(path.clone()), &dir, Arc::default()).unwrap();
    for id in 1..=2 {
        let window = Window {
            id,
            start_ms: 0,
            end_ms: 10_000,
            hostname: "h".into(),
            tags: Arc::new(["env:prod".into()]),
            series: vec![Series {
                key: Arc::new(SeriesKey { name: "hits".into(), tags: Box::new(["a:b".into()]), hash: 1 }),
                value: Value::Counter { sum: 4.0, rate: 0.4 },
            }],
            events: Vec::new(),
            service_checks: Vec::new(),
        };
        let batches = backend.encode(&window).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].series, 1);
        backend.send(&batches[0].payload).await.unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["tags"][0], "env:prod");
    assert_eq!(lines[1]["series"][0]["key"]["name"], "hits");
    assert_eq!(lines[1]["series"][0]["value"], serde_json::json!({ "type": "counter", "sum": 4.0, "rate": 0.4 }));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An explicit-bucket histogram is written with its bounds, per-bucket counts, sum and the
/// client's extremes (`null` when unknown).
#[test]
fn explicit_buckets_are_written_as_bounds_and_counts() {
    let value = Value::Buckets(Box::new(crate::model::Buckets {
        bounds: Arc::from(&[0.1, 0.25][..]),
        counts: vec![3, 1, 2],
        sum: 1.5,
        min: Some(0.05),
        max: None,
    }));
    assert_eq!(
        serde_json::to_value(&value).unwrap(),
        serde_json::json!({ "type": "buckets", "bounds": [0.1, 0.25], "counts": [3, 1, 2], "sum": 1.5, "min": 0.05, "max": null })
    );
}
