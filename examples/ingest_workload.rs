//! A fixed ingest workload for instruction counts (`valgrind --tool=callgrind`), where the
//! shared machine makes wall-clock benches too noisy to compare: 20 000 tagged counter
//! series and 20 000 plain timers, each updated five times in 24-line datagrams, then one
//! flush.

use std::hint::black_box;
use std::sync::Arc;

use sluice::aggregator::window::{WindowSettings, WindowState};

const SERIES: usize = 20_000;
const ROUNDS: usize = 5;
const LINES_PER_DATAGRAM: usize = 24;

fn main() {
    let settings = WindowSettings {
        percentiles: vec![50.0, 90.0, 95.0, 99.0],
        buckets: vec![],
        max_series: 200_000,
        expire_after_windows: 10,
        hostname: Arc::from("bench"),
        tags: Arc::from(Vec::new()),
    };
    let lines: Vec<String> = (0..SERIES)
        .flat_map(|i| {
            [
                format!("app.requests.{i}:1|c|#env:production,shard:{},zone:eu-west-1a", i % 64),
                format!("app.latency.{}:{}.5|ms|@0.5", i % 997, i % 1000),
            ]
        })
        .collect();
    let datagrams: Vec<Vec<u8>> =
        lines.chunks(LINES_PER_DATAGRAM).map(|chunk| (chunk.join("\n") + "\n").into_bytes()).collect();
    let mut state = WindowState::new(settings);
    let mut lines = 0;
    for _ in 0..ROUNDS {
        for d in &datagrams {
            lines += black_box(state.ingest(black_box(d))).lines;
        }
    }
    let window = state.flush(0, 10_000);
    println!("{lines} lines, {} series", window.series.len());
}
