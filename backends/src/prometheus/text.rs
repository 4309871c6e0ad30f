//! The text exposition format (0.0.4) and OpenMetrics 1.0 text, written by hand because they
//! are a few lines of output and the crates that write them bring their own registry and
//! metric types. This is the one escaper and the one number formatter of every Prometheus
//! text output: the Pushgateway's body, the scrape endpoint, the textfile and the agent's own
//! `/metrics`.

use std::fmt::Write as _;

use super::families::{Families, FamilyType, Sample, whole};

/// A sample value: an integer (written exactly, whatever its size) or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A count.
    Int(u64),
    /// Any other value.
    Float(f64),
}

impl From<u64> for Number {
    fn from(value: u64) -> Self {
        Self::Int(value)
    }
}

impl From<f64> for Number {
    fn from(value: f64) -> Self {
        Self::Float(value)
    }
}

/// Writes families in the text format into one growing buffer, without allocating per line.
#[derive(Debug, Default)]
pub struct TextWriter {
    out: String,
}

impl TextWriter {
    /// A writer whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { out: String::with_capacity(capacity) }
    }

    /// Starts the family `name`: its `# HELP` line when `help` is given, then its `# TYPE`.
    pub fn family(&mut self, name: &str, kind: FamilyType, help: Option<&str>) {
        if let Some(help) = help {
            self.out.push_str("# HELP ");
            self.out.push_str(name);
            self.out.push(' ');
            escape_into(&mut self.out, help, Escape::Help);
            self.out.push('\n');
        }
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line, `name{labels} value`, the labels in the order given.
    pub fn sample<K: AsRef<str>, V: AsRef<str>>(&mut self, name: &str, labels: &[(K, V)], value: impl Into<Number>) {
        self.line(name, "", labels, None, value.into());
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// `name` + `suffix`, the labels and then `le` (a histogram bucket's bound), the value.
    fn line<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(K, V)],
        le: Option<f64>,
        value: Number,
    ) {
        let out = &mut self.out;
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(label.as_ref());
                out.push_str("=\"");
                escape_into(out, v.as_ref(), Escape::LabelValue);
                out.push('"');
            }
            if let Some(bound) = le {
                if !labels.is_empty() {
                    out.push(',');
                }
                out.push_str("le=\"");
                number_into(out, Number::Float(bound));
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        number_into(out, value);
        out.push('\n');
    }
}

/// The families with a `# TYPE` line each, no `# HELP` and no timestamps, and a final newline
/// (the Pushgateway refuses a body without one).
pub(crate) fn text(families: &Families) -> String {
    write_families(families, Flavour::Text, None)
}

/// [`text`] with `help` as every family's `# HELP` line, for an output read as it is (a
/// scrape endpoint, a textfile): `promtool check metrics` and client libraries expect one.
pub(crate) fn text_with_help(families: &Families, help: &str) -> String {
    write_families(families, Flavour::Text, Some(help))
}

/// The families as OpenMetrics 1.0 text: `help` as every family's `# HELP`, a counter
/// `x_total` is the family `x` with the sample `x_total`, a family whose values have a known
/// unit and whose name ends with it gets a `# UNIT` line (OpenMetrics requires the name to
/// end with `_<unit>`), no timestamps, and `# EOF` last.
pub(crate) fn openmetrics(families: &Families, help: &str) -> String {
    write_families(families, Flavour::OpenMetrics, Some(help))
}

/// Which of the two text formats [`write_families`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Text,
    OpenMetrics,
}

fn write_families(families: &Families, flavour: Flavour, help: Option<&str>) -> String {
    // About 80 bytes a line, a histogram of the default buckets writes 14: a first guess
    // that saves most of the regrowing of a large render.
    let lines: usize = families
        .values()
        .map(|f| f.metrics.len() * if matches!(f.kind, FamilyType::Histogram | FamilyType::Summary) { 14 } else { 1 })
        .sum();
    let mut w = TextWriter::with_capacity(80 * lines + 32 * families.len() + 16);
    for (name, family) in families {
        let (family_name, sample_name) = match (flavour, family.kind) {
            (Flavour::OpenMetrics, FamilyType::Counter) => match name.strip_suffix("_total") {
                Some(base) if !base.is_empty() => (base, name.as_str()),
                _ => (name.as_str(), name.as_str()),
            },
            _ => (name.as_str(), name.as_str()),
        };
        w.family(family_name, family.kind, help);
        if flavour == Flavour::OpenMetrics
            && let Some(unit) = family.unit
            && family_name.strip_suffix(unit).is_some_and(|rest| rest.ends_with('_'))
        {
            let _ = writeln!(w.out, "# UNIT {family_name} {unit}");
        }
        for (labels, sample) in &family.metrics {
            match sample {
                Sample::Value(v) => w.line(sample_name, "", labels, None, Number::Float(*v)),
                Sample::Histogram { count, sum, buckets } => {
                    for &(bound, cumulative) in buckets {
                        w.line(name, "_bucket", labels, Some(bound), Number::Int(whole(cumulative)));
                    }
                    w.line(name, "_bucket", labels, Some(f64::INFINITY), Number::Int(whole(*count)));
                    w.line(name, "_sum", labels, None, Number::Float(*sum));
                    w.line(name, "_count", labels, None, Number::Int(whole(*count)));
                }
                Sample::Summary { count, sum, quantiles } => {
                    for &(q, value) in quantiles {
                        w.quantile_line(name, labels, q, value);
                    }
                    w.line(name, "_sum", labels, None, Number::Float(*sum));
                    w.line(name, "_count", labels, None, Number::Int(whole(*count)));
                }
            }
        }
    }
    if flavour == Flavour::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.finish()
}

impl TextWriter {
    /// A summary's `name{labels,quantile="q"} value` line.
    fn quantile_line(&mut self, name: &str, labels: &[(String, String)], q: f64, value: f64) {
        let mut q_text = String::new();
        number_into(&mut q_text, Number::Float(q));
        let with_quantile: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(std::iter::once(("quantile", q_text.as_str())))
            .collect();
        self.line(name, "", &with_quantile, None, Number::Float(value));
    }
}

/// What is being escaped: the text format escapes `\` and newline in both, and `"` only in
/// label values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    LabelValue,
    Help,
}

/// Appends `value` escaped as the text format requires.
fn escape_into(out: &mut String, value: &str, what: Escape) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if what == Escape::LabelValue => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A float as the text format writes it (`+Inf`, `NaN`, `0.005`, `1`): the spelling of an `le`
/// label for every Prometheus output.
pub(crate) fn float(value: f64) -> String {
    let mut out = String::new();
    number_into(&mut out, Number::Float(value));
    out
}

/// Appends a number as the text format writes it: integers exactly, floats as `+Inf`, `-Inf`,
/// `NaN` or the shortest decimal that reads back as the same number.
fn number_into(out: &mut String, value: Number) {
    let _ = match value {
        Number::Int(n) => write!(out, "{n}"),
        Number::Float(v) if v.is_nan() => write!(out, "NaN"),
        Number::Float(v) if v.is_infinite() => write!(out, "{}", if v > 0.0 { "+Inf" } else { "-Inf" }),
        Number::Float(v) => write!(out, "{v}"),
    };
}
