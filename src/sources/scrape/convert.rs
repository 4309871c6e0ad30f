//! A scraped body to the window's typed samples (the rules are in `docs/translation.md`,
//! "Prometheus scrape input"):
//!
//! - counter → its per-window increase, against the series' last good scrape;
//! - gauge, untyped/unknown, info, stateset, gaugehistogram lines → gauges, named as exposed;
//! - histogram → [`SampleValue::Buckets`]: each `le` bucket's increase, made per bucket;
//! - summary → each quantile a gauge with a `quantile` tag, `_count` and `_sum` increases.
//!
//! Cumulative totals go through the OTLP receiver's [`Cumulative`] state: a decrease (a
//! bucket's, a count's) or a changed OpenMetrics `_created` is a reset, and the new total is
//! the increase since it. A series' first scrape is only its baseline, unless `_created` says
//! it began after the source started, or (without `_created`) the target was read before and
//! the series is new since then. Labels become tags; the target's `job` and `instance` tags
//! are added unless the target exposes labels of those names, which win.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use backends::Buckets;

use super::parse::{Format, Label, Line, MetricType, Parser};
use crate::aggregator::input::{MAX_BUCKETS, Sample, SampleError, SampleValue};
use crate::sources::otlp::{Cumulative, Last, Stamp, Step, increase};

/// Why a series of a good scrape gave no sample: the `reason` label of
/// `sluice_scrape_skipped_series_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A NaN or infinite value (a gauge's, a counter's, a sum).
    NotFinite,
    /// Histogram buckets without `+Inf`, with a bound twice, decreasing or fractional counts, or
    /// more than 256 bounds.
    BadHistogram,
    /// More labels (with `job` and `instance`) than the 64 tags a series may have.
    TooManyLabels,
    /// A counter, histogram or summary new while `max_series` cumulative series are kept.
    MaxSeries,
}

impl Skip {
    /// Number of reasons.
    pub const COUNT: usize = 4;

    /// Every label, in declaration order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = ["not_finite", "bad_histogram", "too_many_labels", "max_series"];
}

/// What one scrape's body became.
#[derive(Debug, Default)]
pub struct Converted {
    /// The samples for the window.
    pub samples: Vec<Sample>,
    /// Sample lines read (malformed ones not included).
    pub lines: u64,
    /// Lines skipped as malformed.
    pub malformed: u64,
    /// Cumulative series that only set their baseline.
    pub baselines: u64,
    /// Series that gave no sample, by [`Skip::LABELS`] index.
    pub skipped: [u64; Skip::COUNT],
}

/// What a scrape knows beyond its body.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The `job` tag: the source's name.
    pub job: &'a str,
    /// The `instance` tag: the target's `host:port`.
    pub instance: &'a str,
    /// The target was scraped well before: a series new since then began since then.
    pub known: bool,
    /// When the source started, in Unix nanoseconds (a later `_created` counts in full).
    pub started: u64,
    /// When this scrape was made, in nanoseconds of a clock that never goes back.
    pub time: u64,
    /// Now, for the expiry of cumulative series.
    pub now: Instant,
}

/// Converts `body` (in `format`), keeping cumulative totals in `state`.
pub fn convert(body: &[u8], format: Format, context: &Context<'_>, state: &mut Cumulative) -> Converted {
    let mut convert = Converter { context, state, out: Converted::default() };
    let mut parser = Parser::new(body, format);
    let mut family: Option<Family<'_>> = None;
    while let Some(line) = parser.next() {
        match line {
            Err(_) => convert.out.malformed += 1,
            Ok(Line::Type { family: name, kind }) => {
                if let Some(done) = family.take() {
                    convert.family(&done);
                }
                family = matches!(kind, MetricType::Counter | MetricType::Histogram | MetricType::Summary)
                    .then(|| Family { name, kind, groups: Vec::new(), index: HashMap::new() });
            }
            Ok(Line::Sample { name, value }) => {
                convert.out.lines += 1;
                let labels = parser.labels();
                match family.as_mut().and_then(|f| role(f, name).map(|r| (f, r))) {
                    Some((f, role)) => {
                        if f.add(role, name, labels, value).is_none() {
                            convert.out.malformed += 1;
                        }
                    }
                    None => convert.gauge(name, labels, value),
                }
            }
        }
    }
    if let Some(done) = family {
        convert.family(&done);
    }
    convert.out
}

/// What a line is to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A counter's total, or a summary's quantile.
    Value,
    /// `_created`: when the series' count began, in Unix seconds.
    Created,
    /// A histogram's `_bucket`.
    Bucket,
    /// `_sum`.
    Sum,
    /// `_count`.
    Count,
}

/// The role of the line `name` in `family`, `None` when it is not one of the family's.
fn role(family: &Family<'_>, name: &str) -> Option<Role> {
    use MetricType::{Counter, Histogram, Summary};
    let suffix = name.strip_prefix(family.name)?;
    Some(match (family.kind, suffix) {
        (Counter, "" | "_total") | (Summary, "") => Role::Value,
        (_, "_created") => Role::Created,
        (Histogram, "_bucket") => Role::Bucket,
        (Histogram | Summary, "_sum") => Role::Sum,
        (Histogram | Summary, "_count") => Role::Count,
        _ => return None,
    })
}

/// The lines of one counter, histogram or summary family, grouped by series (their labels
/// but `le` and `quantile`), since a series' parts come on several lines.
struct Family<'a> {
    name: &'a str,
    kind: MetricType,
    groups: Vec<Group>,
    /// A group's labels, joined, to its index in `groups`.
    index: HashMap<String, usize>,
}

/// One series of a family, as its lines said.
#[derive(Debug, Default)]
struct Group {
    /// The name of its value line (`x_total` or `x`), for counters.
    name: String,
    labels: Vec<(String, String)>,
    value: Option<f64>,
    created: Option<f64>,
    /// `(le, cumulative count)`.
    buckets: Vec<(f64, f64)>,
    /// `(quantile as written, value)`.
    quantiles: Vec<(String, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

impl Family<'_> {
    /// Adds a line to its group; `None` when the line is malformed for its role (a bucket
    /// without a numeric `le`, a quantile without `quantile`).
    fn add(&mut self, role: Role, name: &str, labels: &[Label<'_>], value: f64) -> Option<()> {
        let special = match (role, self.kind) {
            (Role::Bucket, _) => Some("le"),
            (Role::Value, MetricType::Summary) => Some("quantile"),
            _ => None,
        };
        let mut key = String::new();
        let mut special_value = None;
        for (label, text) in labels {
            if Some(*label) == special {
                special_value = Some(text);
                continue;
            }
            key.push_str(label);
            key.push('\u{1}');
            key.push_str(text);
            key.push('\u{2}');
        }
        if special.is_some() && special_value.is_none() {
            return None;
        }
        let index = if let Some(&i) = self.index.get(&key) {
            i
        } else {
            let labels = labels
                .iter()
                .filter(|(l, _)| Some(*l) != special)
                .map(|(l, v)| ((*l).to_owned(), v.clone().into_owned()))
                .collect();
            self.groups.push(Group { labels, ..Group::default() });
            self.index.insert(key, self.groups.len() - 1);
            self.groups.len() - 1
        };
        let group = &mut self.groups[index];
        match role {
            Role::Value if self.kind == MetricType::Summary => {
                group.quantiles.push((special_value?.to_string(), value));
            }
            Role::Value => {
                name.clone_into(&mut group.name);
                group.value = Some(value);
            }
            Role::Created => group.created = Some(value),
            Role::Bucket => group.buckets.push((parse_le(special_value?)?, value)),
            Role::Sum => group.sum = Some(value),
            Role::Count => group.count = Some(value),
        }
        Some(())
    }
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        t => t.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

/// A series type, part of its identity in the cumulative state.
#[derive(Debug, Clone, Copy)]
enum Type {
    Counter = 1,
    Histogram = 2,
    Summary = 3,
}

struct Converter<'c, 's> {
    context: &'c Context<'c>,
    state: &'s mut Cumulative,
    out: Converted,
}

impl<'c> Converter<'c, '_> {
    fn skip(&mut self, reason: Skip) {
        self.out.skipped[reason as usize] += 1;
    }

    /// The labels with the target's tags, unless the target exposes labels of their names.
    fn tags<'t>(&self, labels: impl Iterator<Item = (&'t str, &'t str)>) -> Vec<(&'t str, &'t str)>
    where
        'c: 't,
    {
        let mut tags: Vec<(&str, &str)> = labels.collect();
        for (key, value) in [("job", self.context.job), ("instance", self.context.instance)] {
            if !tags.iter().any(|(k, _)| *k == key) {
                tags.push((key, value));
            }
        }
        tags
    }

    /// Pushes a sample, or counts why it could not be built.
    fn push(&mut self, sample: Result<Sample, SampleError>) {
        match sample {
            Ok(sample) => self.out.samples.push(sample),
            Err(SampleError::TooManyTags { .. }) => self.skip(Skip::TooManyLabels),
            Err(SampleError::BadBuckets { .. }) => self.skip(Skip::BadHistogram),
            Err(_) => self.skip(Skip::NotFinite),
        }
    }

    fn gauge(&mut self, name: &str, labels: &[Label<'_>], value: f64) {
        let tags = self.tags(labels.iter().map(|(k, v)| (*k, v.as_ref())));
        let sample = Sample::new(name, &tags, SampleValue::Gauge(value));
        self.push(sample);
    }

    fn family(&mut self, family: &Family<'_>) {
        for group in &family.groups {
            match family.kind {
                MetricType::Counter => self.counter(group),
                MetricType::Histogram => self.histogram(family.name, group),
                _ => self.summary(family.name, group),
            }
        }
    }

    /// Steps the series `name`/`tags` of `kind` to `last` and returns what it adds, counting a
    /// baseline or a refusal.
    fn step<T>(
        &mut self,
        (kind, name, tags): (Type, &str, &[(&str, &str)]),
        created: Option<f64>,
        last: Last,
        delta: impl FnOnce(&Last, &Last) -> Option<T>,
        whole: impl FnOnce(&Last) -> T,
    ) -> Option<T> {
        let created = created.filter(|c| c.is_finite() && *c > 0.0).map(|c| (c * 1e9) as u64);
        let first_in_full = created.map_or(self.context.known, |c| c >= self.context.started);
        let stamp = Stamp { start: created.unwrap_or(0), time: self.context.time };
        let key = identity(kind, name, tags);
        match self.state.step_first(&key, stamp, self.context.now, last, first_in_full, delta, whole) {
            Step::Delta(added) => Some(added),
            Step::Baseline => {
                self.out.baselines += 1;
                None
            }
            // Times come from a clock that never goes back, so a refusal is for `max_series`.
            Step::Refused(_) => {
                self.skip(Skip::MaxSeries);
                None
            }
        }
    }

    fn counter(&mut self, group: &Group) {
        let Some(value) = group.value else { return };
        if !value.is_finite() {
            return self.skip(Skip::NotFinite);
        }
        let tags = self.tags(group.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let added = self.step(
            (Type::Counter, &group.name, &tags),
            group.created,
            Last::Number(value),
            |before, now| match (before, now) {
                (Last::Number(before), Last::Number(now)) => increase(*before, *now),
                _ => None,
            },
            |now| if let Last::Number(now) = now { *now } else { 0.0 },
        );
        if let Some(added) = added {
            self.push(Sample::new(&group.name, &tags, SampleValue::Counter(added)));
        }
    }

    fn histogram(&mut self, name: &str, group: &Group) {
        let Some((bounds, counts)) = per_bucket(&group.buckets) else { return self.skip(Skip::BadHistogram) };
        let sum = group.sum.unwrap_or(0.0);
        if !sum.is_finite() {
            return self.skip(Skip::NotFinite);
        }
        let tags = self.tags(group.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let whole = Buckets { bounds: Arc::clone(&bounds), counts: counts.clone(), sum, min: None, max: None };
        let added = self.step(
            (Type::Histogram, name, &tags),
            group.created,
            Last::Histogram(bounds, counts, sum),
            |before, now| match (before, now) {
                (Last::Histogram(bounds_before, before, sum_before), Last::Histogram(bounds, counts, sum))
                    if bounds_before == bounds =>
                {
                    let counts = counts.iter().zip(before).map(|(now, before)| now.checked_sub(*before));
                    let counts = counts.collect::<Option<Vec<u64>>>()?;
                    Some(Buckets { bounds: Arc::clone(bounds), counts, sum: sum - sum_before, min: None, max: None })
                }
                // New bounds: the target started over.
                _ => None,
            },
            |_| whole,
        );
        if let Some(buckets) = added {
            self.push(Sample::new(name, &tags, SampleValue::Buckets(Box::new(buckets))));
        }
    }

    fn summary(&mut self, name: &str, group: &Group) {
        let labels = group.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (quantile, value) in &group.quantiles {
            let mut tags = self.tags(labels.clone());
            tags.push(("quantile", quantile));
            self.push(Sample::new(name, &tags, SampleValue::Gauge(*value)));
        }
        let Some(count) = group.count else { return };
        let sum = group.sum.unwrap_or(0.0);
        if !(count.is_finite() && count >= 0.0 && sum.is_finite()) {
            return self.skip(Skip::NotFinite);
        }
        let tags = self.tags(labels);
        let added = self.step(
            (Type::Summary, name, &tags),
            group.created,
            Last::Summary(count as u64, sum),
            |before, now| match (before, now) {
                (Last::Summary(count_before, sum_before), Last::Summary(count, sum)) if count >= count_before => {
                    Some((count - count_before, sum - sum_before))
                }
                _ => None,
            },
            |now| if let Last::Summary(count, sum) = now { (*count, *sum) } else { (0, 0.0) },
        );
        if let Some((count, sum)) = added {
            self.push(Sample::new(&format!("{name}_count"), &tags, SampleValue::Counter(count as f64)));
            self.push(Sample::new(&format!("{name}_sum"), &tags, SampleValue::Counter(sum)));
        }
    }
}

/// Cumulative `le` buckets to finite bounds and per-bucket counts (the last above every
/// bound), or `None` when they cannot be: no `+Inf`, a bound twice, a count that is not a
/// whole number or goes down, more than [`MAX_BUCKETS`] bounds.
fn per_bucket(buckets: &[(f64, f64)]) -> Option<(Arc<[f64]>, Vec<u64>)> {
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (last, finite) = sorted.split_last()?;
    if last.0 != f64::INFINITY || finite.len() > MAX_BUCKETS || finite.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let mut counts = Vec::with_capacity(sorted.len());
    let mut below = 0.0;
    for &(_, cumulative) in &sorted {
        if !(cumulative.is_finite() && cumulative >= below && cumulative.fract() == 0.0) {
            return None;
        }
        counts.push((cumulative - below) as u64);
        below = cumulative;
    }
    Some((finite.iter().map(|(le, _)| *le).collect(), counts))
}

/// A series' identity: its type, name and sorted tags, each part length first so that no two
/// lists of parts make the same identity.
fn identity(kind: Type, name: &str, tags: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = tags.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::with_capacity(64);
    out.push(kind as u8);
    for part in std::iter::once(name).chain(sorted.iter().flat_map(|(k, v)| [*k, *v])) {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}
