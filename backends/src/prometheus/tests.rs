//! Tests of the shared Prometheus parts; the helpers build windows for the Prometheus
//! outputs' own tests too.

use std::sync::Arc;

use super::cumulative::{State, bucket_counts};
use super::families::{Families, FamilyType, Labels, Sample};
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
    assert_eq!(label_name("___"), "_");
    assert_eq!(label_name("é.x"), "_x");
    assert_eq!(label_name(""), "_");
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
    let encoder = Encoder::new(["job", "instance"], Arc::default());
    encoder.advance(&mut state, &w, None);
    let (families, dropped): (Families, _) = encoder.families(&w, &state);
    assert_eq!(families.keys().collect::<Vec<_>>(), ["a_b_total", "lat", "x_total"]);
    assert_eq!(families["x_total"].kind, FamilyType::Counter);
    let env: Labels = Arc::from([("env".to_owned(), "prod".to_owned())]);
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

/// Compiled rules from `[[mappings]]` TOML.
pub(crate) fn mappings(toml_text: &str) -> Arc<super::Mappings> {
    #[derive(serde::Deserialize)]
    struct File {
        mappings: Vec<super::MappingRule>,
    }
    Arc::new(super::Mappings::compile(&toml::from_str::<File>(toml_text).unwrap().mappings).unwrap())
}

const RULES: &str = r#"
[[mappings]]
match = "app.*.requests"
name = "app_requests"
labels = { server = "$1", job = "from-rule", route = "mapped" }
[[mappings]]
match = '(?P<svc>\w+)\.lat'
match_type = "regex"
name = "${svc}_latency_seconds"
buckets = [0.01, 0.1]
[[mappings]]
match = "debug.*"
action = "drop"
[[mappings]]
match = "rpc.*"
name = "rpc_${1}_seconds"
quantiles = [0.5, 0.99]
[[mappings]]
match = "temp.*"
match_metric_type = "gauge"
name = "temperature"
labels = { room = "$1" }
expire_after = "1m"
"#;

fn mapped_window() -> Window {
    window(
        1,
        vec![
            Series {
                key: key("app.web-1.requests", &["route:/api", "server:tag"]),
                value: Value::Counter { sum: 3.0, rate: 0.3 },
            },
            Series { key: key("app.web-2.requests", &[]), value: Value::Counter { sum: 4.0, rate: 0.4 } },
            Series {
                key: key("billing.lat", &[]),
                value: summary(SummaryKind::Timer, &[(5.0, 1.0), (50.0, 2.0), (500.0, 1.0)], &[]),
            },
            Series { key: key("debug.noise", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("debug.level", &[]), value: Value::Gauge { value: 1.0 } },
            Series {
                key: key("rpc.get", &[]),
                value: summary(
                    SummaryKind::Timer,
                    &[(100.0, 1.0), (200.0, 1.0), (300.0, 1.0), (400.0, 1.0), (500.0, 1.0)],
                    &[],
                ),
            },
            Series { key: key("temp.kitchen", &[]), value: Value::Gauge { value: 21.5 } },
            Series { key: key("temp.count", &[]), value: Value::Counter { sum: 2.0, rate: 0.2 } },
            Series { key: key("plain.hits", &[]), value: Value::Counter { sum: 9.0, rate: 0.9 } },
        ],
    )
}

/// Mapped names and labels replace the default ones (a rule's label overrides a tag of the
/// same name, and the reserved `job` is renamed after mapping); drop rules leave series out
/// and are counted; unmatched series keep the default names; kinds are matched.
#[test]
fn mapping_rules_name_label_and_drop_series() {
    let encoder = Encoder::new(["job", "instance"], mappings(RULES));
    let mut state = State::new(vec![1.0]);
    let w = mapped_window();
    assert_eq!(encoder.advance(&mut state, &w, None), 1, "the dropped counter");
    assert!(!state.entries.keys().any(|k| k.name.starts_with("debug.")), "dropped series are not kept");
    let (families, dropped) = encoder.families(&w, &state);
    assert_eq!(
        families.keys().collect::<Vec<_>>(),
        [
            "app_requests_total",
            "billing_latency_seconds",
            "plain_hits_total",
            "rpc_get_seconds",
            "temp_count_total",
            "temperature"
        ]
    );
    assert_eq!(dropped.by_rule, 1, "the dropped gauge");
    assert_eq!(dropped.series, 0);
    let out = text(&families);
    assert!(
        out.contains(
            "app_requests_total{env=\"prod\",exported_job=\"from-rule\",route=\"mapped\",server=\"web-1\"} 3\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "app_requests_total{env=\"prod\",exported_job=\"from-rule\",route=\"mapped\",server=\"web-2\"} 4\n"
        ),
        "{out}"
    );
    assert!(out.contains("temperature{env=\"prod\",room=\"kitchen\"} 21.5\n"), "{out}");
    assert!(out.contains("plain_hits_total{env=\"prod\"} 9\n"), "{out}");
    assert!(out.contains("temp_count_total{env=\"prod\"} 2\n"), "the gauge-only rule leaves the counter alone: {out}");
    assert!(!out.contains("debug"), "{out}");
}

/// A rule's buckets replace the sink's for its series (timers in seconds), and the state
/// keeps them per series.
#[test]
fn a_rule_gives_its_series_their_own_buckets() {
    let encoder = Encoder::new(["job"], mappings(RULES));
    let mut state = State::new(vec![1.0]);
    let w = mapped_window();
    encoder.advance(&mut state, &w, None);
    encoder.advance(&mut state, &window(2, w.series.clone()), None);
    let (families, _) = encoder.families(&w, &state);
    assert_eq!(
        families["billing_latency_seconds"].metrics.values().next().unwrap(),
        &Sample::Histogram { count: 8.0, sum: 2.0 * 0.605, buckets: vec![(0.01, 2.0), (0.1, 6.0)] }
    );
    let out = text(&families);
    assert!(out.contains("billing_latency_seconds_bucket{env=\"prod\",le=\"0.1\"} 6\n"), "{out}");
    assert!(out.contains("billing_latency_seconds_bucket{env=\"prod\",le=\"+Inf\"} 8\n"), "{out}");
}

/// A quantiles rule makes a summary: the window's quantiles (seconds for timers, clamped to
/// the exact extremes), cumulative `_sum` and `_count`, in text and in protobuf; without
/// samples in the window the quantiles are NaN.
#[test]
fn a_quantiles_rule_writes_a_summary_in_text_and_protobuf() {
    use prost::Message as _;
    let encoder = Encoder::new(["job"], mappings(RULES));
    let mut state = State::new(vec![1.0]);
    let w = mapped_window();
    encoder.advance(&mut state, &w, None);
    let (families, _) = encoder.families(&w, &state);
    assert_eq!(families["rpc_get_seconds"].kind, FamilyType::Summary);
    let Sample::Summary { count, sum, quantiles } = families["rpc_get_seconds"].metrics.values().next().unwrap() else {
        panic!("not a summary")
    };
    assert_eq!((*count, *sum), (5.0, 1.5));
    // Within the sketch's 2 % of the exact quantiles (the median 0.3 s, the top 0.5 s).
    assert_eq!((quantiles[0].0, quantiles[1].0), (0.5, 0.99));
    assert!((quantiles[0].1 - 0.3).abs() <= 0.3 * 0.02, "{quantiles:?}");
    assert!((quantiles[1].1 - 0.5).abs() <= 0.5 * 0.02 && quantiles[1].1 <= 0.5, "{quantiles:?}");
    let out = text(&families);
    assert!(out.contains("# TYPE rpc_get_seconds summary\n"), "{out}");
    assert!(out.contains(&format!("rpc_get_seconds{{env=\"prod\",quantile=\"0.99\"}} {}\n", quantiles[1].1)), "{out}");
    assert!(out.contains("rpc_get_seconds_sum{env=\"prod\"} 1.5\n"), "{out}");
    assert!(out.contains("rpc_get_seconds_count{env=\"prod\"} 5\n"), "{out}");

    let body = protobuf(&families);
    let mut buf = &body[..];
    let mut found = None;
    while !buf.is_empty() {
        let family = super::proto::MetricFamily::decode_length_delimited(&mut buf).unwrap();
        if family.name() == "rpc_get_seconds" {
            found = Some(family);
        }
    }
    let family = found.unwrap();
    assert_eq!(family.r#type(), super::proto::MetricType::Summary);
    let summary = family.metric[0].summary.as_ref().unwrap();
    assert_eq!((summary.sample_count, summary.sample_sum), (Some(5), Some(1.5)));
    assert_eq!(summary.quantile.iter().map(super::proto::Quantile::quantile).collect::<Vec<_>>(), [0.5, 0.99]);
    assert_eq!(summary.quantile[1].value, Some(quantiles[1].1));

    // The next window has no samples of it: the totals stay, the quantiles are NaN.
    let quiet = window(2, vec![Series { key: key("plain.hits", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } }]);
    encoder.advance(&mut state, &quiet, None);
    let (families, _) = encoder.families(&quiet, &state);
    let out = text(&families);
    assert!(out.contains("rpc_get_seconds{env=\"prod\",quantile=\"0.5\"} NaN\n"), "{out}");
    assert!(out.contains("rpc_get_seconds_count{env=\"prod\"} 5\n"), "{out}");
}

/// A tag named `quantile` on a summary is renamed like `le` on a histogram.
#[test]
fn a_summary_renames_a_quantile_tag() {
    let encoder = Encoder::new(["job"], mappings(RULES));
    let mut state = State::new(vec![1.0]);
    let w = window(
        1,
        vec![Series { key: key("rpc.x", &["quantile:a"]), value: summary(SummaryKind::Histogram, &[(1.0, 1.0)], &[]) }],
    );
    encoder.advance(&mut state, &w, None);
    let out = text(&encoder.families(&w, &state).0);
    assert!(out.contains("rpc_x_seconds{env=\"prod\",exported_quantile=\"a\",quantile=\"0.5\"} 1\n"), "{out}");
}

/// A rule's `expire_after` overrides the sink's for its series only.
#[test]
fn a_rules_expiry_overrides_the_sinks() {
    let encoder = Encoder::new(["job"], mappings(RULES));
    let hour = Some(std::time::Duration::from_hours(1));
    assert_eq!(
        encoder.expire_after(super::mapping::MetricType::Gauge, "temp.hall", hour),
        Some(std::time::Duration::from_mins(1))
    );
    assert_eq!(encoder.expire_after(super::mapping::MetricType::Gauge, "other", hour), hour);
    let mut state = State::new(vec![1.0]);
    let w =
        window(1, vec![Series { key: key("rpc.x", &[]), value: summary(SummaryKind::Histogram, &[(1.0, 1.0)], &[]) }]);
    encoder.advance(&mut state, &w, hour);
    // Half an hour later: within the sink's hour.
    let later = Window { id: 2, end_ms: w.end_ms + 1_800_000, series: Vec::new(), ..w.clone() };
    encoder.advance(&mut state, &later, hour);
    assert_eq!(state.entries.len(), 1);
    let expiring = mappings("[[mappings]]\nmatch = \"rpc.*\"\nname = \"r\"\nexpire_after = \"10m\"\n");
    Encoder::new(["job"], expiring).advance(&mut state, &later, hour);
    assert!(state.entries.is_empty(), "the rule's ten minutes are over");
}

/// A version 1 state file (one `bounds` for every histogram) still loads, is saved as
/// version 2, and a rule that changes a series' buckets restarts that histogram while
/// counters keep their totals.
#[test]
fn an_old_state_file_loads_and_changed_rule_buckets_reset_only_that_histogram() {
    let dir = std::env::temp_dir().join(format!("sluice-state-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let v1 = r#"{"version":1,"bounds":[0.01,0.1],"applied":null,"series":[
        [{"kind":"counter","name":"app.web-1.requests","tags":[]},{"seen_ms":10000,"value":41.0}],
        [{"kind":"timer","name":"billing.lat","tags":[]},{"seen_ms":10000,"count":3.0,"sum":0.2,"buckets":[1.0,2.0]}],
        [{"kind":"timer","name":"other.lat","tags":[]},{"seen_ms":10000,"count":5.0,"sum":0.5,"buckets":[2.0,4.0]}]]}"#;
    std::fs::write(&path, v1).unwrap();
    let mut state = State::load(&path, vec![0.01, 0.1]).unwrap();
    assert_eq!(state.entries.len(), 3);
    assert!(state.entries.values().filter(|e| e.count > 0.0).all(|e| e.bounds == [0.01, 0.1]));
    state.save(&path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("{\"version\":2,"));

    // The rule for billing.lat now has other buckets: that histogram restarts, others keep.
    let rules = "[[mappings]]\nmatch = \"billing.lat\"\nname = \"billing\"\nbuckets = [0.5]\n";
    let encoder = Encoder::new(["job"], mappings(rules));
    let w = window(
        2,
        vec![
            Series { key: key("app.web-1.requests", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("billing.lat", &[]), value: summary(SummaryKind::Timer, &[(100.0, 1.0)], &[]) },
            Series { key: key("other.lat", &[]), value: summary(SummaryKind::Timer, &[(50.0, 1.0)], &[]) },
        ],
    );
    encoder.advance(&mut state, &w, None);
    let (families, _) = encoder.families(&w, &state);
    let first = |name: &str| families[name].metrics.values().next().unwrap().clone();
    assert_eq!(first("app_web_1_requests_total"), Sample::Value(42.0));
    assert_eq!(first("billing"), Sample::Histogram { count: 1.0, sum: 0.1, buckets: vec![(0.5, 1.0)] });
    assert_eq!(first("other_lat"), Sample::Histogram { count: 6.0, sum: 0.55, buckets: vec![(0.01, 2.0), (0.1, 5.0)] });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An explicit-bucket histogram of `(bound, observations)` per bucket and the `+Inf` bucket.
fn buckets(bounds: &[f64], counts: &[u64], sum: f64) -> Value {
    Value::Buckets(Box::new(crate::model::Buckets {
        bounds: Arc::from(bounds),
        counts: counts.to_vec(),
        sum,
        min: None,
        max: None,
    }))
}

/// A client's explicit buckets reach Prometheus exactly at the client's bounds, cumulative
/// across windows, whatever the sink's buckets or a rule's `buckets` and `quantiles` say.
#[test]
fn explicit_buckets_are_kept_exactly_at_the_clients_bounds() {
    let rules = mappings(
        r#"
[[mappings]]
match = "http.*"
name = "http_${1}_seconds"
quantiles = [0.5]
[[mappings]]
match = "grpc.*"
name = "grpc_${1}"
buckets = [5.0]
"#,
    );
    let encoder = Encoder::new(["job"], rules);
    let mut state = State::new(vec![1.0, 2.0]);
    let one = |id| {
        let series = |name| Series { key: key(name, &["route:/a"]), value: buckets(&[0.1, 0.25], &[3, 1, 2], 7.5) };
        window(id, vec![series("http.duration"), series("grpc.duration")])
    };
    encoder.advance(&mut state, &one(1), None);
    encoder.advance(&mut state, &one(2), None);
    let (families, dropped) = encoder.families(&one(2), &state);
    assert_eq!(dropped, super::translate::Dropped::default());
    for name in ["http_duration_seconds", "grpc_duration"] {
        let family = &families[name];
        assert_eq!(family.kind, FamilyType::Histogram);
        assert_eq!(
            family.metrics.values().next().unwrap(),
            &Sample::Histogram { count: 12.0, sum: 15.0, buckets: vec![(0.1, 6.0), (0.25, 8.0)] }
        );
    }
    let out = text(&families);
    assert!(out.contains("http_duration_seconds_bucket{env=\"prod\",route=\"/a\",le=\"0.25\"} 8\n"), "{out}");
    assert!(out.contains("http_duration_seconds_bucket{env=\"prod\",route=\"/a\",le=\"+Inf\"} 12\n"), "{out}");
    assert!(out.contains("http_duration_seconds_count{env=\"prod\",route=\"/a\"} 12\n"), "{out}");
}

/// When a client changes its bounds the totals are re-cut, never reset: count and sum carry
/// on, a bound kept keeps its total, a new bound starts from the total at the old bound below
/// it; and the histogram survives a save and a load with changed sink buckets.
#[test]
fn changed_client_bounds_recut_the_totals_and_survive_a_restart() {
    let encoder = Encoder::new(["job"], mappings("mappings = []"));
    let mut state = State::new(vec![1.0]);
    let at = |id, bounds: &[f64], counts: &[u64], sum| {
        window(id, vec![Series { key: key("rpc", &[]), value: buckets(bounds, counts, sum) }])
    };
    encoder.advance(&mut state, &at(1, &[1.0, 10.0], &[2, 3, 1], 40.0), None);
    encoder.advance(&mut state, &at(2, &[1.0, 5.0, 10.0], &[1, 1, 1, 1], 20.0), None);
    let expected = Sample::Histogram { count: 10.0, sum: 60.0, buckets: vec![(1.0, 3.0), (5.0, 4.0), (10.0, 8.0)] };
    let (families, _) = encoder.families(&at(2, &[1.0], &[0, 0], 0.0), &state);
    assert_eq!(families["rpc"].metrics.values().next().unwrap(), &expected);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    state.save(&path).unwrap();
    let loaded = State::load(&path, vec![2.0, 3.0]).unwrap();
    let (families, _) = encoder.families(&at(3, &[1.0], &[0, 0], 0.0), &loaded);
    assert_eq!(families["rpc"].metrics.values().next().unwrap(), &expected, "other sink buckets leave it alone");
}
