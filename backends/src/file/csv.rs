//! `format = "csv"`: one row per value of each series, RFC 4180 quoting by the `csv` crate.

use crate::model::{Summary, SummaryKind, Value, Window};
use crate::units::iso8601;

/// The header row's columns, in order (`docs/translation.md`, "file").
pub(crate) const COLUMNS: [&str; 9] =
    ["window_start", "window_end", "hostname", "agent_tags", "name", "tags", "kind", "field", "value"];

/// The header row, newline included; the first line of every CSV file the sink starts.
pub(crate) fn header() -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to a `Vec` cannot fail.
    let _ = out.write_record(COLUMNS);
    out.into_inner().unwrap_or_default()
}

/// Every value of `window` as CSV rows (no header), each ending with a newline.
pub(crate) fn rows(window: &Window) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let start = iso8601(window.start_ms);
    let end = iso8601(window.end_ms);
    let agent_tags = window.tags.join(",");
    for series in &window.series {
        let tags = series.key.tags.join(",");
        let mut row = |kind: &str, field: &str, value: String| {
            out.write_record([
                start.as_str(),
                end.as_str(),
                window.hostname.as_ref(),
                agent_tags.as_str(),
                series.key.name.as_ref(),
                tags.as_str(),
                kind,
                field,
                value.as_str(),
            ])
        };
        match &series.value {
            Value::Counter { sum, rate } => {
                row("counter", "sum", number(*sum))?;
                row("counter", "rate", number(*rate))?;
            }
            Value::Gauge { value } => row("gauge", "value", number(*value))?,
            Value::Set { count, .. } => row("set", "count", count.to_string())?,
            Value::Summary(summary) => summary_rows(summary, &mut row)?,
            Value::Buckets(buckets) => {
                row("buckets", "count", buckets.count().to_string())?;
                row("buckets", "sum", number(buckets.sum))?;
                if let Some(min) = buckets.min {
                    row("buckets", "min", number(min))?;
                }
                if let Some(max) = buckets.max {
                    row("buckets", "max", number(max))?;
                }
                for (bound, count) in buckets.cumulative() {
                    row("buckets", &format!("le={}", number(bound)), count.to_string())?;
                }
                row("buckets", "le=+Inf", buckets.count().to_string())?;
            }
        }
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn summary_rows(
    summary: &Summary,
    row: &mut impl FnMut(&str, &str, String) -> Result<(), csv::Error>,
) -> Result<(), csv::Error> {
    let kind = match summary.kind {
        SummaryKind::Timer => "timer",
        SummaryKind::Histogram => "histogram",
        SummaryKind::Distribution => "distribution",
    };
    row(kind, "count", number(summary.count))?;
    row(kind, "sum", number(summary.sum))?;
    row(kind, "min", number(summary.min))?;
    row(kind, "max", number(summary.max))?;
    for &(q, value) in &summary.percentiles {
        row(kind, &format!("p{}", number(q)), number(value))?;
    }
    for &(bound, count) in &summary.buckets {
        row(kind, &format!("le={}", number(bound)), number(count))?;
    }
    row(kind, "le=+Inf", number(summary.count))
}

/// A float as Rust's shortest form that reads back to the same value (`0.4`, `30`, `-1.5`,
/// `NaN`, `inf`); never an exponent.
fn number(value: f64) -> String {
    value.to_string()
}
