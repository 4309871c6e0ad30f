//! The spool's binary form of a [`Window`]: every field, the sketch bin for bin and the set
//! members included, so a replayed window is exactly the one that was flushed.
//!
//! Little-endian fixed-width numbers; strings and lists are a `u32` length then the items;
//! an option is a `u8` (0 none, 1 some) then the value. Floats are stored as their bits, so
//! NaN payloads and signed zeros survive. The record around it carries the checksum.

use std::sync::Arc;

use crate::model::{Buckets, Event, Series, SeriesKey, ServiceCheck, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

/// Why a record's payload is not a window (a checksum-valid record of another build, or a bug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spooled window is malformed: {0}")]
pub struct DecodeError(&'static str);

/// Appends the binary form of `window` to `out`.
pub fn encode(window: &Window, out: &mut Vec<u8>) {
    let w = &mut Writer(out);
    w.u64(window.id);
    w.u64(window.start_ms);
    w.u64(window.end_ms);
    w.str(&window.hostname);
    w.strs(&window.tags);
    w.len(window.series.len());
    for series in &window.series {
        w.str(&series.key.name);
        w.strs(&series.key.tags);
        w.u64(series.key.hash);
        value(w, &series.value);
    }
    w.len(window.events.len());
    for e in &window.events {
        w.str(&e.title);
        w.str(&e.text);
        w.opt_i64(e.timestamp);
        for field in [&e.hostname, &e.aggregation_key, &e.priority, &e.source_type, &e.alert_type] {
            w.opt_str(field.as_deref());
        }
        w.strs(&e.tags);
    }
    w.len(window.service_checks.len());
    for c in &window.service_checks {
        w.str(&c.name);
        w.0.push(c.status);
        w.opt_i64(c.timestamp);
        w.opt_str(c.hostname.as_deref());
        w.opt_str(c.message.as_deref());
        w.strs(&c.tags);
    }
}

fn value(w: &mut Writer<'_>, value: &Value) {
    match value {
        Value::Counter { sum, rate } => {
            w.0.push(0);
            w.f64(*sum);
            w.f64(*rate);
        }
        Value::Gauge { value } => {
            w.0.push(1);
            w.f64(*value);
        }
        Value::Set { count, members } => {
            w.0.push(2);
            w.u64(*count);
            w.len(members.len());
            for m in members {
                w.u64(*m);
            }
        }
        Value::Summary(s) => {
            w.0.push(3);
            w.0.push(match s.kind {
                SummaryKind::Timer => 0,
                SummaryKind::Histogram => 1,
                SummaryKind::Distribution => 2,
            });
            for x in [s.count, s.sum, s.min, s.max] {
                w.f64(x);
            }
            w.pairs(&s.percentiles);
            w.pairs(&s.buckets);
            let raw = s.sketch.raw_parts();
            for (offset, bins) in [raw.positive, raw.negative] {
                w.u32(offset as u32);
                w.len(bins.len());
                for b in bins {
                    w.f64(*b);
                }
            }
            w.f64(raw.zero);
            w.f64(raw.count);
        }
        Value::Buckets(b) => {
            w.0.push(4);
            w.len(b.bounds.len());
            for bound in b.bounds.iter() {
                w.f64(*bound);
            }
            w.len(b.counts.len());
            for count in &b.counts {
                w.u64(*count);
            }
            w.f64(b.sum);
            w.opt_f64(b.min);
            w.opt_f64(b.max);
        }
    }
}

/// Reads a window written by [`encode`]; every byte of `bytes` must belong to it.
pub fn decode(bytes: &[u8]) -> Result<Window, DecodeError> {
    let r = &mut Reader(bytes);
    let (id, start_ms, end_ms) = (r.u64()?, r.u64()?, r.u64()?);
    let hostname: Arc<str> = r.str()?.into();
    let tags: Arc<[Box<str>]> = r.strs()?.into();
    let n = r.len(8)?;
    let mut series = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?;
        let key_tags = r.strs()?.into_boxed_slice();
        let hash = r.u64()?;
        let key = Arc::new(SeriesKey { name, tags: key_tags, hash });
        series.push(Series { key, value: read_value(r)? });
    }
    let n = r.len(8)?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(Event {
            title: r.string()?,
            text: r.string()?,
            timestamp: r.opt_i64()?,
            hostname: r.opt_string()?,
            aggregation_key: r.opt_string()?,
            priority: r.opt_string()?,
            source_type: r.opt_string()?,
            alert_type: r.opt_string()?,
            tags: r.strs()?.into_iter().map(String::from).collect(),
        });
    }
    let n = r.len(8)?;
    let mut service_checks = Vec::with_capacity(n);
    for _ in 0..n {
        service_checks.push(ServiceCheck {
            name: r.string()?,
            status: r.u8()?,
            timestamp: r.opt_i64()?,
            hostname: r.opt_string()?,
            message: r.opt_string()?,
            tags: r.strs()?.into_iter().map(String::from).collect(),
        });
    }
    if !r.0.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(Window { id, start_ms, end_ms, hostname, tags, series, events, service_checks })
}

fn read_value(r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    Ok(match r.u8()? {
        0 => Value::Counter { sum: r.f64()?, rate: r.f64()? },
        1 => Value::Gauge { value: r.f64()? },
        2 => {
            let count = r.u64()?;
            let n = r.len(8)?;
            let members = (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?;
            Value::Set { count, members }
        }
        3 => {
            let kind = match r.u8()? {
                0 => SummaryKind::Timer,
                1 => SummaryKind::Histogram,
                2 => SummaryKind::Distribution,
                _ => return Err(DecodeError("unknown summary kind")),
            };
            let (count, sum, min, max) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
            let percentiles = r.pairs()?;
            let buckets = r.pairs()?;
            let positive = r.store()?;
            let negative = r.store()?;
            let (zero, total) = (r.f64()?, r.f64()?);
            let sketch =
                Sketch::from_raw_parts(positive, negative, zero, total).ok_or(DecodeError("sketch too large"))?;
            Value::Summary(Box::new(Summary { kind, count, sum, min, max, percentiles, buckets, sketch }))
        }
        4 => {
            let n = r.len(8)?;
            let bounds = (0..n).map(|_| r.f64()).collect::<Result<_, _>>()?;
            let n = r.len(8)?;
            let counts = (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?;
            let (sum, min, max) = (r.f64()?, r.opt_f64()?, r.opt_f64()?);
            Value::Buckets(Box::new(Buckets { bounds, counts, sum, min, max }))
        }
        _ => return Err(DecodeError("unknown value type")),
    })
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn strs<S: AsRef<str>>(&mut self, items: &[S]) {
        self.len(items.len());
        for s in items {
            self.str(s.as_ref());
        }
    }
    fn opt_str(&mut self, s: Option<&str>) {
        self.0.push(u8::from(s.is_some()));
        if let Some(s) = s {
            self.str(s);
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.0.push(u8::from(v.is_some()));
        if let Some(v) = v {
            self.u64(v as u64);
        }
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        self.0.push(u8::from(v.is_some()));
        if let Some(v) = v {
            self.f64(v);
        }
    }
    fn pairs(&mut self, pairs: &[(f64, f64)]) {
        self.len(pairs.len());
        for (a, b) in pairs {
            self.f64(*a);
            self.f64(*b);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(DecodeError("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// A list length whose items take at least `min_item` bytes each: checked against what
    /// is left, so a bad length never allocates more than the record holds.
    fn len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(DecodeError("length beyond the record"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&[u8], DecodeError> {
        let n = self.len(1)?;
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| DecodeError("invalid UTF-8"))
    }
    fn str(&mut self) -> Result<Box<str>, DecodeError> {
        Ok(self.string()?.into_boxed_str())
    }
    fn strs(&mut self) -> Result<Vec<Box<str>>, DecodeError> {
        let n = self.len(4)?;
        (0..n).map(|_| self.str()).collect()
    }
    fn opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(DecodeError("bad option tag")),
        }
    }
    fn opt_i64(&mut self) -> Result<Option<i64>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()? as i64)),
            _ => Err(DecodeError("bad option tag")),
        }
    }
    fn opt_f64(&mut self) -> Result<Option<f64>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.f64()?)),
            _ => Err(DecodeError("bad option tag")),
        }
    }
    fn pairs(&mut self) -> Result<Vec<(f64, f64)>, DecodeError> {
        let n = self.len(16)?;
        (0..n).map(|_| Ok((self.f64()?, self.f64()?))).collect()
    }
    fn store(&mut self) -> Result<(i32, Vec<f64>), DecodeError> {
        let offset = self.u32()? as i32;
        let n = self.len(8)?;
        Ok((offset, (0..n).map(|_| self.f64()).collect::<Result<_, _>>()?))
    }
}

/// What the queue needs to know of a spooled window without decoding it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// [`Window::end_ms`].
    pub end_ms: u64,
    /// How many series the window carries (counted when it is dropped).
    pub series: u64,
}

/// Reads [`Meta`] from the start of an encoded window.
pub fn peek(bytes: &[u8]) -> Result<Meta, DecodeError> {
    let r = &mut Reader(bytes);
    let (_id, _start, end_ms) = (r.u64()?, r.u64()?, r.u64()?);
    r.bytes()?;
    let tags = r.len(4)?;
    for _ in 0..tags {
        r.bytes()?;
    }
    Ok(Meta { end_ms, series: u64::from(r.u32()?) })
}
