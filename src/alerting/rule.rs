//! A rule as evaluated: its config checked once and turned into what each window needs.

use std::sync::Arc;

use backends::model::{Series, Value};
use backends::prometheus::mapping::MetricType;
use backends::prometheus::{is_label_name, label_name, tag_pair};

use super::config::{DivideBy, RuleConfig};
use super::template::Template;

/// Why a rule cannot be used: the key to fix and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    /// The offending key of `[rules.NAME]` (`divide_by` for one of its keys).
    pub key: &'static str,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl RuleError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self { key, message: message.into() }
    }
}

/// Which number of a series' window a rule compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// A counter's sum over the window.
    Sum,
    /// A counter's sum per second; for a timer or histogram, its samples per second.
    Rate,
    /// A gauge's value.
    Value,
    /// A set's distinct members; a timer's or histogram's samples.
    Count,
    /// A timer's or histogram's mean.
    Mean,
    /// Its smallest sample.
    Min,
    /// Its largest sample.
    Max,
    /// Its percentile, `0 < q < 100`.
    Percentile(f64),
}

/// What must hold for a series to breach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// `value <op> threshold`.
    Compare(Op, f64),
    /// The value rose by more than this fraction of the previous window's value.
    Increase(f64),
    /// The value fell by more than this fraction of the previous window's value.
    Decrease(f64),
    /// No series matches.
    Absent,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// Which series a rule watches: a name and the tags each must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The series name.
    pub metric: Box<str>,
    /// `key:value` tags, each of which the series must have.
    pub tags: Vec<Box<str>>,
}

/// A checked `[rules.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The table's name, the alerts' `alertname`.
    pub name: Arc<str>,
    /// The series watched.
    pub selector: Selector,
    /// Its number compared; `None` only for `absent`.
    pub measure: Option<Measure>,
    /// The denominator, with its own number.
    pub divide_by: Option<(Selector, Measure)>,
    /// What breaches.
    pub condition: Condition,
    /// `for`, in milliseconds.
    pub for_ms: u64,
    /// `keep_firing_for`, in milliseconds.
    pub keep_firing_ms: u64,
    /// `cooldown`, in milliseconds.
    pub cooldown_ms: u64,
    /// The rule's labels, `severity` among them, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Annotations, by name.
    pub annotations: Vec<(String, Template)>,
    /// The table as written, for `sluice rules export`.
    pub config: RuleConfig,
}

/// Labels an alert sets itself, which a rule's `labels` may not name.
const RESERVED_LABELS: [&str; 2] = ["alertname", "severity"];

impl Rule {
    /// Checks `[rules.<name>]` and builds the rule.
    pub fn compile(name: &str, config: &RuleConfig) -> Result<Self, RuleError> {
        if config.metric.is_empty() {
            return Err(RuleError::new("metric", "must name a series, e.g. \"http.errors\""));
        }
        let selector = selector(&config.metric, &config.matchers, "where")?;
        let condition = condition(&config.condition, config.threshold)?;
        let measure = match (&config.value, condition) {
            (None, Condition::Absent) => None,
            (None, _) => {
                return Err(RuleError::new(
                    "value",
                    "is required: sum, rate, value, count, mean, min, max or a percentile such as p99",
                ));
            }
            (Some(value), _) => Some(measure(value, "value")?),
        };
        let divide_by = match (&config.divide_by, condition) {
            (Some(_), Condition::Absent) => {
                return Err(RuleError::new("divide_by", "has no meaning with condition = \"absent\""));
            }
            (Some(d), _) => Some(denominator(d, measure)?),
            (None, _) => None,
        };
        let observer = |t: &Option<MetricType>| *t == Some(MetricType::Observer);
        if observer(&config.metric_type) || config.divide_by.as_ref().is_some_and(|d| observer(&d.metric_type)) {
            return Err(RuleError::new(
                "metric_type",
                "is one of counter, gauge, set, timer, histogram, distribution (not observer)",
            ));
        }
        if config.severity.is_empty() {
            return Err(RuleError::new("severity", "must not be empty"));
        }
        let mut labels = vec![("severity".to_owned(), config.severity.clone())];
        for (key, value) in &config.labels {
            if !is_label_name(key) {
                return Err(RuleError::new("labels", format!("{key:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")));
            }
            if RESERVED_LABELS.contains(&key.as_str()) {
                return Err(RuleError::new("labels", format!("{key:?} is set by the rule itself; use `severity`")));
            }
            if value.is_empty() {
                return Err(RuleError::new("labels", format!("{key:?} has an empty value, which Alertmanager drops")));
            }
            labels.push((key.clone(), value.clone()));
        }
        labels.sort();
        let annotations = config
            .annotations
            .iter()
            .map(|(key, text)| {
                Template::parse(text)
                    .map(|t| (key.clone(), t))
                    .map_err(|e| RuleError::new("annotations", format!("{key:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: Arc::from(name),
            selector,
            measure,
            divide_by,
            condition,
            for_ms: millis(config.for_),
            keep_firing_ms: millis(config.keep_firing_for),
            cooldown_ms: millis(config.cooldown),
            labels,
            annotations,
            config: config.clone(),
        })
    }

    /// Whether `other` watches the same numbers, so its alerts' states carry over to it.
    pub fn same_series(&self, other: &Self) -> bool {
        self.selector == other.selector && self.measure == other.measure && self.divide_by == other.divide_by
    }

    /// What the rule watches, as text: `metric{tags} measure`, `/ metric{tags} measure` for a
    /// ratio. Saved alerts are restored only into a rule that watches the same.
    pub fn watches(&self) -> String {
        let side = |s: &Selector, m: Option<Measure>| {
            format!("{}{{{}}} {}", s.metric, s.tags.join(","), m.map_or_else(|| "absent".to_owned(), Measure::name))
        };
        match &self.divide_by {
            Some((d, m)) => format!("{} / {}", side(&self.selector, self.measure), side(d, Some(*m))),
            None => side(&self.selector, self.measure),
        }
    }
}

impl Selector {
    /// Whether `series` is one this selector watches.
    pub fn matches(&self, series: &Series) -> bool {
        *series.key.name == *self.metric && self.tags.iter().all(|t| series.key.tags.binary_search(t).is_ok())
    }
}

impl Measure {
    /// The number of `value` over a window of `seconds`; `None` when the series' kind has no
    /// such number (a `rate` of a gauge) or it has none this window.
    pub fn of(self, value: &Value, seconds: f64) -> Option<f64> {
        let per_second = |n: f64| (seconds > 0.0).then(|| n / seconds);
        match (self, value) {
            (Self::Sum, Value::Counter { sum, .. }) => Some(*sum),
            (Self::Rate, Value::Counter { rate, .. }) => Some(*rate),
            (Self::Value, Value::Gauge { value }) => Some(*value),
            (Self::Count | Self::Value, Value::Set { count, .. }) => Some(*count as f64),
            (Self::Count, Value::Summary(s)) => Some(s.count),
            (Self::Rate, Value::Summary(s)) => per_second(s.count),
            (Self::Sum, Value::Summary(s)) => Some(s.sum),
            (Self::Mean, Value::Summary(s)) => (s.count > 0.0).then(|| s.mean()),
            (Self::Min, Value::Summary(s)) => (s.count > 0.0).then_some(s.min),
            (Self::Max, Value::Summary(s)) => (s.count > 0.0).then_some(s.max),
            (Self::Percentile(q), Value::Summary(s)) => summary_percentile(s, q),
            (Self::Count, Value::Buckets(b)) => Some(b.count() as f64),
            (Self::Rate, Value::Buckets(b)) => per_second(b.count() as f64),
            (Self::Sum, Value::Buckets(b)) => Some(b.sum),
            (Self::Mean, Value::Buckets(b)) => (b.count() > 0).then(|| b.mean()),
            (Self::Min, Value::Buckets(b)) => b.min,
            (Self::Max, Value::Buckets(b)) => b.max,
            (Self::Percentile(q), Value::Buckets(b)) => bucket_percentile(b, q),
            _ => None,
        }
    }

    /// Whether a series that saw nothing this window counts as 0 (counting numbers), rather
    /// than having no value (a gauge, a mean).
    pub fn zero_when_idle(self) -> bool {
        matches!(self, Self::Sum | Self::Rate | Self::Count)
    }

    /// The name as written in a rule.
    pub fn name(self) -> String {
        match self {
            Self::Sum => "sum".into(),
            Self::Rate => "rate".into(),
            Self::Value => "value".into(),
            Self::Count => "count".into(),
            Self::Mean => "mean".into(),
            Self::Min => "min".into(),
            Self::Max => "max".into(),
            Self::Percentile(q) => format!("p{q}"),
        }
    }
}

impl Condition {
    /// Whether `value` (after `previous`, the window before) breaches.
    pub fn holds(self, value: f64, previous: Option<f64>) -> bool {
        match self {
            Self::Compare(op, threshold) => op.holds(value, threshold),
            Self::Increase(fraction) => {
                previous.is_some_and(|p| value > p && (p == 0.0 || (value - p) / p.abs() > fraction))
            }
            Self::Decrease(fraction) => {
                previous.is_some_and(|p| value < p && (p == 0.0 || (p - value) / p.abs() > fraction))
            }
            Self::Absent => false,
        }
    }

    /// The threshold, when the condition has one.
    pub fn threshold(self) -> Option<f64> {
        match self {
            Self::Compare(_, t) | Self::Increase(t) | Self::Decrease(t) => Some(t),
            Self::Absent => None,
        }
    }
}

impl Op {
    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            Self::Eq => value == threshold,
            Self::Ne => value != threshold,
        }
    }

    /// As written in a rule and in PromQL.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

fn selector(
    metric: &str,
    matchers: &std::collections::BTreeMap<String, String>,
    key: &'static str,
) -> Result<Selector, RuleError> {
    let mut tags = Vec::with_capacity(matchers.len());
    for (k, v) in matchers {
        if k.is_empty() || k.contains(':') {
            return Err(RuleError::new(key, format!("{k:?} is not a tag key (not empty, no ':')")));
        }
        tags.push(Box::from(if v.is_empty() { k.clone() } else { format!("{k}:{v}") }));
    }
    tags.sort();
    Ok(Selector { metric: metric.into(), tags })
}

fn denominator(d: &DivideBy, numerator: Option<Measure>) -> Result<(Selector, Measure), RuleError> {
    if d.metric.is_empty() {
        return Err(RuleError::new("divide_by", "`metric` must name a series"));
    }
    let measure = match (&d.value, numerator) {
        (Some(v), _) => measure(v, "divide_by")?,
        (None, Some(m)) => m,
        (None, None) => return Err(RuleError::new("divide_by", "needs a `value`")),
    };
    Ok((selector(&d.metric, &d.matchers, "divide_by")?, measure))
}

fn measure(text: &str, key: &'static str) -> Result<Measure, RuleError> {
    Ok(match text {
        "sum" => Measure::Sum,
        "rate" => Measure::Rate,
        "value" => Measure::Value,
        "count" => Measure::Count,
        "mean" => Measure::Mean,
        "min" => Measure::Min,
        "max" => Measure::Max,
        _ => match text.strip_prefix('p').and_then(|q| q.parse::<f64>().ok()) {
            Some(q) if q > 0.0 && q < 100.0 => Measure::Percentile(q),
            _ => {
                return Err(RuleError::new(
                    key,
                    format!(
                        "{text:?} is not one of sum, rate, value, count, mean, min, max or a percentile p0 < pNN < p100 (p99, p99.9)"
                    ),
                ));
            }
        },
    })
}

fn condition(text: &str, threshold: Option<f64>) -> Result<Condition, RuleError> {
    let op = match text {
        ">" => Some(Op::Gt),
        ">=" => Some(Op::Ge),
        "<" => Some(Op::Lt),
        "<=" => Some(Op::Le),
        "==" => Some(Op::Eq),
        "!=" => Some(Op::Ne),
        "increase" | "decrease" | "absent" => None,
        _ => {
            return Err(RuleError::new(
                "condition",
                format!("{text:?} is not one of >, >=, <, <=, ==, !=, increase, decrease, absent"),
            ));
        }
    };
    if text == "absent" {
        return match threshold {
            Some(_) => Err(RuleError::new("threshold", "has no meaning with condition = \"absent\"")),
            None => Ok(Condition::Absent),
        };
    }
    let Some(threshold) = threshold.filter(|t| t.is_finite()) else {
        return Err(RuleError::new("threshold", format!("a finite number is required with condition = {text:?}")));
    };
    Ok(match (op, text) {
        (Some(op), _) => Condition::Compare(op, threshold),
        (None, change) => {
            if threshold <= 0.0 {
                return Err(RuleError::new(
                    "threshold",
                    format!("{change} compares a fraction of the previous value: write e.g. 0.5 for 50 %"),
                ));
            }
            if change == "increase" { Condition::Increase(threshold) } else { Condition::Decrease(threshold) }
        }
    })
}

/// A configured percentile when the window has it, else the window's sketch at that rank,
/// clamped to the exact minimum and maximum.
fn summary_percentile(s: &backends::model::Summary, q: f64) -> Option<f64> {
    if s.count <= 0.0 {
        return None;
    }
    if let Some(&(_, v)) = s.percentiles.iter().find(|(p, _)| *p == q) {
        return Some(v);
    }
    s.quantile(q / 100.0)
}

/// The percentile of explicit buckets by linear interpolation within the bucket holding its
/// rank, as PromQL's `histogram_quantile` estimates it (the top bucket answers its lower
/// bound, or the exact maximum when the client sent one).
fn bucket_percentile(b: &backends::model::Buckets, q: f64) -> Option<f64> {
    let count = b.count();
    if count == 0 {
        return None;
    }
    let rank = q / 100.0 * count as f64;
    let mut below = 0u64;
    for (i, &n) in b.counts.iter().enumerate() {
        let upto = below + n;
        if n > 0 && upto as f64 >= rank {
            let lower = if i == 0 {
                b.min.unwrap_or(0.0).min(b.bounds.first().copied().unwrap_or(0.0))
            } else {
                b.bounds[i - 1]
            };
            let Some(&upper) = b.bounds.get(i) else { return Some(b.max.unwrap_or(lower)) };
            return Some(lower + (upper - lower) * (rank - below as f64) / n as f64);
        }
        below = upto;
    }
    b.max
}

/// A series' tags as alert labels: keys made label names (as the Prometheus outputs make
/// them), a bare tag `true`, an empty value left out; the later of two equal names wins.
pub fn series_labels<'a>(tags: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for tag in tags {
        let (key, value) = tag_pair(tag);
        if value.is_empty() {
            continue;
        }
        let name = label_name(key);
        match labels.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => value.clone_into(&mut slot.1),
            None => labels.push((name, value.to_owned())),
        }
    }
    labels.sort();
    labels
}

fn millis(d: backends::units::Duration) -> u64 {
    u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX)
}
