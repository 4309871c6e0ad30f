//! Tests of the shared Prometheus parts; the helpers build windows for the Prometheus
//! outputs' own tests too.

use std::sync::Arc;

use super::cumulative::{State, bucket_counts};
use super::families::{Families, FamilyType, Sample};
use super::names::{counter_name, label_name, metric_name};
use super::protobuf::protobuf;
use super::text::{Number, TextWriter, text};
use super::translate::Encoder;
use crate::model::{Series, SeriesKey, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

pub(crate) fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// A summary of `(value, weight)` samples, with the aggregator's buckets at `aggregator_bounds`.
pub(crate) fn summary(kind: SummaryKind, samples: &[(f64, f64)], aggregator_bounds: &[f64]) -> Value {
    let mut sketch = Sketch::new();
    for &(v, w) in samples {
        sketch.add(v, w);
    }
    let count = samples.iter().map(|s| s.1).sum();
    let sum = samples.iter().map(|s| s.0 * s.1).sum();
    let buckets =
        aggregator_bounds.iter().map(|&b| (b, samples.iter().filter(|s| s.0 <= b).map(|s| s.1).sum())).collect();
    Value::Summary(Box::new(Summary {
        kind,
        count,
        sum,
        min: samples.iter().map(|s| s.0).fold(f64::INFINITY, f64::min),
        max: samples.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max),
        percentiles: Vec::new(),
        buckets,
        sketch,
    }))
}

pub(crate) fn window(id: u64, series: Vec<Series>) -> Window {
    Window {
        id,
        start_ms: (id - 1) * 10_000,
        end_ms: id * 10_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

/// Names and label names are sanitised as Prometheus requires.
#[test]
fn names_are_sanitised_to_prometheus_rules() {
    assert_eq!(metric_name("app.req-latency"), "app_req_latency");
    assert_eq!(metric_name("1st:metric/é"), "_1st:metric__");
    assert_eq!(metric_name(""), "_");
    assert_eq!(counter_name("hits"), "hits_total");
    assert_eq!(counter_name("hits_total"), "hits_total");
    assert_eq!(label_name("a:b.c"), "a_b_c");
    assert_eq!(label_name("__meta"), "_meta");
    assert_eq!(label_name("9lives"), "_9lives");
}

/// With the aggregator's buckets at the same bounds (milliseconds for timers) the counts are
/// the aggregator's exact ones; otherwise a sample exactly on a bound counts at that bound.
#[test]
fn bucket_counts_are_exact_from_aggregator_buckets_and_on_bounds() {
    let Value::Summary(exact) =
        summary(SummaryKind::Timer, &[(5.0, 1.0), (5.05, 1.0), (99.0, 2.0), (300.0, 1.0)], &[5.0, 100.0])
    else {
        unreachable!()
    };
    assert_eq!(bucket_counts(&exact, &[0.005, 0.1], 1000.0), [1.0, 4.0]);
    let Value::Summary(sketched) =
        summary(SummaryKind::Histogram, &[(1.0, 1.0), (5.0, 3.0), (10.0, 1.0), (50.0, 1.0)], &[])
    else {
        unreachable!()
    };
    assert_eq!(bucket_counts(&sketched, &[0.5, 1.0, 5.0, 10.0, 20.0, 50.0], 1.0), [0.0, 1.0, 4.0, 5.0, 5.0, 6.0]);
}

/// A family whose name collides with another of a different type (or with a histogram's
/// `_count`) is left out of the push instead of making the gateway refuse all of it; two
/// StatsD counters that become one Prometheus series add up.
#[test]
fn colliding_names_are_dropped_or_merged_deterministically() {
    let w = window(
        1,
        vec![
            Series { key: key("x", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("x_total", &[]), value: Value::Gauge { value: 7.0 } },
            Series { key: key("a.b", &[]), value: Value::Counter { sum: 2.0, rate: 0.2 } },
            Series { key: key("a_b", &[]), value: Value::Counter { sum: 3.0, rate: 0.3 } },
            Series { key: key("lat", &[]), value: summary(SummaryKind::Histogram, &[(1.0, 1.0)], &[]) },
            Series { key: key("lat_count", &[]), value: Value::Gauge { value: 1.0 } },
        ],
    );
    let mut state = State::new(vec![1.0]);
    state.apply(&w, None);
    let (families, dropped): (Families, _) = Encoder::new(["job", "instance"], Arc::default()).families(&w, &state);
    assert_eq!(families.keys().collect::<Vec<_>>(), ["a_b_total", "lat", "x_total"]);
    assert_eq!(families["x_total"].kind, FamilyType::Counter);
    let env = vec![("env".to_owned(), "prod".to_owned())];
    assert_eq!(families["a_b_total"].metrics[&env], Sample::Value(5.0));
    assert_eq!(dropped.series, 2);
    assert_eq!(dropped.names, ["x_total", "lat_count"]);
    assert!(text(&families).ends_with('\n'));
    assert!(!protobuf(&families).is_empty());
}

/// The writer the agent's `/metrics` uses escapes label values (`\\`, `"`, newline) and
/// HELP text (`\\`, newline) as the text format requires, keeps the labels in the order given
/// and writes counts exactly and floats as Prometheus reads them.
#[test]
fn the_text_writer_escapes_label_values_and_help_and_formats_numbers() {
    let mut w = TextWriter::default();
    w.family("up_total", FamilyType::Counter, Some("Says \"up\"; a \\ and a\nnewline."));
    w.sample("up_total", &[("listener", "unix:/a\"b\\c\nd"), ("class", "x")], u64::MAX);
    w.sample("up_total", &[] as &[(&str, &str)], 1.5);
    w.family("g", FamilyType::Gauge, None);
    w.sample("g", &[("a", "1")], f64::NEG_INFINITY);
    w.sample("g", &[("a", "2")], f64::NAN);
    w.sample("g", &[("a", "3")], 1e21);
    w.sample("g", &[("a", "4")], Number::Float(0.1 + 0.2));
    assert_eq!(
        w.finish(),
        concat!(
            "# HELP up_total Says \"up\"; a \\\\ and a\\nnewline.\n",
            "# TYPE up_total counter\n",
            "up_total{listener=\"unix:/a\\\"b\\\\c\\nd\",class=\"x\"} 18446744073709551615\n",
            "up_total 1.5\n",
            "# TYPE g gauge\n",
            "g{a=\"1\"} -Inf\n",
            "g{a=\"2\"} NaN\n",
            "g{a=\"3\"} 1000000000000000000000\n",
            "g{a=\"4\"} 0.30000000000000004\n",
        )
    );
}

/// A family written by the Pushgateway's encoder and the same family written line by line
/// through the agent's writer are the same bytes: one escaper, one number formatter.
#[test]
fn families_and_the_agents_writer_render_a_label_value_the_same() {
    let value = "unix:/a\"b\\c\nd";
    let w = window(
        1,
        vec![Series { key: key("cpu.temp", &[&format!("listener:{value}")]), value: Value::Gauge { value: 0.25 } }],
    );
    let (families, _) = Encoder::new(["job"], Arc::default()).families(&w, &State::new(Vec::new()));
    let mut writer = TextWriter::default();
    writer.family("cpu_temp", FamilyType::Gauge, None);
    writer.sample("cpu_temp", &[("env", "prod"), ("listener", value)], 0.25);
    let shared = writer.finish();
    assert_eq!(text(&families), shared);
    assert!(shared.contains("listener=\"unix:/a\\\"b\\\\c\\nd\""), "{shared}");
}
