//! `[[mappings]]`: one rule as written in the TOML file.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::units::Duration;

/// One `[[mappings]]` entry. Rules are tried in file order and the first that matches a
/// series' name (and kind, with `match_metric_type`) decides; a series no rule matches gets
/// the default translation (`docs/translation.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRule {
    /// The StatsD name to match: a glob whose `*` matches one or more characters other than
    /// `.` (each `*` is a capture, `$1`, `$2`, ...), or with `match_type = "regex"` a regular
    /// expression that must match the whole name. Required.
    #[serde(rename = "match")]
    pub pattern: String,
    /// `"glob"` or `"regex"`. Defaults to `"glob"`.
    #[serde(default)]
    pub match_type: MatchType,
    /// The Prometheus metric name; may use captures (`$1`, `${1}`, `${name}`). Required unless
    /// `action = "drop"`. Counters still get `_total` unless the name ends with it.
    #[serde(default)]
    pub name: Option<String>,
    /// Labels added to the series (`label = "value"`, values may use captures); they override
    /// a tag of the same name. Defaults to none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Only series of this kind match: `"counter"`, `"gauge"`, `"set"`, `"timer"`,
    /// `"histogram"`, `"distribution"`, or `"observer"` (any of the last three, as
    /// `statsd_exporter` calls them). Defaults to every kind.
    #[serde(default)]
    pub match_metric_type: Option<MetricType>,
    /// `"map"` (rename and label) or `"drop"` (no Prometheus output sends the series).
    /// Defaults to `"map"`.
    #[serde(default)]
    pub action: Action,
    /// Histogram bucket upper bounds for matched timers (in seconds), histograms and
    /// distributions; finite and strictly increasing (`+Inf` is implied). Defaults to the
    /// sink's `buckets`.
    #[serde(default)]
    pub buckets: Option<Vec<f64>>,
    /// Instead of buckets: matched timers, histograms and distributions become a Prometheus
    /// summary with these quantiles (each between 0 and 1, exclusive), computed over each
    /// window. Defaults to none (a histogram).
    #[serde(default)]
    pub quantiles: Option<Vec<f64>>,
    /// Matched series not updated for this long are forgotten by the Prometheus outputs (the
    /// scrape endpoint and remote write stop serving them). Defaults to the sink's
    /// `expire_after`.
    #[serde(default)]
    pub expire_after: Option<Duration>,
}

/// How `match` is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    /// `*` matches one or more characters other than `.`.
    #[default]
    Glob,
    /// A regular expression (Rust `regex` syntax) that must match the whole name.
    Regex,
}

/// What a matched series becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Renamed and labelled as the rule says.
    #[default]
    Map,
    /// Not sent by any Prometheus output (counted, not an error).
    Drop,
}

/// A StatsD kind, as `match_metric_type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// `|c`.
    Counter,
    /// `|g`.
    Gauge,
    /// `|s`.
    Set,
    /// `|ms`.
    Timer,
    /// `|h`.
    Histogram,
    /// `|d`.
    Distribution,
    /// Any of timer, histogram or distribution (`statsd_exporter`'s `observer`); only in
    /// `match_metric_type`.
    Observer,
}

impl MetricType {
    /// True when a rule for `self` matches a series of kind `kind`.
    pub(crate) fn covers(self, kind: MetricType) -> bool {
        self == kind || (self == Self::Observer && matches!(kind, Self::Timer | Self::Histogram | Self::Distribution))
    }

    /// The position of a series' kind in the cache's per-name slots.
    pub(crate) fn slot(self) -> usize {
        match self {
            Self::Counter => 0,
            Self::Gauge => 1,
            Self::Set => 2,
            Self::Timer => 3,
            Self::Histogram => 4,
            Self::Distribution => 5,
            Self::Observer => 6,
        }
    }
}
