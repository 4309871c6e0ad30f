//! A window's Prometheus families as remote write 1.0 requests: one sample per series at the
//! window's end, a stale marker for every series written last time and gone now, at most
//! `max_samples_per_request` samples per request, each request a prost-encoded
//! `prometheus.WriteRequest` compressed in the snappy block format.

use std::hash::{BuildHasher, Hash, Hasher};

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};
use prost::Message as _;

use super::prompb::{Label, Sample as Point, TimeSeries, WriteRequest};
use crate::backend::SendError;
use crate::prometheus::{Families, Sample, float, whole};

/// The bits of the NaN that Prometheus writes as a staleness marker
/// (`model/value.StaleNaN`); any other NaN is an ordinary sample value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The label that carries the metric name in remote write.
const NAME_LABEL: &str = "__name__";

/// A staleness marker value.
pub(crate) fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// One request: a compressed `WriteRequest` and how many samples it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The snappy block-compressed protobuf body (cheap to clone for a retry).
    pub body: Bytes,
    /// Samples (= series: one sample each) in the request.
    pub samples: usize,
}

fn pairs(labels: &[Label]) -> impl Iterator<Item = (&str, &str)> {
    labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))
}

/// The series written in the last window, so the next one can mark those that left as stale.
/// Holds one window's label sets at most, copied back to back into one buffer: a set of
/// cloned label vectors cost millions of allocations per window of 100 000 series.
#[derive(Debug, Default)]
pub(crate) struct Written {
    hasher: DefaultHashBuilder,
    /// Every label name and value, back to back.
    text: String,
    /// Per label: where its name ends and where its value ends in `text`.
    ends: Vec<(usize, usize)>,
    /// Per series: the hash of its labels and where its labels end in `ends`.
    series: Vec<(u64, usize)>,
}

impl Written {
    /// Appends to `series` a stale marker at `timestamp_ms` for every series written last time
    /// and absent from `series` (a gauge the aggregator expired, a total `expire_after`
    /// forgot), sorted by labels so the encoding is reproducible; then remembers `series` as
    /// the ones written.
    pub(crate) fn mark_stale(&mut self, series: &mut Vec<TimeSeries>, timestamp_ms: i64) {
        let hashes: Vec<u64> = series.iter().map(|s| self.hash(pairs(&s.labels))).collect();
        let mut current = HashTable::with_capacity(series.len());
        for (i, &hash) in hashes.iter().enumerate() {
            current.insert_unique(hash, i, |&j| hashes[j]);
        }
        let mut gone: Vec<Vec<Label>> = (0..self.series.len())
            .filter(|&k| current.find(self.series[k].0, |&i| pairs(&series[i].labels).eq(self.labels(k))).is_none())
            .map(|k| {
                self.labels(k).map(|(name, value)| Label { name: name.to_owned(), value: value.to_owned() }).collect()
            })
            .collect();
        gone.sort_unstable_by(|a, b| pairs(a).cmp(pairs(b)));
        self.remember(series, hashes);
        series.extend(
            gone.into_iter().map(|labels| TimeSeries {
                labels,
                samples: vec![Point { value: stale_nan(), timestamp: timestamp_ms }],
            }),
        );
    }

    fn remember(&mut self, series: &[TimeSeries], hashes: Vec<u64>) {
        self.text.clear();
        self.ends.clear();
        self.series.clear();
        for (s, hash) in series.iter().zip(hashes) {
            for label in &s.labels {
                self.text.push_str(&label.name);
                let name_end = self.text.len();
                self.text.push_str(&label.value);
                self.ends.push((name_end, self.text.len()));
            }
            self.series.push((hash, self.ends.len()));
        }
    }

    /// The labels of remembered series `k`, as (name, value) pairs.
    fn labels(&self, k: usize) -> impl Iterator<Item = (&str, &str)> {
        let first = if k == 0 { 0 } else { self.series[k - 1].1 };
        (first..self.series[k].1).map(move |j| {
            let start = if j == 0 { 0 } else { self.ends[j - 1].1 };
            let (name_end, value_end) = self.ends[j];
            (&self.text[start..name_end], &self.text[name_end..value_end])
        })
    }

    fn hash<'a>(&self, labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for pair in labels {
            pair.hash(&mut hasher);
        }
        hasher.finish()
    }

    /// Series remembered as written in the last window.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

/// Every metric of `families` as time series with one sample at `timestamp_ms`: counters and
/// gauges as they are, a histogram as `_bucket` series (one per bound and `le="+Inf"`),
/// `_sum` and `_count`, a summary (a mapping rule's `quantiles`) as one series per
/// `quantile`, `_sum` and `_count`. `extra` labels (`job`, `instance`, the configured ones) go on every
/// series; they never collide with a series label, which the encoder renamed
/// `exported_<name>`.
pub(crate) fn time_series(families: &Families, extra: &[(String, String)], timestamp_ms: i64) -> Vec<TimeSeries> {
    let mut out = Vec::with_capacity(families.values().map(|f| f.metrics.len()).sum());
    let point = |value| vec![Point { value, timestamp: timestamp_ms }];
    for (name, family) in families {
        let (bucket, sum, count) = (format!("{name}_bucket"), format!("{name}_sum"), format!("{name}_count"));
        for (labels, sample) in &family.metrics {
            match sample {
                Sample::Value(v) => {
                    out.push(TimeSeries { labels: labels_of(name, labels, extra, None), samples: point(*v) });
                }
                Sample::Histogram { count: total, sum: total_sum, buckets } => {
                    for &(bound, cumulative) in buckets {
                        out.push(TimeSeries {
                            labels: labels_of(&bucket, labels, extra, Some(&float(bound))),
                            samples: point(whole(cumulative) as f64),
                        });
                    }
                    out.push(TimeSeries {
                        labels: labels_of(&bucket, labels, extra, Some("+Inf")),
                        samples: point(whole(*total) as f64),
                    });
                    out.push(TimeSeries { labels: labels_of(&sum, labels, extra, None), samples: point(*total_sum) });
                    out.push(TimeSeries {
                        labels: labels_of(&count, labels, extra, None),
                        samples: point(whole(*total) as f64),
                    });
                }
                Sample::Summary { count: total, sum: total_sum, quantiles } => {
                    for &(q, value) in quantiles {
                        out.push(TimeSeries {
                            labels: labels_of_with(name, labels, extra, Some(("quantile", &float(q)))),
                            samples: point(value),
                        });
                    }
                    out.push(TimeSeries { labels: labels_of(&sum, labels, extra, None), samples: point(*total_sum) });
                    out.push(TimeSeries {
                        labels: labels_of(&count, labels, extra, None),
                        samples: point(whole(*total) as f64),
                    });
                }
            }
        }
    }
    out
}

/// `__name__`, the series' labels, `extra` and `le`, sorted by name as remote write requires.
fn labels_of(name: &str, labels: &[(String, String)], extra: &[(String, String)], le: Option<&str>) -> Vec<Label> {
    labels_of_with(name, labels, extra, le.map(|le| ("le", le)))
}

/// `__name__`, the series' labels, `extra` and `own` (a histogram's `le`, a summary's
/// `quantile`: the encoder renamed a series label of that name), sorted by name.
fn labels_of_with(
    name: &str,
    labels: &[(String, String)],
    extra: &[(String, String)],
    own: Option<(&str, &str)>,
) -> Vec<Label> {
    let mut out = Vec::with_capacity(labels.len() + extra.len() + 2);
    out.push(Label { name: NAME_LABEL.to_owned(), value: name.to_owned() });
    out.extend(labels.iter().chain(extra).map(|(n, v)| Label { name: n.clone(), value: v.clone() }));
    if let Some((own, value)) = own {
        out.push(Label { name: own.to_owned(), value: value.to_owned() });
    }
    out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `series` in requests of at most `max_samples` samples each (one sample per series), in
/// order: every request holds samples of one timestamp, so each series' samples are in
/// timestamp order.
pub(crate) fn requests(series: Vec<TimeSeries>, max_samples: usize) -> Result<Vec<Request>, SendError> {
    let mut encoder = snap::raw::Encoder::new();
    let mut out = Vec::with_capacity(series.len().div_ceil(max_samples.max(1)));
    let mut series = series.into_iter().peekable();
    while series.peek().is_some() {
        let chunk: Vec<TimeSeries> = series.by_ref().take(max_samples.max(1)).collect();
        out.push(compress(&mut encoder, chunk)?);
    }
    Ok(out)
}

/// One `WriteRequest` of `series`, protobuf-encoded and snappy-compressed (block format, no
/// stream framing: what remote write specifies).
fn compress(encoder: &mut snap::raw::Encoder, series: Vec<TimeSeries>) -> Result<Request, SendError> {
    let samples = series.iter().map(|s| s.samples.len()).sum();
    let raw = WriteRequest { timeseries: series }.encode_to_vec();
    let body = encoder
        .compress_vec(&raw)
        .map_err(|e| SendError::Rejected(format!("cannot snappy-compress a {}-byte request: {e}", raw.len())))?;
    Ok(Request { body: Bytes::from(body), samples })
}

/// The two halves of `request` (a receiver refused it as too large), or `None` when it holds
/// a single series or cannot be read back.
pub(crate) fn halves(request: &Request) -> Option<(Request, Request)> {
    let raw = snap::raw::Decoder::new().decompress_vec(&request.body).ok()?;
    let mut series = WriteRequest::decode(raw.as_slice()).ok()?.timeseries;
    if series.len() < 2 {
        return None;
    }
    let second = series.split_off(series.len() / 2);
    let mut encoder = snap::raw::Encoder::new();
    Some((compress(&mut encoder, series).ok()?, compress(&mut encoder, second).ok()?))
}

/// Decodes a request body back into its `WriteRequest`, for tests.
#[cfg(test)]
pub(crate) fn decode(body: &[u8]) -> WriteRequest {
    let raw = snap::raw::Decoder::new().decompress_vec(body).expect("a snappy block");
    WriteRequest::decode(raw.as_slice()).expect("a WriteRequest")
}
