//! The terminal form of the tap's lines: a header per window with its time range, then one
//! line per series, `name{tags} kind value`, sorted by name then tags.
//!
//! ```text
//! window 12 2025-11-22T15:00:00.000Z .. 15:00:10.000Z host=web-1 series=3
//!   checkout.latency timer count=1 sum=42 min=42 max=42 mean=42 p50=42 p99=42
//!   checkout.total{region:eu} counter sum=1 rate=0.1
//!   queue.depth gauge value=7
//! missed 3 windows: this tap read too slowly
//! ```

use std::fmt::Write as _;

use backends::units::iso8601;
use serde::Deserialize;

/// One line of `GET /tap`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Line {
    /// The tap fell behind and lost this many windows.
    Missed {
        /// How many.
        missed: u64,
    },
    /// A flushed window, in the file sink's form.
    Window(Window),
}

/// A window as the tap sends it; only what the terminal form shows.
#[derive(Debug, Deserialize)]
pub struct Window {
    /// Sequence number within the agent's run.
    pub id: u64,
    /// Start, Unix milliseconds.
    pub start_ms: u64,
    /// End (exclusive), Unix milliseconds.
    pub end_ms: u64,
    /// The agent's host.
    #[serde(default)]
    pub hostname: String,
    /// The series (those matching `--match`, when given).
    #[serde(default)]
    pub series: Vec<Series>,
    /// DogStatsD events.
    #[serde(default)]
    pub events: Vec<Event>,
    /// DogStatsD service checks.
    #[serde(default)]
    pub service_checks: Vec<ServiceCheck>,
}

/// One series: identity and value.
#[derive(Debug, Deserialize)]
pub struct Series {
    /// Name and tags.
    pub key: Key,
    /// What the window observed.
    pub value: Value,
}

/// A series' identity.
#[derive(Debug, Deserialize)]
pub struct Key {
    /// The metric name.
    pub name: String,
    /// Sorted tags, `key:value` or bare.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A series' value, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    /// A counter's window sum and per-second rate.
    Counter {
        /// Sum over the window.
        sum: f64,
        /// Sum per second.
        rate: f64,
    },
    /// A gauge's last value.
    Gauge {
        /// The value.
        value: f64,
    },
    /// A set's distinct members.
    Set {
        /// How many.
        count: u64,
    },
    /// A timer, histogram or distribution.
    Summary {
        /// `timer`, `histogram` or `distribution`.
        kind: String,
        /// Weighted sample count.
        count: f64,
        /// Weighted sum.
        sum: f64,
        /// Smallest sample.
        min: f64,
        /// Largest sample.
        max: f64,
        /// `(q, value)` per configured percentile.
        #[serde(default)]
        percentiles: Vec<(f64, f64)>,
    },
    /// An explicit-bucket histogram.
    Buckets {
        /// Upper bounds, `+Inf` implicit.
        bounds: Vec<f64>,
        /// Observations per bucket, not cumulative, one more than `bounds`.
        counts: Vec<u64>,
        /// Sum of the observations.
        sum: f64,
        /// Smallest observation, when the client reported it.
        min: Option<f64>,
        /// Largest observation, when the client reported it.
        max: Option<f64>,
    },
    /// A type this command does not know (from a newer agent).
    #[serde(other)]
    Unknown,
}

/// A DogStatsD event.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// Title.
    pub title: String,
    /// Text.
    #[serde(default)]
    pub text: String,
}

/// A DogStatsD service check.
#[derive(Debug, Deserialize)]
pub struct ServiceCheck {
    /// Check name.
    pub name: String,
    /// 0 OK, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
}

/// The terminal form of `line`.
pub fn render(line: &Line) -> String {
    match line {
        Line::Missed { missed } => {
            let noun = if *missed == 1 { "window" } else { "windows" };
            format!("missed {missed} {noun}: this tap read too slowly\n")
        }
        Line::Window(window) => render_window(window),
    }
}

fn render_window(w: &Window) -> String {
    let mut out = String::with_capacity(64 + w.series.len() * 64);
    let (start, end) = (iso8601(w.start_ms), iso8601(w.end_ms));
    // The end's date only when it differs from the start's.
    let end = if end[..10] == start[..10] { &end[11..] } else { &end[..] };
    let _ = writeln!(out, "window {} {start} .. {end} host={} series={}", w.id, w.hostname, w.series.len());
    let mut series: Vec<&Series> = w.series.iter().collect();
    series.sort_by(|a, b| (&a.key.name, &a.key.tags).cmp(&(&b.key.name, &b.key.tags)));
    for s in series {
        let _ = write!(out, "  {}", s.key.name);
        if !s.key.tags.is_empty() {
            let _ = write!(out, "{{{}}}", s.key.tags.join(","));
        }
        let _ = match &s.value {
            Value::Counter { sum, rate } => write!(out, " counter sum={sum} rate={rate}"),
            Value::Gauge { value } => write!(out, " gauge value={value}"),
            Value::Set { count } => write!(out, " set count={count}"),
            Value::Summary { kind, count, sum, min, max, percentiles } => {
                let mean = if *count > 0.0 { sum / count } else { 0.0 };
                let _ = write!(out, " {kind} count={count} sum={sum} min={min} max={max} mean={mean}");
                percentiles.iter().try_for_each(|(q, v)| write!(out, " p{q}={v}"))
            }
            Value::Buckets { bounds, counts, sum, min, max } => {
                let count: u64 = counts.iter().sum();
                let _ = write!(out, " buckets count={count} sum={sum}");
                for (name, v) in [("min", min), ("max", max)] {
                    if let Some(v) = v {
                        let _ = write!(out, " {name}={v}");
                    }
                }
                // Cumulative, as Prometheus' `le` counts.
                let mut total = 0;
                bounds.iter().zip(counts).try_for_each(|(bound, n)| {
                    total += n;
                    write!(out, " le{bound}={total}")
                })
            }
            Value::Unknown => write!(out, " (a kind this sluice does not know)"),
        };
        out.push('\n');
    }
    for e in &w.events {
        let _ = writeln!(out, "  event {:?} {:?}", e.title, e.text);
    }
    for c in &w.service_checks {
        let _ = writeln!(out, "  check {} status={}", c.name, c.status);
    }
    out
}
