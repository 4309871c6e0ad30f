//! A [`Window`] built from fuzzer bytes. Hand-written rather than derived with the
//! `arbitrary` crate: the model types stay free of a fuzzing dependency, and a sketch is built
//! the way the aggregator builds one (by adding samples), so only reachable sketches appear.

use std::sync::Arc;

use crate::model::{Buckets, Event, Series, SeriesKey, ServiceCheck, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

/// Reads numbers and strings off the input; an exhausted input reads as zeros.
struct Source<'a>(&'a [u8]);

impl Source<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(&b, rest)| (b, rest));
        self.0 = rest;
        first
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| (acc << 8) | u64::from(self.u8()))
    }

    fn f64(&mut self) -> f64 {
        f64::from_bits(self.u64())
    }

    /// A count below `max`.
    fn count(&mut self, max: u8) -> usize {
        usize::from(self.u8() % max)
    }

    fn string(&mut self) -> String {
        let n = self.count(32).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    fn opt_string(&mut self) -> Option<String> {
        (self.u8() & 1 == 1).then(|| self.string())
    }

    fn opt_i64(&mut self) -> Option<i64> {
        (self.u8() & 1 == 1).then(|| self.u64() as i64)
    }

    fn strs(&mut self) -> Vec<Box<str>> {
        (0..self.count(5)).map(|_| self.string().into_boxed_str()).collect()
    }

    fn pairs(&mut self) -> Vec<(f64, f64)> {
        (0..self.count(5)).map(|_| (self.f64(), self.f64())).collect()
    }
}

/// Any window the model can hold, read off `bytes`.
pub(super) fn arbitrary_window(bytes: &[u8]) -> Window {
    let s = &mut Source(bytes);
    let (id, start_ms, end_ms) = (s.u64(), s.u64(), s.u64());
    let hostname: Arc<str> = s.string().into();
    let tags: Arc<[Box<str>]> = s.strs().into();
    let series = (0..s.count(9))
        .map(|_| {
            let key = SeriesKey { name: s.string().into_boxed_str(), tags: s.strs().into_boxed_slice(), hash: s.u64() };
            Series { key: Arc::new(key), value: value(s) }
        })
        .collect();
    let events = (0..s.count(3))
        .map(|_| Event {
            title: s.string(),
            text: s.string(),
            timestamp: s.opt_i64(),
            hostname: s.opt_string(),
            aggregation_key: s.opt_string(),
            priority: s.opt_string(),
            source_type: s.opt_string(),
            alert_type: s.opt_string(),
            tags: s.strs().into_iter().map(String::from).collect(),
        })
        .collect();
    let service_checks = (0..s.count(3))
        .map(|_| ServiceCheck {
            name: s.string(),
            status: s.u8(),
            timestamp: s.opt_i64(),
            hostname: s.opt_string(),
            message: s.opt_string(),
            tags: s.strs().into_iter().map(String::from).collect(),
        })
        .collect();
    Window { id, start_ms, end_ms, hostname, tags, series, events, service_checks }
}

fn value(s: &mut Source<'_>) -> Value {
    match s.u8() % 5 {
        0 => Value::Counter { sum: s.f64(), rate: s.f64() },
        1 => Value::Gauge { value: s.f64() },
        2 => Value::Set { count: s.u64(), members: (0..s.count(9)).map(|_| s.u64()).collect() },
        3 => {
            let bounds: Arc<[f64]> = (0..s.count(17)).map(|_| s.f64()).collect();
            let counts = (0..s.count(18)).map(|_| s.u64()).collect();
            let opt = |s: &mut Source<'_>| if s.u8() & 1 == 1 { Some(s.f64()) } else { None };
            let (sum, min, max) = (s.f64(), opt(s), opt(s));
            Value::Buckets(Box::new(Buckets { bounds, counts, sum, min, max }))
        }
        _ => {
            let kind = match s.u8() % 3 {
                0 => SummaryKind::Timer,
                1 => SummaryKind::Histogram,
                _ => SummaryKind::Distribution,
            };
            let (count, sum, min, max) = (s.f64(), s.f64(), s.f64(), s.f64());
            let (percentiles, buckets) = (s.pairs(), s.pairs());
            let mut sketch = Sketch::new();
            for _ in 0..s.count(33) {
                sketch.add(s.f64(), s.f64());
            }
            Value::Summary(Box::new(Summary { kind, count, sum, min, max, percentiles, buckets, sketch }))
        }
    }
}
