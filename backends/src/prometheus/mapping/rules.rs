//! The compiled `[[mappings]]`: validated at load, then asked for each distinct (name, kind).
//!
//! Globs are compiled to regular expressions (`*` → `([^.]+)`, the rest escaped, anchored at
//! both ends) rather than to a matcher of their own: one matching engine and one capture
//! expansion for both rule types, the `regex` crate's automata are fast enough, and results
//! are cached per name anyway (`cache.rs`).

use std::sync::Arc;

use regex::Regex;

use super::config::{Action, MappingRule, MatchType, MetricType};
use super::template::Template;
use crate::prometheus::names::{is_label_name, is_metric_name};

/// Why a `[[mappings]]` entry is refused: its position (from 0), the key and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for key {key:?} in [[mappings]] index {index}: {message}")]
pub struct MappingError {
    /// The entry's position in the `[[mappings]]` array, counting from 0.
    pub index: usize,
    /// The key to fix.
    pub key: &'static str,
    /// The offending item when the key holds an array (`buckets`, `quantiles`).
    pub item: Option<usize>,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// What matched series get instead of the default histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observer {
    /// The sink's `buckets`.
    Default,
    /// The rule's `buckets` (seconds for timers).
    Buckets(Arc<[f64]>),
    /// A summary with these quantiles.
    Quantiles(Arc<[f64]>),
}

/// What one rule made of one (name, kind).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mapped {
    /// `action = "drop"`: no Prometheus output sends the series.
    pub drop: bool,
    /// The Prometheus name, captures filled in and sanitised (`_total` not yet added).
    pub name: String,
    /// The rule's labels, captures filled in, by valid label name.
    pub labels: Vec<(String, String)>,
    /// Buckets or quantiles for timers, histograms and distributions.
    pub observer: Observer,
    /// The rule's `expire_after`, overriding the sink's.
    pub expire_after: Option<std::time::Duration>,
}

/// What the Prometheus outputs make of a StatsD name, for tools that write queries over
/// them (`sluice rules export`).
#[derive(Debug, Clone, PartialEq)]
pub enum Exported {
    /// A rule drops the series: no Prometheus output has it.
    Dropped,
    /// The family's name (a counter's without `_total`), the labels a rule adds, and whether
    /// a rule makes it a summary with these quantiles (its `quantile` label values).
    Named {
        /// The family's base name.
        name: String,
        /// Labels the rule adds, by label name.
        labels: Vec<(String, String)>,
        /// `Some(quantiles)` (in `0..=1`) when a rule turns the series into a summary.
        quantiles: Option<Vec<f64>>,
    },
}

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    regex: Regex,
    kind: Option<MetricType>,
    action: Action,
    name: Option<Template>,
    labels: Vec<(String, Template)>,
    observer: Observer,
    expire_after: Option<std::time::Duration>,
}

/// Every `[[mappings]]` entry, compiled, in file order.
#[derive(Debug, Default)]
pub struct Mappings {
    rules: Vec<Rule>,
    /// The rules as written, so two sets compare equal when their text does.
    source: Vec<MappingRule>,
}

impl PartialEq for Mappings {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Mappings {
    /// No rules: every series gets the default translation.
    pub fn none() -> Self {
        Self::default()
    }

    /// Validates and compiles `rules`; the first problem names its entry and key.
    pub fn compile(rules: &[MappingRule]) -> Result<Self, MappingError> {
        let compiled = rules.iter().enumerate().map(|(index, rule)| compile(index, rule)).collect::<Result<_, _>>()?;
        Ok(Self { rules: compiled, source: rules.to_vec() })
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when some rule turns series into summaries (their quantiles need the window).
    pub(crate) fn has_quantiles(&self) -> bool {
        self.rules.iter().any(|r| matches!(r.observer, Observer::Quantiles(_)))
    }

    /// What the Prometheus outputs call series `name` of kind `kind`: the first matching
    /// rule's name and labels, else the default translation.
    pub fn exported(&self, name: &str, kind: MetricType) -> Exported {
        match self.map(name, kind) {
            Some(m) if m.drop => Exported::Dropped,
            Some(m) => Exported::Named {
                name: m.name,
                labels: m.labels,
                quantiles: match m.observer {
                    Observer::Quantiles(q) => Some(q.to_vec()),
                    _ => None,
                },
            },
            None => Exported::Named { name: crate::prometheus::metric_name(name), labels: Vec::new(), quantiles: None },
        }
    }

    /// What the first rule matching `name` of kind `kind` makes of it; `None` when none does.
    pub(crate) fn map(&self, name: &str, kind: MetricType) -> Option<Mapped> {
        for rule in &self.rules {
            if rule.kind.is_some_and(|k| !k.covers(kind)) {
                continue;
            }
            let Some(captures) = rule.regex.captures(name) else { continue };
            let mapped_name = rule.name.as_ref().map(|t| crate::prometheus::names::metric_name(&t.expand(&captures)));
            return Some(Mapped {
                drop: rule.action == Action::Drop,
                name: mapped_name.unwrap_or_default(),
                labels: rule.labels.iter().map(|(label, value)| (label.clone(), value.expand(&captures))).collect(),
                observer: rule.observer.clone(),
                expire_after: rule.expire_after,
            });
        }
        None
    }
}

fn compile(index: usize, rule: &MappingRule) -> Result<Rule, MappingError> {
    let err = |key: &'static str, message: String| MappingError { index, key, item: None, message };
    let glob = rule.match_type == MatchType::Glob;
    if rule.pattern.is_empty() {
        return Err(err("match", "must not be empty".to_owned()));
    }
    let regex = match rule.match_type {
        MatchType::Glob => glob_regex(&rule.pattern).map_err(|m| err("match", m))?,
        MatchType::Regex => Regex::new(&format!("^(?:{})$", rule.pattern))
            .map_err(|e| err("match", format!("{:?} is not a regular expression: {e}", rule.pattern)))?,
    };
    let name = match (&rule.name, rule.action) {
        (Some(name), _) => {
            let template = Template::parse(name, &regex, glob).map_err(|m| err("name", m))?;
            // A capture of a StatsD name may hold `.` or `-`, which become `_`; the rest of
            // the name must already be valid.
            if !is_metric_name(&template.with_each_capture("x")) {
                return Err(err(
                    "name",
                    format!("{name:?} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, captures aside)"),
                ));
            }
            Some(template)
        }
        (None, Action::Map) => {
            return Err(err("name", "is required unless action = \"drop\"".to_owned()));
        }
        (None, Action::Drop) => None,
    };
    let mut labels = Vec::with_capacity(rule.labels.len());
    for (label, value) in &rule.labels {
        if !is_label_name(label) || label.starts_with("__") {
            return Err(err(
                "labels",
                format!("{label:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"),
            ));
        }
        labels.push((label.clone(), Template::parse(value, &regex, glob).map_err(|m| err("labels", m))?));
    }
    let observer = match (&rule.buckets, &rule.quantiles) {
        (Some(_), Some(_)) => {
            return Err(err(
                "quantiles",
                "set `buckets` (a histogram) or `quantiles` (a summary), not both".to_owned(),
            ));
        }
        (Some(buckets), None) => {
            for (i, &b) in buckets.iter().enumerate() {
                let problem = if !b.is_finite() {
                    Some(format!("{b} is not a finite bound (+Inf is implied)"))
                } else if i > 0 && b <= buckets[i - 1] {
                    Some(format!("{b} does not exceed the bound before it; bounds must be strictly increasing"))
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(MappingError { index, key: "buckets", item: Some(i), message });
                }
            }
            Observer::Buckets(buckets.as_slice().into())
        }
        (None, Some(quantiles)) => {
            for (i, &q) in quantiles.iter().enumerate() {
                let problem = if !(q > 0.0 && q < 1.0) {
                    Some(format!("{q} is not a quantile; each must be greater than 0 and less than 1"))
                } else if quantiles[..i].contains(&q) {
                    Some(format!("{q} is listed twice"))
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(MappingError { index, key: "quantiles", item: Some(i), message });
                }
            }
            let mut sorted = quantiles.clone();
            sorted.sort_by(f64::total_cmp);
            Observer::Quantiles(sorted.into())
        }
        (None, None) => Observer::Default,
    };
    if rule.expire_after.is_some_and(|d| d.0.is_zero()) {
        return Err(err("expire_after", "must be longer than 0s; remove the key to use the sink's".to_owned()));
    }
    Ok(Rule {
        regex,
        kind: rule.match_metric_type,
        action: rule.action,
        name,
        labels,
        observer,
        expire_after: rule.expire_after.map(|d| d.0),
    })
}

/// A glob as an anchored regex: each `*` a capture of one or more characters other than `.`.
fn glob_regex(glob: &str) -> Result<Regex, String> {
    if glob.contains("**") {
        return Err(format!("{glob:?} has two `*` in a row, which cannot be told apart; use one"));
    }
    if let Some(c) = glob.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '|' | '#' | '@')) {
        return Err(format!(
            "{glob:?} holds {c:?}, which no StatsD name does; for a regular expression set match_type = \"regex\""
        ));
    }
    let body: Vec<String> = glob.split('*').map(regex::escape).collect();
    Regex::new(&format!("^{}$", body.join("([^.]+)"))).map_err(|e| format!("{glob:?} cannot be compiled: {e}"))
}
