//! The StatsD fast path into the window: a datagram parsed on the aggregator's thread, each
//! line folded into its series while it still borrows the datagram (no per-line allocation).
//!
//! It lives here, beside the parser, so the window knows the sample model and not the StatsD
//! wire format; it is an inherent method of [`WindowState`] so every caller (the aggregator,
//! the benches, the window's tests) reads `state.ingest(datagram)`.

use crate::aggregator::input::{Kind, MAX_TAGS};
use crate::aggregator::window::{DatagramCounts, PARSE_ERROR_REASONS, WindowState};
use crate::sources::statsd::parser::{self, GaugeUpdate, Item, Metric, MetricType, ParseError};

// Every parse error reason has its counter, and every line the parser accepts fits the
// window's tag buffer.
const _: () = assert!(ParseError::COUNT <= PARSE_ERROR_REASONS);
const _: () = assert!(parser::MAX_TAGS <= MAX_TAGS);

impl WindowState {
    /// Parses `datagram` and folds every valid line into the open window. Malformed lines and
    /// refused samples are counted (see [`WindowState::take_counts`]); the returned counts are
    /// this datagram's lines, for the listener that read it.
    pub fn ingest(&mut self, datagram: &[u8]) -> DatagramCounts {
        let mut out = DatagramCounts::default();
        for item in parser::parse_datagram(datagram) {
            out.lines += 1;
            match item {
                Ok(Item::Metric(metric)) => {
                    self.count_line();
                    self.insert(&metric);
                }
                Ok(Item::Event(event)) => {
                    self.count_line();
                    self.push_event(*event);
                }
                Ok(Item::ServiceCheck(check)) => {
                    self.count_line();
                    self.push_service_check(*check);
                }
                Err(error) => {
                    out.errors += 1;
                    self.count_malformed(error.index());
                }
            }
        }
        out
    }

    /// Folds one parsed metric line into its series, creating the series if there is room.
    /// Packed values (`name:1:2:3|ms`) look the series up once.
    pub fn insert(&mut self, metric: &Metric<'_>) {
        let samples = || metric.sample_count() as u64;
        let Some(mut fold) = self.fold(metric.name, metric.tags(), metric.tag_count(), kind(metric.kind), samples)
        else {
            return;
        };
        let rate = metric.sample_rate;
        match metric.kind {
            MetricType::Gauge => {
                for update in metric.gauge_updates() {
                    match update {
                        GaugeUpdate::Set(value) => fold.set_gauge(value),
                        GaugeUpdate::Delta(delta) => fold.move_gauge(delta),
                    }
                }
            }
            MetricType::Set => fold.member(metric.member().unwrap_or_default()),
            MetricType::Counter | MetricType::Timer | MetricType::Histogram | MetricType::Distribution => {
                for value in metric.values() {
                    fold.add(value, rate);
                }
            }
        }
    }
}

/// The series kind of a StatsD type.
#[inline]
fn kind(kind: MetricType) -> Kind {
    match kind {
        MetricType::Counter => Kind::Counter,
        MetricType::Gauge => Kind::Gauge,
        MetricType::Timer => Kind::Timer,
        MetricType::Histogram => Kind::Histogram,
        MetricType::Distribution => Kind::Distribution,
        MetricType::Set => Kind::Set,
    }
}
