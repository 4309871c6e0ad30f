//! The file sink's tests: each format read back exactly, rotation, retention, and a reader
//! tailing the file while windows are written and rotated.

mod csv;
mod errors;
mod json;
mod prometheus;
mod reader;
mod retention;
mod rotation;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{File, FileConfig};
use crate::backend::Backend;
use crate::model::{Series, Value, Window};
use crate::prometheus::tests::{key, window};

/// 2026-12-03T14:15:00Z, where the injected clocks start.
const START: u64 = 1_796_307_300;

/// A clock the test moves by hand, in whole seconds since the Unix epoch.
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(START)))
    }

    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Relaxed);
    }

    fn clock(&self) -> super::rotation::Clock {
        let now = Arc::clone(&self.0);
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(now.load(Relaxed)))
    }
}

fn file_with_clock(dir: &Path, config: &FileConfig, clock: &TestClock) -> File {
    File::with_clock("export", config, dir, Arc::default(), clock.clock()).unwrap()
}

/// Encodes and writes `window` as the delivery task does.
async fn write(file: &mut File, window: &Window) {
    let batches = file.encode(window).unwrap();
    assert_eq!(batches.len(), 1, "one write per window");
    file.send(&batches[0].payload).await.unwrap();
    file.delivered(window);
}

/// A window of `n` counters `app.c<i>` with sum `id * 1000 + i`.
fn counters(id: u64, n: usize) -> Window {
    let series = (0..n)
        .map(|i| Series {
            key: key(&format!("app.c{i}"), &["route:/api"]),
            value: Value::Counter { sum: (id * 1000 + i as u64) as f64, rate: 0.5 },
        })
        .collect();
    window(id, series)
}

/// The file names in `dir`, sorted as strings (as `ls` sorts them).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// The window ids of a JSON-lines file, checking every line parses.
fn ids(path: &PathBuf) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_u64().unwrap())
        .collect()
}

fn at(secs_after_start: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(START + secs_after_start)
}
