//! Tests of the receiver: decoding both encodings, each OTLP type's conversion, the
//! cumulative-to-delta rules, and the HTTP answers of a running receiver.

mod convert;
mod cumulative;
mod decode;
mod server;

use std::time::{Duration, Instant};

use super::attributes::AttributeFilter;
use super::convert::{Converted, convert};
use super::cumulative::Cumulative;
use super::proto::opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::opentelemetry::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use super::proto::opentelemetry::proto::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exponential_histogram_data_point::Buckets as ExponentialBuckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use super::proto::opentelemetry::proto::resource::v1::Resource;
use crate::aggregator::input::SampleValue;
use crate::config::AttributeRules;

/// When the receiver of these tests started, in Unix nanoseconds: points whose series started
/// at or after it count in full.
const STARTED: u64 = 1_000;

fn kv(key: &str, value: &str) -> KeyValue {
    let value = Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_owned())) });
    KeyValue { key: key.to_owned(), value, ..KeyValue::default() }
}

fn attributes(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| kv(k, v)).collect()
}

/// One resource with `resource` attributes and one scope `shop` 1.0 holding `metrics`.
fn request(resource: &[(&str, &str)], metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    let scope = InstrumentationScope { name: "shop".to_owned(), version: "1.0".to_owned(), ..Default::default() };
    let scope_metrics = ScopeMetrics { scope: Some(scope), metrics, schema_url: String::new() };
    let resource = Resource { attributes: attributes(resource), ..Default::default() };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![scope_metrics],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric { name: name.to_owned(), data: Some(data), ..Default::default() }
}

fn temporality(cumulative: bool) -> i32 {
    if cumulative { AggregationTemporality::Cumulative as i32 } else { AggregationTemporality::Delta as i32 }
}

fn sum(name: &str, monotonic: bool, cumulative: bool, data_points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        Data::Sum(Sum { data_points, aggregation_temporality: temporality(cumulative), is_monotonic: monotonic }),
    )
}

fn gauge(name: &str, data_points: Vec<NumberDataPoint>) -> Metric {
    metric(name, Data::Gauge(Gauge { data_points }))
}

fn histogram(name: &str, cumulative: bool, data_points: Vec<HistogramDataPoint>) -> Metric {
    metric(name, Data::Histogram(Histogram { data_points, aggregation_temporality: temporality(cumulative) }))
}

fn exponential(name: &str, cumulative: bool, data_points: Vec<ExponentialHistogramDataPoint>) -> Metric {
    let data = ExponentialHistogram { data_points, aggregation_temporality: temporality(cumulative) };
    metric(name, Data::ExponentialHistogram(data))
}

fn summary(name: &str, data_points: Vec<SummaryDataPoint>) -> Metric {
    metric(name, Data::Summary(Summary { data_points }))
}

/// A double point of `value` with `attrs`, its series started at `start`, taken at `time`.
fn double(attrs: &[(&str, &str)], start: u64, time: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(attrs),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// An int point, as [`double`].
fn int(attrs: &[(&str, &str)], start: u64, time: u64, value: i64) -> NumberDataPoint {
    NumberDataPoint { value: Some(number_data_point::Value::AsInt(value)), ..double(attrs, start, time, 0.0) }
}

/// An explicit-bucket point: `counts` per bucket of `bounds`, their total as its count.
fn buckets(start: u64, time: u64, bounds: &[f64], counts: &[u64], sum: f64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

/// An exponential point at `scale`: `positive` counts from bucket `offset`, `zero` in the zero
/// bucket.
fn exponential_point(
    start: u64,
    time: u64,
    scale: i32,
    offset: i32,
    positive: &[u64],
    zero: u64,
    sum: f64,
) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: positive.iter().sum::<u64>() + zero,
        sum: Some(sum),
        scale,
        zero_count: zero,
        positive: Some(ExponentialBuckets { offset, bucket_counts: positive.to_vec() }),
        ..Default::default()
    }
}

fn summary_point(start: u64, time: u64, count: u64, sum: f64, quantiles: &[(f64, f64)]) -> SummaryDataPoint {
    SummaryDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: time,
        count,
        sum,
        quantile_values: quantiles.iter().map(|&(quantile, value)| ValueAtQuantile { quantile, value }).collect(),
        ..Default::default()
    }
}

/// A cumulative state of the receiver that started at [`STARTED`], keeping up to 1000 series.
fn state() -> Cumulative {
    Cumulative::new(1000, Duration::from_mins(10), STARTED)
}

/// `request` converted with the default attribute rules (`service.name` kept).
fn run(state: &mut Cumulative, request: &ExportMetricsServiceRequest) -> Converted {
    convert(request, &AttributeFilter::new(&AttributeRules::default()), state, Instant::now())
}

/// Each sample as `(name, tags sorted, value)`.
fn samples(converted: &Converted) -> Vec<(String, Vec<String>, SampleValue)> {
    converted
        .samples
        .iter()
        .map(|s| {
            let mut tags: Vec<String> = s.tags().map(str::to_owned).collect();
            tags.sort();
            (s.name().to_owned(), tags, s.value().clone())
        })
        .collect()
}

/// Each sample's value only.
fn values(converted: &Converted) -> Vec<SampleValue> {
    converted.samples.iter().map(|s| s.value().clone()).collect()
}
