//! A window as InfluxDB line protocol: one line per series, in batches of at most
//! [`MAX_LINES_PER_BATCH`] lines. The exact mapping is in `docs/translation.md`.

use std::borrow::Cow;

use influxdb_line_protocol::LineProtocolBuilder;

use super::config::Precision;
use crate::model::{Series, Value, Window, split_tag};

/// Lines per write request. InfluxDB's documentation on optimizing writes recommends batches
/// of 5000 lines (<https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/>
/// and <https://docs.influxdata.com/influxdb/v2/write-data/best-practices/optimize-writes/>).
pub const MAX_LINES_PER_BATCH: usize = 5000;

/// The value written for a bare DogStatsD tag (`#canary`): InfluxDB has no tag without a value.
const BARE_TAG_VALUE: &str = "true";

/// The tag that carries the window's hostname, as Telegraf names it.
const HOST_TAG: &str = "host";

/// Up to `MAX_LINES_PER_BATCH` (5000) complete lines, each ending in `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    /// The line protocol text.
    pub text: Vec<u8>,
    /// Lines (one per series) in `text`.
    pub lines: u64,
}

/// A window encoded as line protocol, and what could not be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    /// The batches, in the window's series order.
    pub batches: Vec<Lines>,
    /// NaN or infinite values left out of their line (InfluxDB cannot store them).
    pub skipped_fields: u64,
    /// Series with no line at all: an empty name, or no finite value.
    pub skipped_series: u64,
}

/// Encodes `window` as line protocol, `max_lines` lines per batch at most.
///
/// Measurement = metric name; tags = the series' tags, then the agent's `tags`, then
/// `host` = the window's hostname (the first of a key wins, tags sorted by key); fields are
/// floats; timestamp = the window's end in `precision`.
pub fn encode(window: &Window, precision: Precision, max_lines: usize) -> Encoding {
    let max_lines = max_lines.max(1);
    let timestamp = precision.timestamp(window.end_ms);
    let mut out = Encoding::default();
    let mut current = Lines { text: Vec::new(), lines: 0 };
    let mut tags: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    let mut fields: Vec<(Cow<'static, str>, f64)> = Vec::new();
    for series in &window.series {
        fields.clear();
        push_fields(series, &mut fields);
        let before = fields.len();
        fields.retain(|(_, v)| v.is_finite());
        out.skipped_fields += (before - fields.len()) as u64;
        if fields.is_empty() || series.key.name.is_empty() {
            out.skipped_series += 1;
            continue;
        }
        collect_tags(series, window, &mut tags);
        let name = no_backslash(&series.key.name);
        current.text = write_line(std::mem::take(&mut current.text), &name, &tags, &fields, timestamp);
        current.lines += 1;
        if current.lines as usize == max_lines {
            out.batches.push(std::mem::replace(&mut current, Lines { text: Vec::new(), lines: 0 }));
        }
    }
    if current.lines > 0 {
        out.batches.push(current);
    }
    out
}

/// One line appended to `buf` by the line-protocol builder, which escapes names and values.
fn write_line(
    buf: Vec<u8>,
    name: &str,
    tags: &[(Cow<'_, str>, Cow<'_, str>)],
    fields: &[(Cow<'static, str>, f64)],
    timestamp: i64,
) -> Vec<u8> {
    let mut line = LineProtocolBuilder::new_with(buf).measurement(name);
    for (key, value) in tags {
        line = line.tag(key, value);
    }
    let ((first_key, first_value), rest) = fields.split_first().expect("a line has at least one field");
    let mut line = line.field(first_key, *first_value);
    for (key, value) in rest {
        line = line.field(key, *value);
    }
    line.timestamp(timestamp).close_line().build()
}

/// The series' tags, then the agent's, then `host`; the first of each key wins; sorted by key
/// (InfluxDB's recommended order). A bare tag gets the value `true`; a tag with an empty value
/// or an empty key is left out (InfluxDB treats an empty tag value as an absent tag).
fn collect_tags<'a>(series: &'a Series, window: &'a Window, tags: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>) {
    tags.clear();
    let own = series.key.tags.iter().map(|t| match t.split_once(':') {
        Some(pair) => pair,
        None => (&**t, BARE_TAG_VALUE),
    });
    let agent = window.tags.iter().map(|t| split_tag(t));
    let host = std::iter::once((HOST_TAG, &*window.hostname));
    for (key, value) in own.chain(agent).chain(host) {
        if key.is_empty() || value.is_empty() || tags.iter().any(|(k, _)| *k == key) {
            continue;
        }
        tags.push((no_backslash(key), no_backslash(value)));
    }
    tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
}

/// `text` with each backslash written as `/`. InfluxDB 1.x and 2.x unescape only `\,`, `\ `
/// and `\=` in names and tags, so the builder's `\\` would be stored doubled, and a trailing
/// backslash cannot be written at all; `/` round-trips on every version.
fn no_backslash(text: &str) -> Cow<'_, str> {
    if text.contains('\\') { Cow::Owned(text.replace('\\', "/")) } else { Cow::Borrowed(text) }
}

/// The fields of one series, before NaN and infinities are filtered out.
fn push_fields(series: &Series, fields: &mut Vec<(Cow<'static, str>, f64)>) {
    match &series.value {
        Value::Counter { sum, rate } => {
            fields.push(("value".into(), *sum));
            fields.push(("rate".into(), *rate));
        }
        Value::Gauge { value } => fields.push(("value".into(), *value)),
        Value::Set { count, .. } => fields.push(("value".into(), *count as f64)),
        Value::Summary(summary) => {
            fields.push(("count".into(), summary.count));
            fields.push(("sum".into(), summary.sum));
            fields.push(("min".into(), summary.min));
            fields.push(("max".into(), summary.max));
            fields.push(("mean".into(), summary.mean()));
            for (q, value) in &summary.percentiles {
                fields.push((percentile_field(*q).into(), *value));
            }
        }
        Value::Buckets(buckets) => {
            fields.push(("count".into(), buckets.count() as f64));
            fields.push(("sum".into(), buckets.sum));
            for (name, value) in [("min", buckets.min), ("max", buckets.max)] {
                if let Some(value) = value {
                    fields.push((name.into(), value));
                }
            }
            fields.push(("mean".into(), buckets.mean()));
            for (bound, count) in buckets.cumulative() {
                fields.push((bucket_field(bound).into(), count as f64));
            }
        }
    }
}

/// `le_0_25` for the bucket at or below 0.25, counted cumulatively as Prometheus' `le` is.
pub(super) fn bucket_field(bound: f64) -> String {
    format!("le_{bound}").replace('.', "_")
}

/// `p50` for the 50th percentile, `p99_9` for the 99.9th.
pub(super) fn percentile_field(q: f64) -> String {
    format!("p{q}").replace('.', "_")
}
