//! A window as StatsD lines, packed into datagrams (the table is in `docs/translation.md`).
//!
//! | window value | lines |
//! | --- | --- |
//! | counter | `name:sum|c`: the window's delta, the exact `f64` sum (sample rates already applied) |
//! | gauge ≥ 0 | `name:value|g` |
//! | gauge < 0 | `name:0|g` then `name:value|g`, in one datagram: a leading `-` alone is a delta |
//! | set | `name:member|s` per distinct member, the member's 64-bit hash in hex |
//! | timer, histogram, distribution | up to `max_samples_per_series` samples `name:value|ms|@rate` |
//!
//! Tags follow as `|#k:v,…` (series tags, then agent tags the series does not set, sorted).

use std::fmt::Write as _;

use super::config::TagFormat;
use super::samples::{Sample, rate_for, samples};
use crate::backend::Encoded;
use crate::model::{Series, SummaryKind, Value, Window, split_tag};

/// What one send carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// One datagram: whole lines separated by `\n`.
    Datagram(Vec<u8>),
    /// Series that cannot be sent (a line longer than a datagram, a non-finite value).
    /// Sending it fails for good, so the delivery task logs the reason and counts the series
    /// as dropped (`reason="rejected"`) like any refused batch.
    Unsendable(String),
}

/// The encoding settings of one sink.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// How tags are written.
    pub tag_format: TagFormat,
    /// Largest datagram, in bytes.
    pub max_datagram_bytes: usize,
    /// Most samples per timer, histogram or distribution.
    pub max_samples: usize,
    /// `name:1:2:3|ms` instead of one line per value.
    pub pack_values: bool,
    /// Histograms and distributions as `ms`.
    pub summaries_as_timers: bool,
    /// Ends every line with `\n`, as a stream needs (a line is complete only at its newline);
    /// otherwise lines are separated by `\n`, as datagrams carry them.
    pub terminate_lines: bool,
}

/// Why a series could not be encoded.
enum Unsendable {
    TooLong(usize),
    NotFinite,
}

impl Encoder {
    /// Turns `window` into datagrams of whole lines, each at most `max_datagram_bytes`, in
    /// series order; a last [`Batch::Unsendable`] counts the series that cannot be sent. A
    /// datagram's `series` counts the series whose last line it carries.
    pub fn encode(&self, window: &Window) -> Vec<Encoded<Batch>> {
        let mut packer = Packer::new(self.max_datagram_bytes, self.terminate_lines);
        let (mut too_long, mut longest, mut not_finite) = (0_u64, 0, 0_u64);
        let mut units = Vec::new();
        for series in &window.series {
            units.clear();
            match self.series_units(series, &window.tags, &mut units) {
                Ok(()) => packer.push_series(&units),
                Err(Unsendable::TooLong(len)) => {
                    too_long += 1;
                    longest = longest.max(len);
                }
                Err(Unsendable::NotFinite) => not_finite += 1,
            }
        }
        let mut batches = packer.finish();
        if too_long + not_finite > 0 {
            let mut reasons = Vec::new();
            if too_long > 0 {
                reasons.push(format!(
                    "{too_long} series with a line of up to {longest} bytes, longer than max_datagram_bytes = {}",
                    self.max_datagram_bytes
                ));
            }
            if not_finite > 0 {
                reasons.push(format!("{not_finite} series with a NaN or infinite value"));
            }
            batches.push(Encoded {
                payload: Batch::Unsendable(format!("not sent: {}", reasons.join("; "))),
                series: too_long + not_finite,
            });
        }
        batches
    }

    /// The lines of one series as units that must share a datagram (a unit may hold two
    /// lines: the reset and the value of a negative gauge).
    fn series_units(&self, series: &Series, agent_tags: &[Box<str>], out: &mut Vec<String>) -> Result<(), Unsendable> {
        let name = sanitize(&series.key.name, &[':', '|', '\n']);
        let tags = self.tag_suffix(series, agent_tags);
        match &series.value {
            Value::Counter { sum, .. } => {
                out.push(line(&name, &number(*sum)?, "c", None, &tags));
            }
            Value::Gauge { value } => {
                let text = number(*value)?;
                if *value < 0.0 {
                    // Etsy StatsD and DogStatsD read a leading sign as a delta when the gauge
                    // exists; after `0` Etsy sets the value (0 counts as "no gauge") and
                    // DogStatsD keeps the last value, so both end on `value`.
                    out.push(format!(
                        "{}\n{}",
                        line(&name, "0", "g", None, &tags),
                        line(&name, &text, "g", None, &tags)
                    ));
                } else {
                    out.push(line(&name, &text, "g", None, &tags));
                }
            }
            Value::Set { members, .. } => {
                let values: Vec<String> = members.iter().map(|m| format!("{m:x}")).collect();
                self.push_values(out, &name, &values, "s", None, &tags);
            }
            Value::Summary(summary) => {
                let kind = match summary.kind {
                    SummaryKind::Timer => "ms",
                    _ if self.summaries_as_timers => "ms",
                    SummaryKind::Histogram => "h",
                    SummaryKind::Distribution => "d",
                };
                let lines = samples(summary, self.max_samples);
                if lines.iter().any(|s| !s.value.is_finite()) {
                    return Err(Unsendable::NotFinite);
                }
                // Consecutive lines with the same rate share a packed line when packing is on.
                for run in lines.chunk_by(|a, b| a.weight == b.weight) {
                    let values: Vec<String> = run.iter().map(|s: &Sample| number(s.value)).collect::<Result<_, _>>()?;
                    self.push_values(out, &name, &values, kind, rate_for(run[0].weight), &tags);
                }
            }
            Value::Buckets(buckets) => {
                // StatsD has no bucket type: counters a StatsD server adds up exactly, with the
                // bound in the name so that it survives `tag_format = "none"`.
                out.push(line(&format!("{name}.count"), &buckets.count().to_string(), "c", None, &tags));
                out.push(line(&format!("{name}.sum"), &number(buckets.sum)?, "c", None, &tags));
                for (bound, count) in buckets.cumulative() {
                    // `le_0_25`, `le_m1` for -1: Graphite reads a dot as a path separator.
                    let bound = number(bound)?.replace('.', "_").replace('-', "m");
                    let bucket = format!("{name}.le_{bound}");
                    out.push(line(&bucket, &count.to_string(), "c", None, &tags));
                }
            }
        }
        match out.iter().map(String::len).max() {
            // A terminated line travels with its newline.
            Some(len) if len + usize::from(self.terminate_lines) > self.max_datagram_bytes => {
                Err(Unsendable::TooLong(len))
            }
            _ => Ok(()),
        }
    }

    /// One line per value, or with `pack_values` as few packed lines as fit in a datagram.
    fn push_values(
        &self,
        out: &mut Vec<String>,
        name: &str,
        values: &[String],
        kind: &str,
        rate: Option<f64>,
        tags: &str,
    ) {
        if !self.pack_values {
            out.extend(values.iter().map(|v| line(name, v, kind, rate, tags)));
            return;
        }
        let fixed = line(name, "", kind, rate, tags).len();
        let mut packed = String::new();
        for value in values {
            if !packed.is_empty() && fixed + packed.len() + 1 + value.len() > self.max_datagram_bytes {
                out.push(line(name, &packed, kind, rate, tags));
                packed.clear();
            }
            if !packed.is_empty() {
                packed.push(':');
            }
            packed.push_str(value);
        }
        if !packed.is_empty() {
            out.push(line(name, &packed, kind, rate, tags));
        }
    }

    /// `|#tag,tag` for the series' tags and the agent's tags whose key the series does not
    /// set, sorted; empty with `tag_format = "none"` or without tags.
    fn tag_suffix(&self, series: &Series, agent_tags: &[Box<str>]) -> String {
        if self.tag_format == TagFormat::None {
            return String::new();
        }
        let mut tags: Vec<&str> = series.key.tags.iter().map(AsRef::as_ref).collect();
        for tag in agent_tags {
            let key = split_tag(tag).0;
            if !series.key.tag_pairs().any(|(k, _)| k == key) {
                tags.push(tag);
            }
        }
        if tags.is_empty() {
            return String::new();
        }
        tags.sort_unstable();
        let mut out = String::from("|#");
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // A comma would split the tag, a `|` or a newline would end the line.
            out.push_str(&sanitize(tag, &[',', '|', '\n']));
        }
        out
    }
}

/// `name:value|kind[|@rate]tags`.
fn line(name: &str, value: &str, kind: &str, rate: Option<f64>, tags: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + kind.len() + tags.len() + 24);
    let _ = write!(out, "{name}:{value}|{kind}");
    if let Some(rate) = rate {
        // `Display` writes the shortest decimal that reads back as the same f64, never in
        // exponent form: Etsy StatsD reads the rate with /@([\d.]+)/.
        let _ = write!(out, "|@{rate}");
    }
    out.push_str(tags);
    out
}

/// The shortest decimal that reads back as `value`; `-0` is written `0` (a leading `-` would
/// make a gauge a delta).
fn number(value: f64) -> Result<String, Unsendable> {
    if !value.is_finite() {
        return Err(Unsendable::NotFinite);
    }
    Ok(if value == 0.0 { "0".to_owned() } else { value.to_string() })
}

/// `text` with every character of `forbidden` replaced by `_`.
fn sanitize(text: &str, forbidden: &[char]) -> String {
    text.replace(forbidden, "_")
}

/// Fills datagrams with units in order, never splitting one.
struct Packer {
    limit: usize,
    terminate: bool,
    current: Vec<u8>,
    series: u64,
    done: Vec<Encoded<Batch>>,
}

impl Packer {
    fn new(limit: usize, terminate: bool) -> Self {
        Self { limit, terminate, current: Vec::with_capacity(limit), series: 0, done: Vec::new() }
    }

    /// Adds one series' units; each is at most `limit` bytes (checked by the caller; a
    /// terminated line is checked with its newline).
    fn push_series(&mut self, units: &[String]) {
        for unit in units {
            if self.terminate {
                if self.current.len() + unit.len() + 1 > self.limit {
                    self.flush();
                }
                self.current.extend_from_slice(unit.as_bytes());
                self.current.push(b'\n');
                continue;
            }
            let needed = unit.len() + usize::from(!self.current.is_empty());
            if self.current.len() + needed > self.limit {
                self.flush();
            }
            if !self.current.is_empty() {
                self.current.push(b'\n');
            }
            self.current.extend_from_slice(unit.as_bytes());
        }
        // Counted where its last line travels: the series is sent when that datagram is.
        self.series += 1;
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            let payload = Batch::Datagram(std::mem::replace(&mut self.current, Vec::with_capacity(self.limit)));
            self.done.push(Encoded { payload, series: self.series });
            self.series = 0;
        }
    }

    fn finish(mut self) -> Vec<Encoded<Batch>> {
        self.flush();
        // Series without any line (an empty set) ride with the last datagram.
        if let Some(last) = self.done.last_mut() {
            last.series += self.series;
        }
        self.done
    }
}
