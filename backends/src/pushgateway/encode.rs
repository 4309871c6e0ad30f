//! A window and the cumulative state as Prometheus metric families, in the text exposition
//! format or as delimited protobuf `io.prometheus.client.MetricFamily` messages.
//!
//! The mapping is the Pushgateway section of `docs/translation.md`; keep both in step.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use prost::Message as _;

use super::proto;
use super::state::{Kind, State};
use crate::model::{Value, Window, split_tag};

/// The type of a Prometheus metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FamilyType {
    /// A cumulative total.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, sum and count.
    Histogram,
}

/// The value of one metric (one label set) of a family.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// A counter or gauge value.
    Value(f64),
    /// A histogram: weighted count, sum, and `(upper bound, cumulative count)` per bound.
    Histogram {
        /// Samples since first seen.
        count: f64,
        /// Sum of the samples since first seen.
        sum: f64,
        /// Cumulative count at or below each bound, `+Inf` excluded.
        buckets: Vec<(f64, f64)>,
    },
}

/// Sorted label pairs of one metric.
pub type Labels = Vec<(String, String)>;

/// One metric family: its type and its metrics by label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Counter, gauge or histogram.
    pub kind: FamilyType,
    /// Each metric, keyed by its sorted labels.
    pub metrics: BTreeMap<Labels, Sample>,
}

/// Every family of one push, by name (so the body is sorted and reproducible).
pub type Families = BTreeMap<String, Family>;

/// What [`Encoder::families`] could not fit into a valid push.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Metrics dropped because their name collides with a family of another type.
    pub series: u64,
    /// The colliding family names, for the log.
    pub names: Vec<String>,
}

/// Turns windows into families, with the label names the grouping key reserves.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// Label names set by the grouping key (`job`, `instance`, ...): a series label of the
    /// same name is renamed `exported_<name>`, as Prometheus does on a scrape.
    reserved: HashSet<String>,
}

impl Encoder {
    /// An encoder for a group keyed by `grouping_names` (`job` included).
    pub fn new<'a>(grouping_names: impl IntoIterator<Item = &'a str>) -> Self {
        Self { reserved: grouping_names.into_iter().map(str::to_owned).collect() }
    }

    /// The families of one push: the window's gauges and every cumulative series of `state`
    /// (which must already include the window).
    pub fn families(&self, window: &Window, state: &State) -> (Families, Dropped) {
        let agent_tags: Vec<(&str, &str)> = window.tags.iter().map(|t| tag_pair(t)).collect();
        // Candidates, sorted so that every collision is resolved the same way on every push.
        let mut candidates: Vec<(String, FamilyType, Labels, Sample)> = Vec::new();
        for series in &window.series {
            if let Value::Gauge { value } = series.value {
                let labels = self.labels(&agent_tags, &series.key.tags, false);
                candidates.push((metric_name(&series.key.name), FamilyType::Gauge, labels, Sample::Value(value)));
            }
        }
        for (key, entry) in &state.entries {
            let (name, kind, sample) = match key.kind {
                Kind::Counter => (counter_name(&key.name), FamilyType::Counter, Sample::Value(entry.value)),
                Kind::Set => (metric_name(&key.name), FamilyType::Gauge, Sample::Value(entry.value)),
                Kind::Timer | Kind::Histogram | Kind::Distribution => (
                    metric_name(&key.name),
                    FamilyType::Histogram,
                    Sample::Histogram {
                        count: entry.count,
                        sum: entry.sum,
                        buckets: state.bounds.iter().copied().zip(entry.buckets.iter().copied()).collect(),
                    },
                ),
            };
            let labels = self.labels(&agent_tags, &key.tags, kind == FamilyType::Histogram);
            candidates.push((name, kind, labels, sample));
        }
        candidates.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));

        let mut families = Families::new();
        let mut dropped = Dropped::default();
        for (name, kind, labels, sample) in candidates {
            let family = families.entry(name.clone()).or_insert_with(|| Family { kind, metrics: BTreeMap::new() });
            if family.kind != kind {
                dropped.series += 1;
                if !dropped.names.contains(&name) {
                    dropped.names.push(name);
                }
                continue;
            }
            match family.metrics.entry(labels) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(sample);
                }
                // Two StatsD series that become one Prometheus series (`a.b` and `a_b`):
                // totals add up; of two gauges the first is kept.
                std::collections::btree_map::Entry::Occupied(mut slot) => match (slot.get_mut(), sample) {
                    (Sample::Value(total), Sample::Value(more)) if kind == FamilyType::Counter => *total += more,
                    (
                        Sample::Histogram { count, sum, buckets },
                        Sample::Histogram { count: c2, sum: s2, buckets: b2 },
                    ) => {
                        *count += c2;
                        *sum += s2;
                        for ((_, total), (_, more)) in buckets.iter_mut().zip(b2) {
                            *total += more;
                        }
                    }
                    _ => dropped.series += 1,
                },
            }
        }
        // A histogram `x` also writes `x_bucket`, `x_sum` and `x_count`: a family of one of
        // those names would make the gateway refuse the whole push.
        let mut claimed: HashMap<String, String> = HashMap::new();
        let mut refused = Vec::new();
        for (name, family) in &families {
            let names: Vec<String> = match family.kind {
                FamilyType::Histogram => {
                    vec![name.clone(), format!("{name}_bucket"), format!("{name}_sum"), format!("{name}_count")]
                }
                FamilyType::Counter | FamilyType::Gauge => vec![name.clone()],
            };
            if names.iter().any(|n| claimed.contains_key(n)) {
                refused.push(name.clone());
            } else {
                claimed.extend(names.into_iter().map(|n| (n, name.clone())));
            }
        }
        for name in refused {
            if let Some(family) = families.remove(&name) {
                dropped.series += family.metrics.len() as u64;
                dropped.names.push(name);
            }
        }
        (families, dropped)
    }

    /// The labels of a series: the agent's tags, overridden by the series' own; names
    /// sanitised, reserved names renamed `exported_<name>`, repeated names joined with `,`.
    fn labels(&self, agent_tags: &[(&str, &str)], tags: &[Box<str>], histogram: bool) -> Labels {
        let mut own: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in tags.iter().map(|t| tag_pair(t)) {
            let Some(name) = self.label_name(key, histogram) else { continue };
            own.entry(name)
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for &(key, value) in agent_tags {
            if let Some(name) = self.label_name(key, histogram) {
                labels.insert(name, value.to_owned());
            }
        }
        labels.extend(own);
        // An empty value is the same as no label in Prometheus.
        labels.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }

    fn label_name(&self, key: &str, histogram: bool) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        let name = label_name(key);
        if self.reserved.contains(&name) || (histogram && name == "le") {
            Some(format!("exported_{name}"))
        } else {
            Some(name)
        }
    }
}

/// A tag as a label pair: `key:value` splits at the first colon; a bare `key` has the value
/// `"true"`.
fn tag_pair(tag: &str) -> (&str, &str) {
    if tag.contains(':') { split_tag(tag) } else { (tag, "true") }
}

/// A Prometheus metric name: characters outside `[a-zA-Z0-9_:]` become `_`, and a name that
/// starts with a digit (or is empty) gets a leading `_`.
pub fn metric_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }));
    out
}

/// A counter's name: [`metric_name`] with `_total` appended unless it already ends so.
pub fn counter_name(name: &str) -> String {
    let mut out = metric_name(name);
    if !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// A Prometheus label name: characters outside `[a-zA-Z0-9_]` become `_`, a leading digit
/// gets a leading `_`, and a leading `__` (reserved by Prometheus) becomes one `_`.
pub fn label_name(key: &str) -> String {
    let mut out = metric_name(key).replace(':', "_");
    while out.starts_with("__") {
        out.remove(0);
    }
    out
}

/// True for a valid label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A float as the text format writes it: `+Inf`, `-Inf`, `NaN`, or the shortest decimal
/// that reads back as the same number.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

/// A histogram count as pushed: Prometheus classic histograms count in integers, so the
/// (possibly fractional, sample-rate weighted) cumulative count is rounded to the nearest
/// integer. Rounding the running total keeps the error below 0.5 however long it runs.
fn whole(count: f64) -> u64 {
    count.max(0.0).round() as u64
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn write_labels(out: &mut String, labels: &Labels, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{name}=\"{}\"", escape(value));
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "le=\"{le}\"");
    }
    out.push('}');
}

/// The text exposition format (0.0.4): a `# TYPE` line per family, no timestamps, and a
/// final newline (Pushgateway refuses a body without one).
pub fn text(families: &Families) -> String {
    let mut out = String::new();
    for (name, family) in families {
        let kind = match family.kind {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram => "histogram",
        };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, sample) in &family.metrics {
            match sample {
                Sample::Value(v) => {
                    out.push_str(name);
                    write_labels(&mut out, labels, None);
                    let _ = writeln!(out, " {}", number(*v));
                }
                Sample::Histogram { count, sum, buckets } => {
                    for (bound, cumulative) in buckets {
                        let _ = write!(out, "{name}_bucket");
                        write_labels(&mut out, labels, Some(&number(*bound)));
                        let _ = writeln!(out, " {}", whole(*cumulative));
                    }
                    let _ = write!(out, "{name}_bucket");
                    write_labels(&mut out, labels, Some("+Inf"));
                    let _ = writeln!(out, " {}", whole(*count));
                    let _ = write!(out, "{name}_sum");
                    write_labels(&mut out, labels, None);
                    let _ = writeln!(out, " {}", number(*sum));
                    let _ = write!(out, "{name}_count");
                    write_labels(&mut out, labels, None);
                    let _ = writeln!(out, " {}", whole(*count));
                }
            }
        }
    }
    out
}

/// The families as length-delimited protobuf `io.prometheus.client.MetricFamily` messages,
/// without timestamps.
pub fn protobuf(families: &Families) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, family) in families {
        let kind = match family.kind {
            FamilyType::Counter => proto::MetricType::Counter,
            FamilyType::Gauge => proto::MetricType::Gauge,
            FamilyType::Histogram => proto::MetricType::Histogram,
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
                }
                m
            })
            .collect();
        let message = proto::MetricFamily { name: Some(name.clone()), help: None, r#type: Some(kind as i32), metric };
        message.encode_length_delimited(&mut out).expect("a Vec grows as needed");
    }
    out
}
