//! A window as CloudWatch datums, batched to `PutMetricData`'s limits and written in the Query
//! protocol (`application/x-www-form-urlencoded`). The exact mapping is in
//! `docs/translation.md`.
//!
//! Every limit below is from the `PutMetricData` API reference:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html>.

use std::fmt::Write as _;

use super::values::summary_measure;
use crate::model::{Buckets, Series, SummaryKind, Value, Window, split_tag};
use crate::units::iso8601;

/// Datums (`MetricData` members) in one request: "up to 1000 different metrics".
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;
/// Bytes of one request body: "each request is limited to 1 MB". Read as 10⁶ bytes of the
/// uncompressed body, the stricter of the possible readings.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Dimensions of one datum: "up to 30 dimensions".
pub const MAX_DIMENSIONS: usize = 30;
/// Distinct entries of `Values` (and `Counts`) in one datum: "up to 150 unique values".
pub const MAX_DISTINCT_VALUES: usize = 150;
/// Longest metric name and dimension name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest dimension value, in characters.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// Largest magnitude CloudWatch takes: "values must be in the range of -2^360 to 2^360".
pub const MAX_MAGNITUDE: f64 = f64::from_bits((1023 + 360) << 52);

/// The dimension value written for a bare DogStatsD tag (`#canary`): a dimension needs a value.
pub const BARE_TAG_VALUE: &str = "true";
/// The dimension that carries the window's hostname.
pub const HOST_DIMENSION: &str = "host";

/// The `Unit` of a datum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Counters and sets.
    Count,
    /// Timers.
    Milliseconds,
    /// Gauges, histograms and distributions.
    None,
}

impl Unit {
    /// The unit as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::None => "None",
        }
    }
}

/// What one datum measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// `Value`: one number (counters, gauges, sets).
    Value(f64),
    /// `Values` and `Counts`: the distinct values of a window and how often each occurred,
    /// chosen so that their count, sum, minimum and maximum are the window's (see `values.rs`).
    Values {
        /// Distinct values, increasing.
        values: Vec<f64>,
        /// The weight of each value (`1 / rate` per sample, so it can be fractional).
        counts: Vec<f64>,
    },
    /// `StatisticValues`: when the window's values do not fit in [`MAX_DISTINCT_VALUES`].
    Statistics {
        /// `SampleCount`.
        count: f64,
        /// `Sum`.
        sum: f64,
        /// `Minimum`.
        min: f64,
        /// `Maximum`.
        max: f64,
    },
}

/// A dimension as `(Name, Value)`.
pub type Dimension = (Box<str>, Box<str>);

/// One `MetricData` member, without the namespace and timestamp it shares with its window.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// `MetricName`.
    pub name: Box<str>,
    /// `Dimensions` as `(Name, Value)`, sorted by name, at most [`MAX_DIMENSIONS`].
    pub dimensions: Vec<Dimension>,
    /// `Value`, `Values`/`Counts` or `StatisticValues`.
    pub measure: Measure,
    /// `Unit`.
    pub unit: Unit,
}

/// What the encoder reads besides the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `Namespace`.
    pub namespace: String,
    /// `StorageResolution`: 60 or 1.
    pub storage_resolution: u32,
    /// Add the window's hostname as the dimension `host`.
    pub host_dimension: bool,
    /// Add the window's agent tags as dimensions.
    pub agent_tags: bool,
    /// Datums per request, at most [`MAX_DATUMS_PER_REQUEST`].
    pub max_datums: usize,
    /// Body bytes per request, at most [`MAX_REQUEST_BYTES`].
    pub max_bytes: usize,
}

/// One request: its datums and their form-encoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The datums, kept to split the request on 413.
    pub datums: Vec<Datum>,
    /// `Action=PutMetricData&Version=2010-08-01&Namespace=…&MetricData.member.1…`.
    pub form: String,
}

/// A window encoded as requests, and what could not be sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Encoding {
    /// The requests, in the window's series order.
    pub requests: Vec<Request>,
    /// Series left out because a value was NaN, infinite or beyond ±2³⁶⁰.
    pub non_finite: u64,
    /// Series left out for a name CloudWatch refuses (empty or over 255 characters) or a
    /// summary without samples.
    pub skipped: u64,
    /// Dimensions dropped beyond `MAX_DIMENSIONS` (30).
    pub dropped_dimensions: u64,
    /// Timers, histograms and distributions sent as `StatisticValues` because their window had
    /// more distinct values than fit in `MAX_DISTINCT_VALUES` (150) with the exact minimum and
    /// maximum.
    pub statistic_values: u64,
}

/// Encodes `window` as `PutMetricData` requests within `options`' limits: one datum per
/// series, timestamped with the window's end.
pub fn encode(window: &Window, options: &Options) -> Encoding {
    let max_datums = options.max_datums.clamp(1, MAX_DATUMS_PER_REQUEST);
    let timestamp = iso8601(window.end_ms);
    let mut out = Encoding::default();
    let mut current = Request { datums: Vec::new(), form: header(&options.namespace) };
    let mut fragment = String::new();
    for series in &window.series {
        let Some(datum) = datum(series, window, options, &mut out) else { continue };
        fragment.clear();
        write_datum(&mut fragment, current.datums.len() + 1, &datum, &timestamp, options.storage_resolution);
        let full = current.datums.len() == max_datums || current.form.len() + fragment.len() > options.max_bytes;
        if full && !current.datums.is_empty() {
            out.requests.push(std::mem::replace(
                &mut current,
                Request { datums: Vec::new(), form: header(&options.namespace) },
            ));
            fragment.clear();
            write_datum(&mut fragment, 1, &datum, &timestamp, options.storage_resolution);
        }
        current.form.push_str(&fragment);
        current.datums.push(datum);
    }
    if !current.datums.is_empty() {
        out.requests.push(current);
    }
    out
}

/// The form body for `datums`, numbered from 1: how a split request is written again.
pub fn form(namespace: &str, end_ms: u64, storage_resolution: u32, datums: &[Datum]) -> String {
    let timestamp = iso8601(end_ms);
    let mut out = header(namespace);
    for (i, datum) in datums.iter().enumerate() {
        write_datum(&mut out, i + 1, datum, &timestamp, storage_resolution);
    }
    out
}

fn header(namespace: &str) -> String {
    format!("Action=PutMetricData&Version=2010-08-01&Namespace={}", escape(namespace))
}

/// The datum of one series, or `None` (counted in `out`) when CloudWatch cannot take it.
fn datum(series: &Series, window: &Window, options: &Options, out: &mut Encoding) -> Option<Datum> {
    let name = &*series.key.name;
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        out.skipped += 1;
        return None;
    }
    let (measure, unit) = match &series.value {
        Value::Counter { sum, .. } => (Measure::Value(*sum), Unit::Count),
        Value::Gauge { value } => (Measure::Value(*value), Unit::None),
        Value::Set { count, .. } => (Measure::Value(*count as f64), Unit::Count),
        Value::Summary(summary) => {
            if summary.count <= 0.0 {
                out.skipped += 1;
                return None;
            }
            let unit = if summary.kind == SummaryKind::Timer { Unit::Milliseconds } else { Unit::None };
            let measure = summary_measure(summary);
            if matches!(measure, Measure::Statistics { .. }) {
                out.statistic_values += 1;
            }
            (measure, unit)
        }
        Value::Buckets(buckets) => {
            if buckets.count() == 0 {
                out.skipped += 1;
                return None;
            }
            out.statistic_values += 1;
            (buckets_measure(buckets), Unit::None)
        }
    };
    if !is_sendable(&measure) {
        out.non_finite += 1;
        return None;
    }
    let (dimensions, dropped) = dimensions(series, window, options);
    out.dropped_dimensions += dropped;
    Some(Datum { name: name.into(), dimensions, measure, unit })
}

/// An explicit-bucket histogram as `StatisticValues`: `SampleCount` and `Sum` exact, `Minimum`
/// and `Maximum` as the client reported them or else from the edges of the lowest and highest
/// non-empty bucket (the first bucket has no lower edge and the `+Inf` bucket no upper one:
/// there the mean stands in), always with `Minimum ≤ mean ≤ Maximum`. The buckets themselves
/// are not sent: `Values`/`Counts` would need one value per bucket, and their sum would not
/// be the exact `Sum`.
fn buckets_measure(buckets: &Buckets) -> Measure {
    let (count, mean) = (buckets.count() as f64, buckets.mean());
    let nonempty = |i: &usize| buckets.counts[*i] > 0;
    let lowest = (0..buckets.counts.len()).find(nonempty).unwrap_or(0);
    let highest = (0..buckets.counts.len()).rev().find(nonempty).unwrap_or(0);
    let min = buckets.min.unwrap_or_else(|| match lowest.checked_sub(1) {
        Some(below) => buckets.bounds[below],
        None => buckets.bounds.first().map_or(mean, |&b| b.min(mean)),
    });
    let max = buckets.max.unwrap_or_else(|| buckets.bounds.get(highest).map_or(mean, |&b| b).max(mean));
    Measure::Statistics { count, sum: buckets.sum, min: min.min(mean), max: max.max(mean) }
}

fn is_sendable(measure: &Measure) -> bool {
    let ok = |v: f64| v.is_finite() && v.abs() <= MAX_MAGNITUDE;
    match measure {
        Measure::Value(v) => ok(*v),
        Measure::Values { values, counts } => values.iter().chain(counts).all(|v| ok(*v)),
        Measure::Statistics { count, sum, min, max } => [*count, *sum, *min, *max].into_iter().all(ok),
    }
}

/// The series' tags, then the agent's (when `agent_tags`), then `host` (when
/// `host_dimension`); the first of each name wins; a bare tag gets the value `true`; a tag
/// with an empty name or value, or one longer than CloudWatch takes, is left out. The first
/// [`MAX_DIMENSIONS`] are kept, sorted by name; the number dropped beyond them is returned.
fn dimensions(series: &Series, window: &Window, options: &Options) -> (Vec<Dimension>, u64) {
    let own = series.key.tags.iter().map(|t| match t.split_once(':') {
        Some(pair) => pair,
        None => (&**t, BARE_TAG_VALUE),
    });
    let agent = window.tags.iter().filter(|_| options.agent_tags).map(|t| split_tag(t));
    let host = options.host_dimension.then_some((HOST_DIMENSION, &*window.hostname));
    let mut kept: Vec<Dimension> = Vec::new();
    let mut dropped = 0;
    for (name, value) in own.chain(agent).chain(host) {
        let fits = !name.trim().is_empty()
            && !value.trim().is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && value.chars().count() <= MAX_DIMENSION_VALUE_CHARS;
        if !fits || kept.iter().any(|(k, _)| &**k == name) {
            continue;
        }
        if kept.len() == MAX_DIMENSIONS {
            dropped += 1;
            continue;
        }
        kept.push((name.into(), value.into()));
    }
    kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    (kept, dropped)
}

/// Appends `&MetricData.member.{index}.…` for `datum`.
fn write_datum(out: &mut String, index: usize, datum: &Datum, timestamp: &str, storage_resolution: u32) {
    let p = format!("&MetricData.member.{index}.");
    let _ = write!(out, "{p}MetricName={}", escape(&datum.name));
    for (i, (name, value)) in datum.dimensions.iter().enumerate() {
        let d = i + 1;
        let _ = write!(out, "{p}Dimensions.member.{d}.Name={}", escape(name));
        let _ = write!(out, "{p}Dimensions.member.{d}.Value={}", escape(value));
    }
    match &datum.measure {
        Measure::Value(v) => {
            let _ = write!(out, "{p}Value={}", number(*v));
        }
        Measure::Values { values, counts } => {
            for (i, v) in values.iter().enumerate() {
                let _ = write!(out, "{p}Values.member.{}={}", i + 1, number(*v));
            }
            for (i, c) in counts.iter().enumerate() {
                let _ = write!(out, "{p}Counts.member.{}={}", i + 1, number(*c));
            }
        }
        Measure::Statistics { count, sum, min, max } => {
            let _ = write!(
                out,
                "{p}StatisticValues.SampleCount={}{p}StatisticValues.Sum={}{p}StatisticValues.Minimum={}\
                 {p}StatisticValues.Maximum={}",
                number(*count),
                number(*sum),
                number(*min),
                number(*max)
            );
        }
    }
    let _ =
        write!(out, "{p}Timestamp={timestamp}{p}Unit={}{p}StorageResolution={storage_resolution}", datum.unit.as_str());
}

/// A number as the Query protocol reads it: the shortest text that round-trips, in
/// exponent form outside `1e-6..1e16` so huge and tiny values stay short.
pub fn number(v: f64) -> String {
    let magnitude = v.abs();
    if v == 0.0 || (1e-6..1e16).contains(&magnitude) { format!("{v}") } else { format!("{v:e}") }
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn escape(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
