//! A window and the cumulative state as Prometheus metric families: the naming and type
//! translation every Prometheus output shares.
//!
//! The mapping is the Pushgateway section of `docs/translation.md`; keep both in step.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::cumulative::{Kind, State};
use super::families::{Families, Family, FamilyType, Labels, Sample};
use super::names::{counter_name, label_name, metric_name};
use crate::model::{Value, Window, split_tag};

/// What [`Encoder::families`] could not fit into a valid push.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Metrics dropped because their name collides with a family of another type.
    pub(crate) series: u64,
    /// The colliding family names, for the log.
    pub(crate) names: Vec<String>,
}

/// Turns windows into families, with the label names the output sets itself reserved.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    /// Label names the output sets itself (a Pushgateway's grouping key: `job`, `instance`,
    /// ...): a series label of the same name is renamed `exported_<name>`, as Prometheus does
    /// on a scrape.
    reserved: HashSet<String>,
}

impl Encoder {
    /// An encoder that renames series labels named like one of `reserved`.
    pub(crate) fn new<'a>(reserved: impl IntoIterator<Item = &'a str>) -> Self {
        Self { reserved: reserved.into_iter().map(str::to_owned).collect() }
    }

    /// The families of one output: the window's gauges and every cumulative series of `state`
    /// (which must already include the window).
    pub(crate) fn families(&self, window: &Window, state: &State) -> (Families, Dropped) {
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
