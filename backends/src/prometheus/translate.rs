//! A window and the cumulative state as Prometheus metric families: the naming and type
//! translation every Prometheus output shares.
//!
//! The mapping is the Pushgateway section of `docs/translation.md`; keep both in step.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::cumulative::{Entry, Kind, Policy, State};
use super::families::{Families, Family, FamilyType, Labels, Sample};
use super::mapping::{Cache, Mapped, Mappings, MetricType, Observer};
use super::names::{counter_name, label_name, metric_name};
use crate::model::{SeriesKey, Summary, SummaryKind, Value, Window, split_tag};

/// What [`Encoder::families`] could not fit into a valid push.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Metrics dropped because their name collides with a family of another type.
    pub(crate) series: u64,
    /// The colliding family names, for the log.
    pub(crate) names: Vec<String>,
    /// Series left out by a mapping rule's `action = "drop"` (not an error).
    pub(crate) by_rule: u64,
}

/// Turns windows into families, with the label names the output sets itself reserved and
/// the agent's mapping rules applied.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// Label names the output sets itself (a Pushgateway's grouping key: `job`, `instance`,
    /// ...): a series label of the same name is renamed `exported_<name>`, as Prometheus does
    /// on a scrape.
    reserved: HashSet<String>,
    /// `[[mappings]]`, shared by every Prometheus output of the agent.
    mappings: Arc<Mappings>,
    /// What the rules made of each (name, kind) seen; the encoder runs in the sink's task, so
    /// the lock is only ever taken by that task (and by a scrape endpoint serving it).
    cache: Mutex<Cache>,
    /// True when the output may be read as OpenMetrics, where counter `x_total` is the family
    /// `x`: a counter then also claims the name without `_total`.
    openmetrics: bool,
}

impl Clone for Encoder {
    fn clone(&self) -> Self {
        Self {
            reserved: self.reserved.clone(),
            mappings: self.mappings.clone(),
            cache: Mutex::default(),
            openmetrics: self.openmetrics,
        }
    }
}

/// A series' StatsD kind, as mapping rules match it.
fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Set => MetricType::Set,
        Kind::Timer => MetricType::Timer,
        // Rules match explicit buckets as a histogram; their bounds are the client's, never a rule's.
        Kind::Histogram | Kind::Buckets => MetricType::Histogram,
        Kind::Distribution => MetricType::Distribution,
    }
}

impl Encoder {
    /// An encoder that renames series labels named like one of `reserved` and applies
    /// `mappings` (the first matching rule names and labels a series).
    pub(crate) fn new<'a>(reserved: impl IntoIterator<Item = &'a str>, mappings: Arc<Mappings>) -> Self {
        Self {
            reserved: reserved.into_iter().map(str::to_owned).collect(),
            mappings,
            cache: Mutex::default(),
            openmetrics: false,
        }
    }

    /// This encoder for an output that may be read as OpenMetrics (a scrape endpoint): a
    /// counter `x_total` is the family `x` there, so a gauge or histogram named `x` collides
    /// with it and is left out of both formats.
    #[must_use]
    pub(crate) fn for_openmetrics(mut self) -> Self {
        self.openmetrics = true;
        self
    }

    /// What the mapping rules make of `name` of kind `kind` (`None`: the default translation).
    fn mapped(&self, cache: &mut Cache, name: &str, kind: MetricType) -> Option<Arc<Mapped>> {
        cache.get(&self.mappings, name, kind)
    }

    /// How the cumulative state keeps a series of `kind` named `name` in a window ending at
    /// `end_ms`: dropped by a rule, its rule's buckets, and its expiry (the rule's
    /// `expire_after`, else the sink's `sink_expire_after`).
    pub(crate) fn policy(
        &self,
        kind: Kind,
        name: &str,
        end_ms: u64,
        sink_expire_after: Option<std::time::Duration>,
    ) -> Policy {
        let mapped = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            self.mapped(&mut cache, name, metric_type(kind))
        };
        let expire_after = mapped.as_ref().and_then(|m| m.expire_after).or(sink_expire_after);
        let expire_before_ms =
            expire_after.map(|d| end_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
        match mapped.as_deref() {
            None => Policy { drop: false, bounds: None, expire_before_ms },
            Some(m) => Policy {
                drop: m.drop,
                bounds: match &m.observer {
                    Observer::Default => None,
                    Observer::Buckets(b) => Some(b.clone()),
                    Observer::Quantiles(_) => Some(Arc::from(&[][..])),
                },
                expire_before_ms,
            },
        }
    }

    /// Adds `window` to `state` as the mapping rules say (dropped series not kept, per-rule
    /// buckets and expiry); `sink_expire_after` is the sink's own `expire_after`. Returns how
    /// many of the window's counters, sets and histograms a rule dropped (its gauges are
    /// counted by [`Encoder::families`]).
    pub(crate) fn advance(
        &self,
        state: &mut State,
        window: &Window,
        sink_expire_after: Option<std::time::Duration>,
    ) -> u64 {
        state.apply_with(window, &|kind, name| self.policy(kind, name, window.end_ms, sink_expire_after))
    }

    /// The expiry of a series of `kind` named `name`: its rule's `expire_after`, else
    /// `sink_expire_after`. Gauges included, for outputs that stop serving them.
    pub(crate) fn expire_after(
        &self,
        kind: MetricType,
        name: &str,
        sink_expire_after: Option<std::time::Duration>,
    ) -> Option<std::time::Duration> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        self.mapped(&mut cache, name, kind).and_then(|m| m.expire_after).or(sink_expire_after)
    }

    /// The families of one output: the window's gauges and every cumulative series of `state`
    /// (which must already include the window).
    pub(crate) fn families(&self, window: &Window, state: &State) -> (Families, Dropped) {
        let gauges = window.series.iter().filter_map(|s| match s.value {
            Value::Gauge { value } => Some((&*s.key, value)),
            _ => None,
        });
        self.families_with_gauges(window, gauges, state)
    }

    /// [`Encoder::families`] with `gauges` instead of the window's own: an output that keeps
    /// serving a gauge after the aggregator stopped carrying it passes those it keeps, in a
    /// stable order (of two gauges that become one Prometheus series the first is kept).
    pub(crate) fn families_with_gauges<'a>(
        &self,
        window: &Window,
        gauges: impl IntoIterator<Item = (&'a SeriesKey, f64)>,
        state: &'a State,
    ) -> (Families, Dropped) {
        let agent_tags: Vec<(&str, &str)> = window.tags.iter().map(|t| tag_pair(t)).collect();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let mut dropped = Dropped::default();
        // The window's own samples of each series, for summaries' quantiles.
        let summaries = if self.mappings.has_quantiles() { window_summaries(window) } else { HashMap::new() };
        // Candidates, sorted so that every collision is resolved the same way on every push.
        let mut candidates: Vec<Candidate> = Vec::new();
        // Series with the same tags and no mapping rule have the same labels: made once per
        // call and shared, instead of once per series (a rule's labels may depend on the name).
        let mut shared: hashbrown::HashMap<(&[Box<str>], FamilyType), Labels> = hashbrown::HashMap::new();
        let mut labels_of = |tags: &'a [Box<str>], mapped: Option<&Mapped>, kind: FamilyType| match mapped {
            Some(_) => self.labels(&agent_tags, tags, mapped, kind),
            None => {
                Labels::clone(shared.entry((tags, kind)).or_insert_with(|| self.labels(&agent_tags, tags, None, kind)))
            }
        };
        for (key, value) in gauges {
            let mapped = self.mapped(&mut cache, &key.name, MetricType::Gauge);
            if mapped.as_ref().is_some_and(|m| m.drop) {
                dropped.by_rule += 1;
                continue;
            }
            let name = mapped.as_ref().map_or_else(|| metric_name(&key.name), |m| m.name.clone());
            let labels = labels_of(&key.tags, mapped.as_deref(), FamilyType::Gauge);
            candidates.push((name, FamilyType::Gauge, labels, Sample::Value(value), None));
        }
        for (key, entry) in &state.entries {
            let mapped = self.mapped(&mut cache, &key.name, metric_type(key.kind));
            if mapped.as_ref().is_some_and(|m| m.drop) {
                dropped.by_rule += 1;
                continue;
            }
            let base = mapped.as_ref().map_or_else(|| metric_name(&key.name), |m| m.name.clone());
            let (name, kind, sample) = match key.kind {
                Kind::Counter => (counter_name(&base), FamilyType::Counter, Sample::Value(entry.value)),
                Kind::Set => (base, FamilyType::Gauge, Sample::Value(entry.value)),
                Kind::Timer | Kind::Histogram | Kind::Distribution => match mapped.as_deref().map(|m| &m.observer) {
                    Some(Observer::Quantiles(quantiles)) => {
                        let window_summary = summaries.get(&(&*key.name, &*key.tags)).copied();
                        (base, FamilyType::Summary, summary_sample(entry, quantiles, window_summary))
                    }
                    _ => (base, FamilyType::Histogram, histogram_sample(entry, &state.bounds)),
                },
                Kind::Buckets => (base, FamilyType::Histogram, histogram_sample(entry, &[])),
            };
            let labels = labels_of(&key.tags, mapped.as_deref(), kind);
            // Timers are in seconds; the other kinds' unit is the application's.
            let unit = (key.kind == Kind::Timer).then_some("seconds");
            candidates.push((name, kind, labels, sample, unit));
        }
        drop(cache);
        candidates.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));

        let mut families = Families::new();
        for (name, kind, labels, sample, unit) in candidates {
            // Looked up before it is inserted: most candidates join a family that exists, and
            // cloning the name for `entry` cost an allocation per series.
            if !families.contains_key(&name) {
                families.insert(name.clone(), Family { kind, unit, metrics: BTreeMap::new() });
            }
            let family = families.get_mut(&name).expect("inserted above");
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
                    (Sample::Summary { count, sum, .. }, Sample::Summary { count: c2, sum: s2, .. }) => {
                        // Quantiles cannot be merged: those of the first series are kept.
                        *count += c2;
                        *sum += s2;
                    }
                    _ => dropped.series += 1,
                },
            }
        }
        self.leave_out_claimed(&mut families, &mut dropped);
        (families, dropped)
    }

    /// Leaves out each family one of whose names another family already writes: a histogram
    /// `x` also writes `x_bucket`, `x_sum` and `x_count`, a summary `x_sum` and `x_count`, and
    /// in OpenMetrics a counter `x_total` is the family `x`. A family of a claimed name would
    /// make the gateway refuse the whole push, or a scrape fail. The families that write more
    /// than their own name claim first (so a histogram or counter wins over a gauge named like
    /// one of its parts), each group in name order; each refused family is named in `dropped`
    /// and its series counted.
    fn leave_out_claimed(&self, families: &mut Families, dropped: &mut Dropped) {
        let mut claims: Vec<(&String, Vec<String>)> = Vec::with_capacity(families.len());
        let mut refused = Vec::new();
        for (name, family) in families.iter() {
            let names = match family.kind {
                FamilyType::Histogram => {
                    vec![name.clone(), format!("{name}_bucket"), format!("{name}_sum"), format!("{name}_count")]
                }
                FamilyType::Summary => vec![name.clone(), format!("{name}_sum"), format!("{name}_count")],
                // A counter named only `_total` would have an empty family name in
                // OpenMetrics, which no parser takes: it is left out.
                FamilyType::Counter if self.openmetrics => match name.strip_suffix("_total") {
                    Some(base) if !base.is_empty() => vec![name.clone(), base.to_owned()],
                    _ => {
                        refused.push(name.clone());
                        continue;
                    }
                },
                FamilyType::Counter | FamilyType::Gauge => vec![name.clone()],
            };
            claims.push((name, names));
        }
        // Stable: each group stays in name order.
        claims.sort_by_key(|(_, names)| names.len() == 1);
        let mut claimed: HashSet<String> = HashSet::new();
        for (name, names) in claims {
            if names.iter().any(|n| claimed.contains(n)) {
                refused.push(name.clone());
            } else {
                claimed.extend(names);
            }
        }
        for name in refused {
            if let Some(family) = families.remove(&name) {
                dropped.series += family.metrics.len() as u64;
                dropped.names.push(name);
            }
        }
    }

    /// The labels of a series: the agent's tags, overridden by the series' own, overridden by
    /// its mapping rule's; names sanitised, reserved names renamed `exported_<name>` (after
    /// mapping), repeated tag names joined with `,`.
    fn labels(
        &self,
        agent_tags: &[(&str, &str)],
        tags: &[Box<str>],
        mapped: Option<&Mapped>,
        kind: FamilyType,
    ) -> Labels {
        let mut own: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in tags.iter().map(|t| tag_pair(t)) {
            let Some(name) = self.label_name(key, kind) else { continue };
            own.entry(name)
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for &(key, value) in agent_tags {
            if let Some(name) = self.label_name(key, kind) {
                labels.insert(name, value.to_owned());
            }
        }
        labels.extend(own);
        if let Some(mapped) = mapped {
            for (key, value) in &mapped.labels {
                if let Some(name) = self.label_name(key, kind) {
                    labels.insert(name, value.clone());
                }
            }
        }
        // An empty value is the same as no label in Prometheus.
        labels.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }

    fn label_name(&self, key: &str, kind: FamilyType) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        let name = label_name(key);
        let own = match kind {
            FamilyType::Histogram => Some("le"),
            FamilyType::Summary => Some("quantile"),
            FamilyType::Counter | FamilyType::Gauge => None,
        };
        if self.reserved.contains(&name) || own == Some(name.as_str()) {
            Some(format!("exported_{name}"))
        } else {
            Some(name)
        }
    }
}

/// One metric before families are formed: its family name, type, labels, value and unit.
type Candidate = (String, FamilyType, Labels, Sample, Option<&'static str>);

/// Each summary of the window by series name and tags.
fn window_summaries(window: &Window) -> HashMap<(&str, &[Box<str>]), &Summary> {
    window
        .series
        .iter()
        .filter_map(|s| match &s.value {
            Value::Summary(summary) => Some(((&*s.key.name, &*s.key.tags), &**summary)),
            _ => None,
        })
        .collect()
}

/// A histogram's sample: its cumulative count and sum, and its buckets at the bounds they were
/// counted at (`default_bounds` for an entry saved before bounds were kept per series).
fn histogram_sample(entry: &Entry, default_bounds: &[f64]) -> Sample {
    let bounds = if entry.bounds.is_empty() && !entry.buckets.is_empty() { default_bounds } else { &entry.bounds };
    Sample::Histogram {
        count: entry.count,
        sum: entry.sum,
        buckets: bounds.iter().copied().zip(entry.buckets.iter().copied()).collect(),
    }
}

/// A summary's sample: cumulative count and sum, and each quantile over the window's samples
/// (from its sketch, within the sketch's 2 % and clamped to the window's exact minimum and
/// maximum); `NaN` when the window had none, as Prometheus clients report an empty summary.
fn summary_sample(entry: &Entry, quantiles: &[f64], window: Option<&Summary>) -> Sample {
    let quantiles = quantiles
        .iter()
        .map(|&q| {
            let value = window.and_then(|s| {
                let divisor = if s.kind == SummaryKind::Timer { 1000.0 } else { 1.0 };
                s.quantile(q).map(|v| v / divisor)
            });
            (q, value.unwrap_or(f64::NAN))
        })
        .collect();
    Sample::Summary { count: entry.count, sum: entry.sum, quantiles }
}

/// A tag as a label pair: `key:value` splits at the first colon; a bare `key` has the value
/// `"true"`.
pub fn tag_pair(tag: &str) -> (&str, &str) {
    if tag.contains(':') { split_tag(tag) } else { (tag, "true") }
}
