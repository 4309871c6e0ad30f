//! The console's text form of a window: one header line, then one line per series.

use std::fmt::Write as _;

use crate::model::{Series, Value, Window};

/// Renders `window` as text, one line per series, sorted by name then tags.
///
/// ```text
/// window 7 [1763823600.000, 1763823610.000) host=web-1 series=2 events=0 service_checks=0
///   counter app.hits{route:/} sum=30 rate=3
///   timer   app.latency count=3 sum=60 min=10 max=30 mean=20 p50=20.1 p99=29.9
/// ```
pub fn encode(window: &Window) -> String {
    let mut out = String::with_capacity(64 + window.series.len() * 64);
    let _ = writeln!(
        out,
        "window {} [{:.3}, {:.3}) host={} series={} events={} service_checks={}",
        window.id,
        window.start_ms as f64 / 1000.0,
        window.end_ms as f64 / 1000.0,
        window.hostname,
        window.series.len(),
        window.events.len(),
        window.service_checks.len(),
    );
    let mut series: Vec<&Series> = window.series.iter().collect();
    series.sort_by(|a, b| (&a.key.name, &a.key.tags).cmp(&(&b.key.name, &b.key.tags)));
    for s in series {
        write_series(&mut out, s);
    }
    for e in &window.events {
        let _ = writeln!(out, "  event   {:?} {:?}", e.title, e.text);
    }
    for c in &window.service_checks {
        let _ = writeln!(out, "  check   {} status={}", c.name, c.status);
    }
    out
}

fn write_series(out: &mut String, s: &Series) {
    let kind = match &s.value {
        Value::Counter { .. } => "counter",
        Value::Gauge { .. } => "gauge",
        Value::Set { .. } => "set",
        Value::Summary(sum) => match sum.kind {
            crate::SummaryKind::Timer => "timer",
            crate::SummaryKind::Histogram => "histogram",
            crate::SummaryKind::Distribution => "distribution",
        },
        Value::Buckets(_) => "buckets",
    };
    let _ = write!(out, "  {kind:<7} {}", s.key.name);
    if !s.key.tags.is_empty() {
        let _ = write!(out, "{{{}}}", s.key.tags.join(","));
    }
    match &s.value {
        Value::Counter { sum, rate } => {
            let _ = write!(out, " sum={sum} rate={rate}");
        }
        Value::Gauge { value } => {
            let _ = write!(out, " value={value}");
        }
        Value::Set { count, .. } => {
            let _ = write!(out, " count={count}");
        }
        Value::Summary(sum) => {
            let _ =
                write!(out, " count={} sum={} min={} max={} mean={}", sum.count, sum.sum, sum.min, sum.max, sum.mean());
            for (q, v) in &sum.percentiles {
                let _ = write!(out, " p{q}={v}");
            }
        }
        Value::Buckets(b) => {
            let _ = write!(out, " count={} sum={} mean={}", b.count(), b.sum, b.mean());
            for (name, v) in [("min", b.min), ("max", b.max)] {
                if let Some(v) = v {
                    let _ = write!(out, " {name}={v}");
                }
            }
            // Cumulative, as the `le` buckets of Prometheus count.
            for (bound, count) in b.cumulative() {
                let _ = write!(out, " le{bound}={count}");
            }
        }
    }
    out.push('\n');
}
