//! A window as Datadog API JSON: one fragment per series (or per chunk of a large
//! distribution), event and service check, packed into requests by the service. The exact
//! mapping is in `docs/translation.md`.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;

use super::config::{Aggregate, CountType};
use crate::model::{Event, Series, ServiceCheck, Summary, SummaryKind, Value, Window, split_tag};

/// Values in one point of a distribution; a distribution with more goes in several points of
/// the same series and timestamp (each about 1 MB of JSON), which Datadog merges.
pub const DISTRIBUTION_VALUES_PER_POINT: usize = 50_000;
/// Values sent at most for one distribution in one window. Beyond it each bin's share is
/// scaled down (percentiles stay, the count shrinks) and a warning is logged.
pub const MAX_DISTRIBUTION_VALUES: usize = 1_000_000;
/// Longest event title the events API stores (<https://docs.datadoghq.com/api/latest/events/>).
pub const MAX_EVENT_TITLE_CHARS: usize = 100;
/// Longest event text the events API stores (<https://docs.datadoghq.com/api/latest/events/>).
pub const MAX_EVENT_TEXT_CHARS: usize = 4000;

/// `type` of a v2 series: count.
pub const TYPE_COUNT: u8 = 1;
/// `type` of a v2 series: rate.
pub const TYPE_RATE: u8 = 2;
/// `type` of a v2 series: gauge.
pub const TYPE_GAUGE: u8 = 3;

/// Which API a fragment goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /api/v2/series`, body `{"series":[…]}`.
    Series,
    /// `POST /api/v1/distribution_points`, body `{"series":[…]}`.
    Distributions,
    /// `POST /api/v1/events`, one event per request.
    Event,
    /// `POST /api/v1/check_run`, body `[…]`.
    ServiceChecks,
}

impl Endpoint {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Series => "/api/v2/series",
            Self::Distributions => "/api/v1/distribution_points",
            Self::Event => "/api/v1/events",
            Self::ServiceChecks => "/api/v1/check_run",
        }
    }

    /// What comes before and after the comma-separated fragments.
    pub fn envelope(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Self::Series | Self::Distributions => (b"{\"series\":[", b"]}"),
            Self::Event => (b"", b""),
            Self::ServiceChecks => (b"[", b"]"),
        }
    }

    /// True when several fragments may share a request.
    pub fn batches(self) -> bool {
        !matches!(self, Self::Event)
    }
}

/// One JSON object of a request body, and the window series it completes (0 or 1: a timer's
/// suffixes or a distribution's chunks count once, with their last fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The serialized object.
    pub json: Bytes,
    /// Window series counted with this fragment.
    pub series: u64,
}

/// A window as fragments per endpoint, in the window's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    /// `/api/v2/series` objects.
    pub series: Vec<Fragment>,
    /// `/api/v1/distribution_points` objects.
    pub distributions: Vec<Fragment>,
    /// `/api/v1/events` bodies.
    pub events: Vec<Fragment>,
    /// `/api/v1/check_run` objects.
    pub service_checks: Vec<Fragment>,
    /// Values left out because they are NaN or infinite (JSON cannot carry them).
    pub skipped_values: u64,
    /// Distributions whose values were scaled down to [`MAX_DISTRIBUTION_VALUES`].
    pub scaled_distributions: u64,
}

/// How timers and histograms are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The suffixes, in order.
    pub aggregates: Vec<Aggregate>,
    /// The `.<N>percentile` suffixes, in order.
    pub percentiles: Vec<u32>,
    /// The type of `.count`.
    pub count_type: CountType,
}

#[derive(Serialize)]
struct SeriesJson<'a> {
    metric: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
    points: [Point; 1],
    resources: [Resource<'a>; 1],
    tags: &'a [Cow<'a, str>],
}

#[derive(Serialize)]
struct Point {
    timestamp: i64,
    value: f64,
}

#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct DistributionJson<'a> {
    metric: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    host: &'a str,
    tags: &'a [Cow<'a, str>],
    points: [(i64, &'a [f64]); 1],
}

#[derive(Serialize)]
struct EventJson<'a> {
    title: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_happened: Option<i64>,
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregation_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_type_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_type: Option<&'a str>,
    tags: &'a [Cow<'a, str>],
}

#[derive(Serialize)]
struct CheckJson<'a> {
    check: &'a str,
    host_name: &'a str,
    status: u8,
    timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    tags: &'a [Cow<'a, str>],
}

/// The window end in whole Unix seconds: every point's timestamp.
pub fn timestamp(window: &Window) -> i64 {
    i64::try_from(window.end_ms / 1000).unwrap_or(i64::MAX)
}

/// The window length in whole seconds, at least 1: the `interval` of counts and rates.
pub fn interval(window: &Window) -> u64 {
    (window.end_ms.saturating_sub(window.start_ms) as f64 / 1000.0).round().max(1.0) as u64
}

/// Encodes every series, event and service check of `window`.
pub fn encode(window: &Window, settings: &Settings) -> Encoding {
    let mut out = Encoding::default();
    let ts = timestamp(window);
    let interval = interval(window);
    let mut tags = Vec::new();
    for series in &window.series {
        let host = series_tags(&series.key.tags, window, &mut tags);
        let before = (out.series.len(), out.distributions.len());
        match &series.value {
            Value::Summary(summary) if summary.kind == SummaryKind::Distribution => {
                distribution(&mut out, &series.key.name, host, &tags, ts, summary);
            }
            Value::Buckets(buckets) => {
                let name = &*series.key.name;
                let mut bucket_tags = tags.clone();
                bucket_tags.push(Cow::Borrowed(""));
                let bounds = buckets.cumulative().map(|(bound, count)| (format!("upper_bound:{bound}"), count));
                let inf = std::iter::once(("upper_bound:inf".to_owned(), buckets.count()));
                for (upper, count) in bounds.chain(inf) {
                    *bucket_tags.last_mut().expect("pushed above") = Cow::Owned(upper);
                    let json =
                        count_json(format!("{name}.bucket").into(), interval, ts, host, count as f64, &bucket_tags);
                    out.series.push(fragment(&json, 0));
                }
                let totals = [("count", buckets.count() as f64), ("sum", buckets.sum)];
                for (suffix, value) in totals {
                    if !value.is_finite() {
                        out.skipped_values += 1;
                        continue;
                    }
                    out.series.push(fragment(
                        &count_json(format!("{name}.{suffix}").into(), interval, ts, host, value, &tags),
                        0,
                    ));
                }
            }
            _ => {
                for (metric, kind, interval, value) in points(series, settings, interval) {
                    if !value.is_finite() {
                        out.skipped_values += 1;
                        continue;
                    }
                    let json = SeriesJson {
                        metric,
                        kind,
                        interval,
                        points: [Point { timestamp: ts, value }],
                        resources: [Resource { kind: "host", name: host }],
                        tags: &tags,
                    };
                    out.series.push(fragment(&json, 0));
                }
            }
        }
        // The series counts once, with its last fragment.
        let last = if out.distributions.len() > before.1 { out.distributions.last_mut() } else { None };
        let last = last.or(if out.series.len() > before.0 { out.series.last_mut() } else { None });
        if let Some(last) = last {
            last.series = 1;
        }
    }
    for event in &window.events {
        out.events.push(encode_event(event, window, ts));
    }
    for check in &window.service_checks {
        out.service_checks.push(encode_check(check, window, ts));
    }
    out
}

/// A `count` point of `interval` seconds.
fn count_json<'a>(
    metric: Cow<'a, str>,
    interval: u64,
    timestamp: i64,
    host: &'a str,
    value: f64,
    tags: &'a [Cow<'a, str>],
) -> SeriesJson<'a> {
    SeriesJson {
        metric,
        kind: TYPE_COUNT,
        interval: Some(interval),
        points: [Point { timestamp, value }],
        resources: [Resource { kind: "host", name: host }],
        tags,
    }
}

fn fragment(value: &impl Serialize, series: u64) -> Fragment {
    let json = serde_json::to_vec(value).expect("sluice's JSON objects always serialize");
    Fragment { json: Bytes::from(json), series }
}

/// The v2 series of one window series: `(metric, type, interval, value)`.
fn points<'a>(series: &'a Series, settings: &Settings, interval: u64) -> Vec<(Cow<'a, str>, u8, Option<u64>, f64)> {
    let name = &*series.key.name;
    match &series.value {
        Value::Counter { sum, .. } => vec![(name.into(), TYPE_COUNT, Some(interval), *sum)],
        Value::Gauge { value } => vec![(name.into(), TYPE_GAUGE, None, *value)],
        Value::Set { count, .. } => vec![(name.into(), TYPE_GAUGE, None, *count as f64)],
        Value::Summary(summary) => {
            let mut out = Vec::with_capacity(settings.aggregates.len() + settings.percentiles.len());
            for aggregate in &settings.aggregates {
                let metric = format!("{name}.{}", aggregate.name()).into();
                let point = match aggregate {
                    Aggregate::Max => (metric, TYPE_GAUGE, None, summary.max),
                    Aggregate::Min => (metric, TYPE_GAUGE, None, summary.min),
                    Aggregate::Avg => (metric, TYPE_GAUGE, None, summary.mean()),
                    Aggregate::Sum => (metric, TYPE_GAUGE, None, summary.sum),
                    Aggregate::Median => match percentile(summary, 50) {
                        Some(v) => (metric, TYPE_GAUGE, None, v),
                        None => continue,
                    },
                    Aggregate::Count => match settings.count_type {
                        CountType::Rate => (metric, TYPE_RATE, Some(interval), summary.count / interval as f64),
                        CountType::Count => (metric, TYPE_COUNT, Some(interval), summary.count),
                    },
                };
                out.push(point);
            }
            for &p in &settings.percentiles {
                if let Some(v) = percentile(summary, p) {
                    out.push((format!("{name}.{p}percentile").into(), TYPE_GAUGE, None, v));
                }
            }
            out
        }
        // Encoded by the caller: each bucket carries a tag of its own.
        Value::Buckets(_) => Vec::new(),
    }
}

/// The `p`-th percentile: the aggregator's own when it computed that one, else the sketch's
/// (within 1 %), clamped to `[min, max]`.
fn percentile(summary: &Summary, p: u32) -> Option<f64> {
    let q = f64::from(p);
    if let Some((_, v)) = summary.percentiles.iter().find(|(pq, _)| *pq == q) {
        return Some(*v);
    }
    let v = summary.sketch.quantile(q / 100.0)?;
    Some(v.clamp(summary.min, summary.max))
}

/// A distribution as raw points: each sketch bin's representative value (clamped to
/// `[min, max]`) repeated as often as its weight, rounded cumulatively so the values add up
/// to the rounded total weight.
fn distribution(out: &mut Encoding, name: &str, host: &str, tags: &[Cow<'_, str>], ts: i64, summary: &Summary) {
    let values = distribution_values(summary, &mut out.scaled_distributions);
    for chunk in values.chunks(DISTRIBUTION_VALUES_PER_POINT) {
        let json = DistributionJson { metric: name, kind: "distribution", host, tags, points: [(ts, chunk)] };
        out.distributions.push(fragment(&json, 0));
    }
}

/// The values a distribution is sent as; see [`distribution`].
pub fn distribution_values(summary: &Summary, scaled: &mut u64) -> Vec<f64> {
    let clamp = |v: f64| if summary.min <= summary.max { v.clamp(summary.min, summary.max) } else { v };
    let bins: Vec<(f64, f64)> = if summary.sketch.is_empty() {
        // A summary without a sketch (never from the aggregator): its mean stands for all.
        if summary.count > 0.0 && summary.mean().is_finite() { vec![(summary.mean(), summary.count)] } else { vec![] }
    } else {
        summary.sketch.bins().collect()
    };
    let total: f64 = bins.iter().map(|(_, w)| w).sum();
    let scale = if total.round() > MAX_DISTRIBUTION_VALUES as f64 {
        *scaled += 1;
        MAX_DISTRIBUTION_VALUES as f64 / total.round()
    } else {
        1.0
    };
    let mut values = Vec::with_capacity(((total * scale).round() as usize).min(MAX_DISTRIBUTION_VALUES));
    let (mut cumulative, mut emitted) = (0.0, 0u64);
    for (value, weight) in bins {
        cumulative += weight * scale;
        let upto = cumulative.round() as u64;
        let n = upto.saturating_sub(emitted);
        values.extend(std::iter::repeat_n(clamp(value), n as usize));
        emitted = emitted.max(upto);
    }
    values
}

/// Fills `tags` with the series' tags (a `host:` tag excepted) and the agent's tags whose key
/// the series does not set, sorted; returns the host: the series' `host:` tag, else the
/// agent's hostname (as the DogStatsD agent does).
fn series_tags<'a>(own: &'a [Box<str>], window: &'a Window, tags: &mut Vec<Cow<'a, str>>) -> &'a str {
    tags.clear();
    let mut host: &str = &window.hostname;
    for tag in own {
        match tag.strip_prefix("host:") {
            Some(h) if !h.is_empty() => host = h,
            _ => tags.push(Cow::Borrowed(&**tag)),
        }
    }
    add_agent_tags(own, window, tags);
    host
}

/// Appends the agent's tags whose key none of `own` sets, then sorts.
fn add_agent_tags<'a, S: AsRef<str>>(own: &[S], window: &'a Window, tags: &mut Vec<Cow<'a, str>>) {
    for tag in window.tags.iter() {
        let key = split_tag(tag).0;
        if !own.iter().any(|t| split_tag(t.as_ref()).0 == key) {
            tags.push(Cow::Borrowed(&**tag));
        }
    }
    tags.sort_unstable();
}

fn encode_event(event: &Event, window: &Window, ts: i64) -> Fragment {
    let mut tags: Vec<Cow<'_, str>> = event.tags.iter().map(|t| Cow::Borrowed(t.as_str())).collect();
    add_agent_tags(&event.tags, window, &mut tags);
    let json = EventJson {
        title: truncate_chars(&event.title, MAX_EVENT_TITLE_CHARS),
        text: truncate_chars(&event.text, MAX_EVENT_TEXT_CHARS),
        date_happened: Some(event.timestamp.unwrap_or(ts)),
        host: event.hostname.as_deref().unwrap_or(&window.hostname),
        aggregation_key: event.aggregation_key.as_deref(),
        priority: event.priority.as_deref(),
        source_type_name: event.source_type.as_deref(),
        alert_type: event.alert_type.as_deref(),
        tags: &tags,
    };
    fragment(&json, 0)
}

fn encode_check(check: &ServiceCheck, window: &Window, ts: i64) -> Fragment {
    let mut tags: Vec<Cow<'_, str>> = check.tags.iter().map(|t| Cow::Borrowed(t.as_str())).collect();
    add_agent_tags(&check.tags, window, &mut tags);
    let json = CheckJson {
        check: &check.name,
        host_name: check.hostname.as_deref().unwrap_or(&window.hostname),
        status: check.status,
        timestamp: check.timestamp.unwrap_or(ts),
        message: check.message.as_deref(),
        tags: &tags,
    };
    fragment(&json, 0)
}

/// The first `max` characters of `text`.
fn truncate_chars(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(i, _)| &text[..i])
}
