//! An `ExportMetricsServiceRequest` to typed samples: each OTLP type to the window's kinds
//! (the table is in `docs/translation.md`, "OTLP input"), attributes to tags, cumulative
//! points to deltas through [`Cumulative`]. A point that cannot be taken is refused alone,
//! with its reason; the request's other points are kept.

use std::sync::Arc;
use std::time::Instant;

use backends::Buckets;

use super::attributes::{AttributeFilter, value_text};
use super::cumulative::{Cumulative, Last, Stamp, Step, increase};
use super::exponential::Totals;
use super::proto::{
    AggregationTemporality, ExponentialHistogramDataPoint, ExportMetricsServiceRequest, HistogramDataPoint, KeyValue,
    Metric, NumberDataPoint, SummaryDataPoint, metric::Data, number_data_point,
};
use super::reject::{RejectReason, Rejected};
use crate::aggregator::input::{MAX_BUCKETS, MAX_TAGS, Sample, SampleError, SampleValue};

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the series has no value now (it ended).
const NO_RECORDED_VALUE: u32 = 1;

/// What one request became.
#[derive(Debug, Default)]
pub struct Converted {
    /// The samples for the window, in request order.
    pub samples: Vec<Sample>,
    /// Data points in the request (every metric without data counts as one).
    pub points: u64,
    /// Cumulative points that only set their series' baseline.
    pub baselines: u64,
    /// Points refused, by reason.
    pub rejected: Rejected,
}

/// Tags as `(key, value text)`.
type Tags = Vec<(String, String)>;

/// Converts `request`: resource and scope attributes through `filter`, cumulative points
/// through `state` (`now` dates what it sees, for expiry).
pub fn convert(
    request: &ExportMetricsServiceRequest,
    filter: &AttributeFilter,
    state: &mut Cumulative,
    now: Instant,
) -> Converted {
    let mut out = Converted::default();
    for resource_metrics in &request.resource_metrics {
        let resource = resource_metrics.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource_tags = filter.kept(resource);
        let mut resource_id = Vec::new();
        identity_of_attributes(&mut resource_id, resource);
        for scope_metrics in &resource_metrics.scope_metrics {
            let mut identity = resource_id.clone();
            let mut tags = resource_tags.clone();
            if let Some(scope) = &scope_metrics.scope {
                part(&mut identity, scope.name.as_bytes());
                part(&mut identity, scope.version.as_bytes());
                identity_of_attributes(&mut identity, &scope.attributes);
                merge(&mut tags, filter.kept(&scope.attributes));
            } else {
                part(&mut identity, b"");
                part(&mut identity, b"");
                identity_of_attributes(&mut identity, &[]);
            }
            let mut metrics = Metrics { scope_tags: &tags, scope_id: &identity, state, now, out: &mut out };
            for metric in &scope_metrics.metrics {
                metrics.metric(metric);
            }
        }
    }
    out
}

/// Appends `bytes` to an identity, length first, so that no two lists of parts make the same
/// identity.
fn part(identity: &mut Vec<u8>, bytes: &[u8]) {
    identity.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    identity.extend_from_slice(bytes);
}

/// Appends every attribute, sorted by key, to an identity.
fn identity_of_attributes(identity: &mut Vec<u8>, attributes: &[KeyValue]) {
    let mut pairs: Vec<(&str, String)> =
        attributes.iter().map(|kv| (kv.key.as_str(), value_text(kv.value.as_ref()))).collect();
    pairs.sort();
    part(identity, &(pairs.len() as u64).to_le_bytes());
    for (key, value) in &pairs {
        part(identity, key.as_bytes());
        part(identity, value.as_bytes());
    }
}

/// `extra` added to `tags`, replacing a tag of the same key: the more specific attribute wins
/// (a point's over its scope's over its resource's).
fn merge(tags: &mut Tags, extra: Tags) {
    for (key, value) in extra {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => tags.push((key, value)),
        }
    }
}

/// The OTLP type of a metric, part of its series' identity.
#[derive(Debug, Clone, Copy)]
enum Type {
    Sum = 1,
    Histogram = 2,
    Exponential = 3,
    Summary = 4,
}

/// The metrics of one scope, converted into `out`.
struct Metrics<'a> {
    /// The resource's and the scope's kept attributes.
    scope_tags: &'a Tags,
    /// The resource's and the scope's identity.
    scope_id: &'a [u8],
    state: &'a mut Cumulative,
    now: Instant,
    out: &'a mut Converted,
}

/// One data point, ready for conversion: its tags and its series' identity.
struct Point {
    tags: Tags,
    identity: Vec<u8>,
    stamp: Stamp,
    /// It carries `FLAG_NO_RECORDED_VALUE`.
    no_value: bool,
}

impl Metrics<'_> {
    fn metric(&mut self, metric: &Metric) {
        let Some(data) = &metric.data else {
            self.out.points += 1;
            self.out.rejected.add(RejectReason::NoValue);
            return;
        };
        let points = match data {
            Data::Gauge(g) => g.data_points.len(),
            Data::Sum(s) => s.data_points.len(),
            Data::Histogram(h) => h.data_points.len(),
            Data::ExponentialHistogram(e) => e.data_points.len(),
            Data::Summary(s) => s.data_points.len(),
        };
        self.out.points += points as u64;
        if metric.name.is_empty() {
            for _ in 0..points {
                self.out.rejected.add(RejectReason::NoName);
            }
            return;
        }
        let temporality = |t: i32| match AggregationTemporality::try_from(t) {
            Ok(AggregationTemporality::Delta) => Ok(false),
            Ok(AggregationTemporality::Cumulative) => Ok(true),
            _ => Err(RejectReason::BadTemporality),
        };
        let name = metric.name.as_str();
        match data {
            Data::Gauge(g) => {
                for p in &g.data_points {
                    let result = self.gauge(name, p);
                    self.settle(result);
                }
            }
            Data::Sum(s) => {
                let cumulative = temporality(s.aggregation_temporality);
                for p in &s.data_points {
                    let result = cumulative.and_then(|c| self.sum(name, p, s.is_monotonic, c));
                    self.settle(result);
                }
            }
            Data::Histogram(h) => {
                let cumulative = temporality(h.aggregation_temporality);
                for p in &h.data_points {
                    let result = cumulative.and_then(|c| self.histogram(name, p, c));
                    self.settle(result);
                }
            }
            Data::ExponentialHistogram(e) => {
                let cumulative = temporality(e.aggregation_temporality);
                for p in &e.data_points {
                    let result = cumulative.and_then(|c| self.exponential(name, p, c));
                    self.settle(result);
                }
            }
            Data::Summary(s) => {
                for p in &s.data_points {
                    let result = self.summary(name, p);
                    self.settle(result);
                }
            }
        }
    }

    /// Counts a point's outcome: its samples were pushed, it was a baseline, or it is refused.
    #[allow(clippy::needless_pass_by_value, reason = "each point's result is settled once, where it is made")]
    fn settle(&mut self, result: Result<Outcome, RejectReason>) {
        match result {
            Ok(Outcome::Taken) => {}
            Ok(Outcome::Baseline) => self.out.baselines += 1,
            Err(reason) => self.out.rejected.add(reason),
        }
    }

    /// The point's tags (its attributes over the scope's), refused beyond [`MAX_TAGS`], and its
    /// series' identity.
    fn point(
        &self,
        name: &str,
        kind: Type,
        attributes: &[KeyValue],
        start: u64,
        time: u64,
        flags: u32,
    ) -> Result<Point, RejectReason> {
        // Checked before any text is built: a point with a million attributes costs nothing.
        if attributes.len() > MAX_TAGS {
            return Err(RejectReason::TooManyAttributes);
        }
        let own: Tags = attributes.iter().map(|kv| (kv.key.clone(), value_text(kv.value.as_ref()))).collect();
        let mut identity = self.scope_id.to_vec();
        part(&mut identity, name.as_bytes());
        part(&mut identity, &[kind as u8]);
        let mut sorted: Vec<&(String, String)> = own.iter().collect();
        sorted.sort();
        for (key, value) in sorted {
            part(&mut identity, key.as_bytes());
            part(&mut identity, value.as_bytes());
        }
        let mut tags = self.scope_tags.clone();
        merge(&mut tags, own);
        if tags.len() > MAX_TAGS {
            return Err(RejectReason::TooManyAttributes);
        }
        Ok(Point { tags, identity, stamp: Stamp { start, time }, no_value: flags & NO_RECORDED_VALUE != 0 })
    }

    /// Pushes one sample of `name` with the point's tags (and `extra`, replacing a tag of its
    /// key).
    fn push(
        &mut self,
        name: &str,
        tags: &Tags,
        extra: Option<(&str, &str)>,
        value: SampleValue,
    ) -> Result<(), RejectReason> {
        let mut refs: Vec<(&str, &str)> = tags
            .iter()
            .filter(|(k, _)| extra.is_none_or(|(e, _)| e != k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        refs.extend(extra);
        let sample = Sample::new(name, &refs, value).map_err(|e| match e {
            SampleError::EmptyName => RejectReason::NoName,
            SampleError::NotFinite { .. } | SampleError::BadRate { .. } => RejectReason::NotFinite,
            SampleError::BadBuckets { .. } => RejectReason::BadBuckets,
            SampleError::TooManyTags { .. } => RejectReason::TooManyAttributes,
        })?;
        self.out.samples.push(sample);
        Ok(())
    }

    /// Records `last` for the point's series (see [`Cumulative::step`]); a point without a
    /// recorded value ends the series instead.
    fn step<T>(
        &mut self,
        point: &Point,
        last: Last,
        delta: impl FnOnce(&Last, &Last) -> Option<T>,
        whole: impl FnOnce(&Last) -> T,
    ) -> Step<T> {
        self.state.step(&point.identity, point.stamp, self.now, last, delta, whole)
    }

    /// A gauge point: its value.
    fn gauge(&mut self, name: &str, p: &NumberDataPoint) -> Result<Outcome, RejectReason> {
        let point = self.point(name, Type::Sum, &p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags)?;
        if point.no_value {
            return Ok(Outcome::Taken);
        }
        let value = number(p)?;
        self.push(name, &point.tags, None, SampleValue::Gauge(value))?;
        Ok(Outcome::Taken)
    }

    /// A sum point: monotonic ones are counters (a cumulative one as its increase), others
    /// gauges (a delta one moves the gauge).
    fn sum(
        &mut self,
        name: &str,
        p: &NumberDataPoint,
        monotonic: bool,
        cumulative: bool,
    ) -> Result<Outcome, RejectReason> {
        let point = self.point(name, Type::Sum, &p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags)?;
        if point.no_value {
            self.state.forget(&point.identity);
            return Ok(Outcome::Taken);
        }
        let value = number(p)?;
        let sample = match (monotonic, cumulative) {
            (true, false) => SampleValue::Counter(value),
            (true, true) => {
                let step = self.step(
                    &point,
                    Last::Number(value),
                    |previous, _| match previous {
                        Last::Number(previous) => increase(*previous, value),
                        _ => None,
                    },
                    |_| value,
                );
                match step {
                    Step::Delta(delta) => SampleValue::Counter(delta),
                    Step::Baseline => return Ok(Outcome::Baseline),
                    Step::Refused(reason) => return Err(reason),
                }
            }
            (false, true) => SampleValue::Gauge(value),
            (false, false) => SampleValue::GaugeDelta(value),
        };
        self.push(name, &point.tags, None, sample)?;
        Ok(Outcome::Taken)
    }

    /// An explicit-bucket histogram point: its buckets exactly (a cumulative one as the
    /// observations since its previous point).
    fn histogram(&mut self, name: &str, p: &HistogramDataPoint, cumulative: bool) -> Result<Outcome, RejectReason> {
        let point =
            self.point(name, Type::Histogram, &p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags)?;
        if point.no_value {
            self.state.forget(&point.identity);
            return Ok(Outcome::Taken);
        }
        let (bounds, counts) = explicit_buckets(p)?;
        let sum = p.sum.unwrap_or(0.0);
        if ![Some(sum), p.min, p.max].into_iter().flatten().all(f64::is_finite) {
            return Err(RejectReason::NotFinite);
        }
        let whole = Buckets { bounds: Arc::clone(&bounds), counts: counts.clone(), sum, min: p.min, max: p.max };
        let buckets = if cumulative {
            let step = self.step(
                &point,
                Last::Histogram(bounds, counts, sum),
                |previous, now| match (previous, now) {
                    (Last::Histogram(bounds_before, before, sum_before), Last::Histogram(bounds, counts, sum))
                        if bounds_before == bounds =>
                    {
                        let counts = counts.iter().zip(before).map(|(now, before)| now.checked_sub(*before));
                        let counts = counts.collect::<Option<Vec<u64>>>()?;
                        Some(Buckets {
                            bounds: Arc::clone(bounds),
                            counts,
                            sum: sum - sum_before,
                            min: None,
                            max: None,
                        })
                    }
                    // New bounds: the client started over.
                    _ => None,
                },
                |_| whole,
            );
            match step {
                Step::Delta(delta) => delta,
                Step::Baseline => return Ok(Outcome::Baseline),
                Step::Refused(reason) => return Err(reason),
            }
        } else {
            whole
        };
        self.push(name, &point.tags, None, SampleValue::Buckets(Box::new(buckets)))?;
        Ok(Outcome::Taken)
    }

    /// An exponential histogram point: weighted values into the distribution's sketch (a
    /// cumulative one as the observations since its previous point).
    fn exponential(
        &mut self,
        name: &str,
        p: &ExponentialHistogramDataPoint,
        cumulative: bool,
    ) -> Result<Outcome, RejectReason> {
        let point =
            self.point(name, Type::Exponential, &p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags)?;
        if point.no_value {
            self.state.forget(&point.identity);
            return Ok(Outcome::Taken);
        }
        let totals = Totals::of(p)?;
        // The client's min and max describe the observations since the series' start: they
        // are this window's only for a delta point, or a cumulative one counted whole.
        let (totals, whole) = if cumulative {
            let step = self.step(
                &point,
                Last::Exponential(totals.clone()),
                |previous, now| match (previous, now) {
                    (Last::Exponential(before), Last::Exponential(now)) => now.since(before).map(|d| (d, false)),
                    _ => None,
                },
                |_| (totals, true),
            );
            match step {
                Step::Delta(delta) => delta,
                Step::Baseline => return Ok(Outcome::Baseline),
                Step::Refused(reason) => return Err(reason),
            }
        } else {
            (totals, true)
        };
        let (min, max) = if whole { (p.min, p.max) } else { (None, None) };
        if let Some(weighted) = totals.weighted(min, max)? {
            self.push(name, &point.tags, None, SampleValue::Weighted(Box::new(weighted)))?;
        }
        Ok(Outcome::Taken)
    }

    /// A summary point: its count and sum as counters `<name>.count` and `<name>.sum` (the
    /// increase since the previous point: summaries are cumulative), its quantiles as gauges
    /// `<name>` tagged `quantile`.
    fn summary(&mut self, name: &str, p: &SummaryDataPoint) -> Result<Outcome, RejectReason> {
        let point =
            self.point(name, Type::Summary, &p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags)?;
        if point.no_value {
            self.state.forget(&point.identity);
            return Ok(Outcome::Taken);
        }
        if !p.sum.is_finite() || p.quantile_values.iter().any(|q| !q.value.is_finite() || !q.quantile.is_finite()) {
            return Err(RejectReason::NotFinite);
        }
        if p.quantile_values.iter().any(|q| !(0.0..=1.0).contains(&q.quantile)) || p.quantile_values.len() > MAX_BUCKETS
        {
            return Err(RejectReason::BadBuckets);
        }
        let (count, sum) = (p.count, p.sum);
        let step = self.step(
            &point,
            Last::Summary(count, sum),
            |previous, _| match previous {
                Last::Summary(count_before, sum_before) => {
                    count.checked_sub(*count_before).map(|c| (c, sum - sum_before))
                }
                _ => None,
            },
            |_| (count, sum),
        );
        let outcome = match step {
            Step::Delta((count, sum)) => {
                self.push(&format!("{name}.count"), &point.tags, None, SampleValue::Counter(count as f64))?;
                self.push(&format!("{name}.sum"), &point.tags, None, SampleValue::Counter(sum))?;
                Outcome::Taken
            }
            Step::Baseline => Outcome::Baseline,
            Step::Refused(reason) => return Err(reason),
        };
        for q in &p.quantile_values {
            let quantile = q.quantile.to_string();
            self.push(name, &point.tags, Some(("quantile", &quantile)), SampleValue::Gauge(q.value))?;
        }
        Ok(outcome)
    }
}

/// What became of a point that was not refused.
enum Outcome {
    /// Its samples were pushed (none for a point without a recorded value).
    Taken,
    /// It set its cumulative series' baseline (a summary's quantiles were still pushed).
    Baseline,
}

/// A number point's value.
fn number(p: &NumberDataPoint) -> Result<f64, RejectReason> {
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => return Err(RejectReason::NoValue),
    };
    if value.is_finite() { Ok(value) } else { Err(RejectReason::NotFinite) }
}

/// A histogram point's bounds and counts, checked as the window needs them. A point without
/// buckets (only a count and a sum) is one bucket above no bound.
fn explicit_buckets(p: &HistogramDataPoint) -> Result<(Arc<[f64]>, Vec<u64>), RejectReason> {
    if p.bucket_counts.is_empty() {
        return Ok((Arc::from([]), vec![p.count]));
    }
    if p.bucket_counts.len() != p.explicit_bounds.len() + 1 || p.explicit_bounds.len() > MAX_BUCKETS {
        return Err(RejectReason::BadBuckets);
    }
    if !p.explicit_bounds.iter().all(|b| b.is_finite()) {
        return Err(RejectReason::NotFinite);
    }
    let total: u128 = p.bucket_counts.iter().map(|&c| u128::from(c)).sum();
    if !p.explicit_bounds.is_sorted_by(|a, b| a < b) || total != u128::from(p.count) {
        return Err(RejectReason::BadBuckets);
    }
    Ok((Arc::from(p.explicit_bounds.as_slice()), p.bucket_counts.clone()))
}
