//! Each OTLP type to the window's values, attributes to tags, refusals per point.

use std::sync::Arc;

use backends::Buckets;

use super::*;
use crate::aggregator::input::{MAX_TAGS, Weighted};
use crate::sources::otlp::RejectReason;

/// Delta monotonic sums are counters as sent, gauges gauges, non-monotonic cumulative sums
/// gauges and non-monotonic delta sums moves of a gauge; ints and doubles alike.
#[test]
fn each_number_type_becomes_its_window_kind() {
    let mut state = state();
    let request = request(
        &[("service.name", "shop")],
        vec![
            sum("hits", true, false, vec![int(&[("route", "a")], 0, 10, 3), double(&[("route", "b")], 0, 10, 0.5)]),
            gauge("temp", vec![double(&[], 0, 10, -4.25)]),
            sum("queue", false, true, vec![int(&[], 5, 10, 12)]),
            sum("inflight", false, false, vec![int(&[], 5, 10, -2)]),
        ],
    );
    let converted = run(&mut state, &request);
    let svc = "service.name:shop".to_owned();
    assert_eq!(
        samples(&converted),
        [
            ("hits".to_owned(), vec!["route:a".to_owned(), svc.clone()], SampleValue::Counter(3.0)),
            ("hits".to_owned(), vec!["route:b".to_owned(), svc.clone()], SampleValue::Counter(0.5)),
            ("temp".to_owned(), vec![svc.clone()], SampleValue::Gauge(-4.25)),
            ("queue".to_owned(), vec![svc.clone()], SampleValue::Gauge(12.0)),
            ("inflight".to_owned(), vec![svc], SampleValue::GaugeDelta(-2.0)),
        ]
    );
    assert_eq!((converted.points, converted.baselines, converted.rejected.total()), (5, 0, 0));
}

/// Resource and scope attributes pass the allow/deny rules (deny wins, prefixes match); a
/// point's own attributes always become tags and win over a resource attribute of the same key.
#[test]
fn resource_attributes_become_tags_through_the_rules_and_point_attributes_win() {
    let rules = AttributeRules {
        allow: vec!["service.name".to_owned(), "deployment.*".to_owned(), "team".to_owned()],
        deny: vec!["deployment.secret".to_owned()],
    };
    let mut request = request(
        &[
            ("service.name", "shop"),
            ("service.instance.id", "i-1"),
            ("deployment.environment", "prod"),
            ("deployment.secret", "s3cret"),
            ("team", "core"),
        ],
        vec![gauge("temp", vec![double(&[("team", "payments"), ("zone", "z1")], 0, 10, 1.0)])],
    );
    let scope = request.resource_metrics[0].scope_metrics[0].scope.as_mut().unwrap();
    scope.attributes = attributes(&[("deployment.region", "eu"), ("library.kind", "http")]);
    let filter = AttributeFilter::new(&rules);
    let converted = convert(&request, &filter, &mut state(), Instant::now());
    assert_eq!(
        samples(&converted)[0].1,
        ["deployment.environment:prod", "deployment.region:eu", "service.name:shop", "team:payments", "zone:z1"]
    );
}

/// Attribute values of every type become tag text: booleans and numbers in decimal, bytes in
/// base64, arrays and maps as JSON, an empty value a bare tag.
#[test]
fn attribute_values_of_every_type_become_tag_text() {
    use any_value::Value as V;
    let any = |v: V| Some(AnyValue { value: Some(v) });
    let values = vec![
        KeyValue { key: "b".into(), value: any(V::BoolValue(true)), ..Default::default() },
        KeyValue { key: "i".into(), value: any(V::IntValue(-7)), ..Default::default() },
        KeyValue { key: "d".into(), value: any(V::DoubleValue(2.5)), ..Default::default() },
        KeyValue { key: "x".into(), value: any(V::BytesValue(vec![0xde, 0xad])), ..Default::default() },
        KeyValue {
            key: "a".into(),
            value: any(V::ArrayValue(super::super::proto::opentelemetry::proto::common::v1::ArrayValue {
                values: vec![
                    AnyValue { value: Some(V::StringValue("p\"q".into())) },
                    AnyValue { value: Some(V::IntValue(1)) },
                ],
            })),
            ..Default::default()
        },
        KeyValue { key: "e".into(), value: None, ..Default::default() },
    ];
    let mut point = double(&[], 0, 10, 1.0);
    point.attributes = values;
    let converted = run(&mut state(), &request(&[], vec![gauge("g", vec![point])]));
    assert_eq!(samples(&converted)[0].1, ["a:[\"p\\\"q\",1]", "b:true", "d:2.5", "e", "i:-7", "x:3q0="]);
}

/// A point with more attributes than a series may have tags is refused alone: the other
/// points of the request are kept, and the reason is counted.
#[test]
fn a_point_with_too_many_attributes_is_refused_alone() {
    let many: Vec<(String, String)> = (0..=MAX_TAGS).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = request(
        &[("service.name", "shop")],
        vec![sum("hits", true, false, vec![int(&many, 0, 10, 1), int(&[("ok", "1")], 0, 10, 2)])],
    );
    let converted = run(&mut state(), &request);
    assert_eq!(values(&converted), [SampleValue::Counter(2.0)]);
    assert_eq!(converted.rejected.0[RejectReason::TooManyAttributes.index()], 1);
    // Exactly MAX_TAGS tags, the resource's included, is still fine.
    let fits: Vec<(String, String)> = (1..MAX_TAGS).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let fits: Vec<(&str, &str)> = fits.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = super::request(&[("service.name", "shop")], vec![gauge("g", vec![double(&fits, 0, 1, 1.0)])]);
    assert_eq!(run(&mut state(), &request).samples[0].tags().len(), MAX_TAGS);
}

/// NaN and infinite values, points without a value, metrics without data or a name and an
/// unspecified temporality are refused point by point with their reasons; the message for
/// the client names each.
#[test]
fn points_that_cannot_be_taken_are_refused_by_reason() {
    let mut no_temporality = sum("s", true, false, vec![int(&[], 0, 1, 1)]);
    if let Some(Data::Sum(s)) = &mut no_temporality.data {
        s.aggregation_temporality = 0;
    }
    let mut no_value = int(&[], 0, 1, 1);
    no_value.value = None;
    let request = request(
        &[],
        vec![
            gauge(
                "g",
                vec![double(&[], 0, 1, f64::NAN), double(&[], 0, 1, f64::INFINITY), no_value, double(&[], 0, 1, 2.0)],
            ),
            Metric { name: "empty".to_owned(), data: None, ..Default::default() },
            gauge("", vec![double(&[], 0, 1, 1.0)]),
            no_temporality,
        ],
    );
    let converted = run(&mut state(), &request);
    assert_eq!(values(&converted), [SampleValue::Gauge(2.0)]);
    let r = &converted.rejected;
    let count = |reason: RejectReason| r.0[reason.index()];
    assert_eq!(
        [RejectReason::NotFinite, RejectReason::NoValue, RejectReason::NoName, RejectReason::BadTemporality].map(count),
        [2, 2, 1, 1]
    );
    assert_eq!(converted.points, 7);
    assert_eq!(
        r.message(),
        "6 data points rejected: 2 not_finite (a NaN or infinite value, sum or bound); 2 no_value (a point without \
         a value or a metric without data); 1 bad_temporality (an unspecified aggregation temporality); 1 no_name \
         (a metric without a name)"
    );
}

/// A delta explicit-bucket histogram reaches the window exactly: bounds, counts per bucket,
/// sum, min and max; one without buckets is a single bucket; inconsistent ones are refused.
#[test]
fn delta_histograms_keep_their_buckets_exactly() {
    let mut with_min_max = buckets(0, 10, &[1.0, 5.0], &[2, 0, 3], 40.0);
    (with_min_max.min, with_min_max.max) = (Some(0.5), Some(20.0));
    let mut count_only = buckets(0, 10, &[], &[], 12.0);
    count_only.count = 4;
    let mut wrong_count = buckets(0, 10, &[1.0], &[1, 1], 3.0);
    wrong_count.count = 3;
    let request = request(
        &[],
        vec![histogram(
            "latency",
            false,
            vec![
                with_min_max,
                count_only,
                wrong_count,
                buckets(0, 10, &[5.0, 1.0], &[1, 1, 1], 3.0),
                buckets(0, 10, &[1.0, f64::NAN], &[1, 1, 1], 3.0),
                buckets(0, 10, &[1.0], &[1, 1, 1], 3.0),
            ],
        )],
    );
    let converted = run(&mut state(), &request);
    assert_eq!(
        values(&converted),
        [
            SampleValue::Buckets(Box::new(Buckets {
                bounds: Arc::from([1.0, 5.0]),
                counts: vec![2, 0, 3],
                sum: 40.0,
                min: Some(0.5),
                max: Some(20.0)
            })),
            SampleValue::Buckets(Box::new(Buckets {
                bounds: Arc::from([]),
                counts: vec![4],
                sum: 12.0,
                min: None,
                max: None
            })),
        ]
    );
    let r = &converted.rejected;
    assert_eq!((r.0[RejectReason::BadBuckets.index()], r.0[RejectReason::NotFinite.index()]), (3, 1));
}

/// A delta exponential histogram becomes weighted midpoints for the sketch: bucket `i` of
/// scale 0 holds `(2ⁱ, 2ⁱ⁺¹]`, weighed by its count, the zero bucket at 0; count, sum, min
/// and max are the client's.
#[test]
fn delta_exponential_histograms_become_weighted_midpoints() {
    let mut point = exponential_point(0, 10, 0, 1, &[3, 0, 1], 2, 30.0);
    point.negative = Some(ExponentialBuckets { offset: 0, bucket_counts: vec![1] });
    point.count += 1;
    (point.min, point.max) = (Some(-1.5), Some(15.0));
    let converted = run(&mut state(), &request(&[], vec![exponential("size", false, vec![point])]));
    assert_eq!(
        values(&converted),
        [SampleValue::Weighted(Box::new(Weighted {
            values: vec![(0.0, 2.0), (-1.5, 1.0), (3.0, 3.0), (12.0, 1.0)],
            count: 7.0,
            sum: 30.0,
            min: -1.5,
            max: 15.0,
        }))]
    );
    // Scale 2: base 2^(1/4); bucket 4 is (2, 2^(5/4)].
    let converted = run(
        &mut state(),
        &request(&[], vec![exponential("fine", false, vec![exponential_point(0, 10, 2, 4, &[1], 0, 2.2)])]),
    );
    let SampleValue::Weighted(w) = &values(&converted)[0] else { panic!("{converted:?}") };
    assert_eq!(w.values, [(f64::midpoint(2.0, 1.25_f64.exp2()), 1.0)]);
    assert_eq!((w.min, w.max), (w.values[0].0, w.values[0].0), "without min and max: the midpoints'");
}

/// Exponential histograms the window cannot take are refused: a scale outside -10..=20, a
/// count that is not the buckets' total, buckets whose bounds overflow `f64`.
#[test]
fn exponential_histograms_out_of_range_are_refused() {
    let mut wrong_count = exponential_point(0, 10, 0, 0, &[1], 0, 1.0);
    wrong_count.count = 5;
    let request = request(
        &[],
        vec![exponential(
            "e",
            false,
            vec![
                exponential_point(0, 10, 21, 0, &[1], 0, 1.0),
                wrong_count,
                exponential_point(0, 10, -10, 1_000_000, &[1], 0, 1.0),
                exponential_point(0, 10, 0, 0, &[1], 0, 1.5),
            ],
        )],
    );
    let converted = run(&mut state(), &request);
    assert_eq!(converted.samples.len(), 1);
    let r = &converted.rejected;
    assert_eq!((r.0[RejectReason::BadBuckets.index()], r.0[RejectReason::NotFinite.index()]), (2, 1));
}

/// A summary's count and sum become counters `<name>.count` and `<name>.sum` (their increase:
/// summaries are cumulative) and its quantiles gauges `<name>` tagged `quantile`; the
/// quantiles are reported from the first point on, the counters once there is a baseline.
#[test]
fn summaries_become_count_and_sum_counters_and_quantile_gauges() {
    let mut state = state();
    let first = request(&[], vec![summary("rpc", vec![summary_point(1, 10, 4, 10.0, &[(0.5, 2.0), (0.99, 4.0)])])]);
    let converted = run(&mut state, &first);
    let q = |v: &str| vec![format!("quantile:{v}")];
    assert_eq!(
        samples(&converted),
        [("rpc".to_owned(), q("0.5"), SampleValue::Gauge(2.0)), ("rpc".to_owned(), q("0.99"), SampleValue::Gauge(4.0))],
        "started before the receiver: a baseline"
    );
    assert_eq!(converted.baselines, 1);
    let next = request(&[], vec![summary("rpc", vec![summary_point(1, 20, 10, 31.5, &[(0.5, 3.0)])])]);
    assert_eq!(
        samples(&run(&mut state, &next)),
        [
            ("rpc.count".to_owned(), vec![], SampleValue::Counter(6.0)),
            ("rpc.sum".to_owned(), vec![], SampleValue::Counter(21.5)),
            ("rpc".to_owned(), q("0.5"), SampleValue::Gauge(3.0)),
        ]
    );
    let bad = request(&[], vec![summary("rpc", vec![summary_point(1, 30, 11, 40.0, &[(1.5, 3.0)])])]);
    assert_eq!(run(&mut state, &bad).rejected.0[RejectReason::BadBuckets.index()], 1);
}

/// A point flagged as having no recorded value produces nothing and ends its cumulative
/// series: the next point starts from a new baseline.
#[test]
fn a_point_without_a_recorded_value_ends_its_series() {
    let mut state = state();
    run(&mut state, &request(&[], vec![sum("c", true, true, vec![int(&[], 1, 10, 5)])]));
    let mut ended = int(&[], 1, 20, 0);
    ended.flags = 1;
    let converted = run(&mut state, &request(&[], vec![sum("c", true, true, vec![ended])]));
    assert!(converted.samples.is_empty());
    assert_eq!((converted.points, converted.rejected.total(), state.len()), (1, 0, 0));
    let converted = run(&mut state, &request(&[], vec![sum("c", true, true, vec![int(&[], 1, 30, 9)])]));
    assert_eq!((converted.samples.len(), converted.baselines), (0, 1));
}
