//! The families as length-delimited protobuf `io.prometheus.client.MetricFamily` messages,
//! encoded by prost from the vendored data model.

use prost::Message as _;

use super::families::{Families, FamilyType, Sample, whole};
use super::proto;

/// Every family as one delimited `MetricFamily`, without help or timestamps.
pub(crate) fn protobuf(families: &Families) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, family) in families {
        let kind = match family.kind {
            FamilyType::Counter => proto::MetricType::Counter,
            FamilyType::Gauge => proto::MetricType::Gauge,
            FamilyType::Histogram => proto::MetricType::Histogram,
            FamilyType::Summary => proto::MetricType::Summary,
        };
        let metric = family
            .metrics
            .iter()
            .map(|(labels, sample)| {
                let label = labels
                    .iter()
                    .map(|(n, v)| proto::LabelPair { name: Some(n.clone()), value: Some(v.clone()) })
                    .collect();
                let mut m = proto::Metric { label, ..proto::Metric::default() };
                match (family.kind, sample) {
                    (FamilyType::Counter, Sample::Value(v)) => {
                        m.counter = Some(proto::Counter { value: Some(*v), exemplar: None });
                    }
                    (_, Sample::Value(v)) => m.gauge = Some(proto::Gauge { value: Some(*v) }),
                    (_, Sample::Histogram { count, sum, buckets }) => {
                        let mut bucket: Vec<proto::Bucket> = buckets
                            .iter()
                            .map(|&(bound, cumulative)| proto::Bucket {
                                cumulative_count: Some(whole(cumulative)),
                                upper_bound: Some(bound),
                                ..proto::Bucket::default()
                            })
                            .collect();
                        bucket.push(proto::Bucket {
                            cumulative_count: Some(whole(*count)),
                            upper_bound: Some(f64::INFINITY),
                            ..proto::Bucket::default()
                        });
                        m.histogram = Some(proto::Histogram {
                            sample_count: Some(whole(*count)),
                            sample_sum: Some(*sum),
                            bucket,
                            ..proto::Histogram::default()
                        });
                    }
                    (_, Sample::Summary { count, sum, quantiles }) => {
                        m.summary = Some(proto::Summary {
                            sample_count: Some(whole(*count)),
                            sample_sum: Some(*sum),
                            quantile: quantiles
                                .iter()
                                .map(|&(q, value)| proto::Quantile { quantile: Some(q), value: Some(value) })
                                .collect(),
                        });
                    }
                }
                m
            })
            .collect();
        let message = proto::MetricFamily { name: Some(name.clone()), help: None, r#type: Some(kind as i32), metric };
        message.encode_length_delimited(&mut out).expect("a Vec grows as needed");
    }
    out
}
