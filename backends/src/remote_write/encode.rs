//! A window's Prometheus families as remote write 1.0 requests: one sample per series at the
//! window's end, a stale marker for every series written last time and gone now, at most
//! `max_samples_per_request` samples per request, each request a `prometheus.WriteRequest`
//! compressed in the snappy block format. Requests are written from labels borrowed from the
//! families with prost's wire-format primitives, byte for byte as prost writes the `prompb`
//! messages (which [`halves`] still decodes and re-encodes).

use std::collections::HashMap;
use std::hash::BuildHasher;

use bytes::{BufMut, Bytes};
use hashbrown::{DefaultHashBuilder, HashTable};
use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use super::prompb::{TimeSeries, WriteRequest};
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

/// A label value in two parts written one after the other: a histogram's `__name__` is its
/// family's name and `_bucket`, without building that string for each of its series.
type Value<'a> = (&'a str, &'a str);

/// Every series of one window, its labels borrowed from the families: one sample each, and
/// its labels (`__name__`, the series' own, `extra`, a histogram's `le` or a summary's
/// `quantile`) sorted by name, as remote write requires. Owned `prompb` messages cost two
/// allocations per label of each of hundreds of thousands of series per window; these rows
/// are written straight into the request with prost's wire-format primitives.
pub(crate) struct Rows<'a> {
    labels: Vec<(&'a str, Value<'a>)>,
    /// Per row: where its labels end in `labels`, and its sample value.
    rows: Vec<(usize, f64)>,
}

impl<'a> Rows<'a> {
    fn push(&mut self, labels: impl Iterator<Item = (&'a str, Value<'a>)>, value: f64) {
        let start = self.labels.len();
        self.labels.extend(labels);
        self.labels[start..].sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.rows.push((self.labels.len(), value));
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Row `i`: its labels and its value.
    fn row(&self, i: usize) -> (&[(&'a str, Value<'a>)], f64) {
        let start = if i == 0 { 0 } else { self.rows[i - 1].0 };
        let (end, value) = self.rows[i];
        (&self.labels[start..end], value)
    }
}

/// The text of every histogram bound and summary quantile in `families`, by the bits of the
/// number: the `le` and `quantile` values the rows borrow.
pub(crate) fn numbers(families: &Families) -> HashMap<u64, String> {
    let mut numbers = HashMap::new();
    let mut add = |n: f64| {
        numbers.entry(n.to_bits()).or_insert_with(|| float(n));
    };
    for sample in families.values().flat_map(|family| family.metrics.values()) {
        match sample {
            Sample::Value(_) => {}
            Sample::Histogram { buckets, .. } => buckets.iter().for_each(|&(bound, _)| add(bound)),
            Sample::Summary { quantiles, .. } => quantiles.iter().for_each(|&(q, _)| add(q)),
        }
    }
    numbers
}

/// Every metric of `families` as rows: counters and gauges as they are, a histogram as
/// `_bucket` series (one per bound and `le="+Inf"`), `_sum` and `_count`, a summary (a mapping
/// rule's `quantiles`) as one series per `quantile`, `_sum` and `_count`. `extra` labels
/// (`job`, `instance`, the configured ones) go on every series; they never collide with a
/// series label, which the encoder renamed `exported_<name>`. `numbers` is [`numbers`] of
/// `families`.
pub(crate) fn rows<'a>(
    families: &'a Families,
    extra: &'a [(String, String)],
    numbers: &'a HashMap<u64, String>,
) -> Rows<'a> {
    let mut out =
        Rows { labels: Vec::new(), rows: Vec::with_capacity(families.values().map(|f| f.metrics.len()).sum()) };
    // `numbers` was made from these families: every bound and quantile is in it.
    let number = |n: f64| numbers[&n.to_bits()].as_str();
    for (name, family) in families {
        for (labels, sample) in &family.metrics {
            let with = |metric: Value<'a>, own: Option<(&'a str, &'a str)>| {
                std::iter::once((NAME_LABEL, metric))
                    .chain(labels.iter().chain(extra).map(|(n, v)| (n.as_str(), (v.as_str(), ""))))
                    .chain(own.map(|(n, v)| (n, (v, ""))))
            };
            match sample {
                Sample::Value(v) => out.push(with((name, ""), None), *v),
                Sample::Histogram { count, sum, buckets } => {
                    for &(bound, cumulative) in buckets {
                        out.push(with((name, "_bucket"), Some(("le", number(bound)))), whole(cumulative) as f64);
                    }
                    out.push(with((name, "_bucket"), Some(("le", "+Inf"))), whole(*count) as f64);
                    out.push(with((name, "_sum"), None), *sum);
                    out.push(with((name, "_count"), None), whole(*count) as f64);
                }
                Sample::Summary { count, sum, quantiles } => {
                    for &(q, value) in quantiles {
                        out.push(with((name, ""), Some(("quantile", number(q)))), value);
                    }
                    out.push(with((name, "_sum"), None), *sum);
                    out.push(with((name, "_count"), None), whole(*count) as f64);
                }
            }
        }
    }
    out
}

/// The series written in the last window, so the next one can mark those that left as stale.
/// Holds one window's label sets at most, copied back to back into one buffer.
#[derive(Debug, Default)]
pub(crate) struct Written {
    hasher: DefaultHashBuilder,
    /// Every label name and value, back to back.
    text: String,
    /// Per label: where its name ends and where its value ends in `text`.
    ends: Vec<(usize, usize)>,
    /// Per series: the hash of its labels and where its labels end in `ends`.
    series: Vec<(u64, usize)>,
    /// The bytes a label set is hashed from, reused.
    scratch: Vec<u8>,
}

impl Written {
    /// `rows` at `timestamp_ms` in requests of at most `max_samples` samples each, followed by
    /// a stale marker for every series written last time and absent from `rows` (a gauge the
    /// aggregator expired, a total `expire_after` forgot), sorted by labels so the encoding is
    /// reproducible; then remembers `rows` as the ones written.
    pub(crate) fn requests(
        &mut self,
        rows: &Rows<'_>,
        timestamp_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Request>, SendError> {
        let hashes: Vec<u64> = (0..rows.len()).map(|i| self.hash(rows.row(i).0.iter().copied())).collect();
        let mut current = HashTable::with_capacity(rows.len());
        for (i, &hash) in hashes.iter().enumerate() {
            current.insert_unique(hash, i, |&j| hashes[j]);
        }
        let mut gone: Vec<usize> = (0..self.series.len())
            .filter(|&k| current.find(self.series[k].0, |&i| same_labels(rows.row(i).0, self.labels(k))).is_none())
            .collect();
        gone.sort_unstable_by(|&a, &b| self.labels(a).cmp(self.labels(b)));
        let mut stale = Rows { labels: Vec::new(), rows: Vec::with_capacity(gone.len()) };
        for &k in &gone {
            stale.push(self.labels(k).map(|(name, value)| (name, (value, ""))), stale_nan());
        }
        let all = (0..rows.len()).map(|i| rows.row(i)).chain((0..stale.len()).map(|i| stale.row(i)));
        let requests = write_requests(all, rows.len() + stale.len(), timestamp_ms, max_samples)?;
        self.remember(rows, hashes);
        Ok(requests)
    }

    fn remember(&mut self, rows: &Rows<'_>, hashes: Vec<u64>) {
        self.text.clear();
        self.ends.clear();
        self.series.clear();
        for (i, hash) in hashes.into_iter().enumerate() {
            for &(name, (value, suffix)) in rows.row(i).0 {
                self.text.push_str(name);
                let name_end = self.text.len();
                self.text.push_str(value);
                self.text.push_str(suffix);
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

    /// The hash of a label set, the same however its values are split in two.
    fn hash<'a>(&mut self, labels: impl Iterator<Item = (&'a str, Value<'a>)>) -> u64 {
        self.scratch.clear();
        for (name, (value, suffix)) in labels {
            for part in [name.as_bytes(), b"\xff", value.as_bytes(), suffix.as_bytes(), b"\xff"] {
                self.scratch.extend_from_slice(part);
            }
        }
        self.hasher.hash_one(self.scratch.as_slice())
    }

    /// Series remembered as written in the last window.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

/// Whether a row's labels are the remembered ones.
fn same_labels<'a>(row: &[(&str, Value<'_>)], mut remembered: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    row.iter().all(|&(name, (value, suffix))| {
        remembered.next().is_some_and(|(n, v)| {
            n == name && v.len() == value.len() + suffix.len() && v.starts_with(value) && v.ends_with(suffix)
        })
    }) && remembered.next().is_none()
}

/// `rows` (`count` of them) at `timestamp_ms` as `WriteRequest`s of at most `max_samples`
/// samples each, snappy-compressed. Written with prost's own wire-format primitives, field by
/// field as prost would write the `prompb` messages (empty strings and zero numbers left out,
/// as proto3 does), from borrowed labels.
fn write_requests<'r, 'a: 'r>(
    rows: impl Iterator<Item = (&'r [(&'a str, Value<'a>)], f64)>,
    count: usize,
    timestamp_ms: i64,
    max_samples: usize,
) -> Result<Vec<Request>, SendError> {
    let max_samples = max_samples.max(1);
    let mut encoder = snap::raw::Encoder::new();
    let mut out = Vec::with_capacity(count.div_ceil(max_samples));
    let mut raw = Vec::new();
    let mut samples = 0;
    for (labels, value) in rows {
        write_series(&mut raw, labels, value, timestamp_ms);
        samples += 1;
        if samples == max_samples {
            out.push(snappy(&mut encoder, &raw, samples)?);
            raw.clear();
            samples = 0;
        }
    }
    if samples > 0 {
        out.push(snappy(&mut encoder, &raw, samples)?);
    }
    Ok(out)
}

/// Appends one `WriteRequest.timeseries` entry: a `TimeSeries` of `labels` and one sample.
pub(super) fn write_series(buf: &mut Vec<u8>, labels: &[(&str, Value<'_>)], value: f64, timestamp_ms: i64) {
    let string_len = |len: usize| if len == 0 { 0 } else { 1 + encoded_len_varint(len as u64) + len };
    let label_len = |name: &str, (v, suffix): Value<'_>| string_len(name.len()) + string_len(v.len() + suffix.len());
    let sample_len = if value == 0.0 { 0 } else { 9 }
        + if timestamp_ms == 0 { 0 } else { 1 + encoded_len_varint(timestamp_ms as u64) };
    let series_len = labels
        .iter()
        .map(|&(name, value)| {
            let len = label_len(name, value);
            1 + encoded_len_varint(len as u64) + len
        })
        .sum::<usize>()
        + 1
        + encoded_len_varint(sample_len as u64)
        + sample_len;
    encode_key(1, WireType::LengthDelimited, buf);
    encode_varint(series_len as u64, buf);
    for &(name, (v, suffix)) in labels {
        encode_key(1, WireType::LengthDelimited, buf);
        encode_varint(label_len(name, (v, suffix)) as u64, buf);
        if !name.is_empty() {
            encode_key(1, WireType::LengthDelimited, buf);
            encode_varint(name.len() as u64, buf);
            buf.extend_from_slice(name.as_bytes());
        }
        if v.len() + suffix.len() > 0 {
            encode_key(2, WireType::LengthDelimited, buf);
            encode_varint((v.len() + suffix.len()) as u64, buf);
            buf.extend_from_slice(v.as_bytes());
            buf.extend_from_slice(suffix.as_bytes());
        }
    }
    encode_key(2, WireType::LengthDelimited, buf);
    encode_varint(sample_len as u64, buf);
    if value != 0.0 {
        encode_key(1, WireType::SixtyFourBit, buf);
        buf.put_f64_le(value);
    }
    if timestamp_ms != 0 {
        encode_key(2, WireType::Varint, buf);
        encode_varint(timestamp_ms as u64, buf);
    }
}

/// One request of `samples` samples from its encoded `WriteRequest`, in the snappy block format
/// (no stream framing: what remote write specifies).
fn snappy(encoder: &mut snap::raw::Encoder, raw: &[u8], samples: usize) -> Result<Request, SendError> {
    let body = encoder
        .compress_vec(raw)
        .map_err(|e| SendError::Rejected(format!("cannot snappy-compress a {}-byte request: {e}", raw.len())))?;
    Ok(Request { body: Bytes::from(body), samples })
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
