//! Prometheus metric and label names: what a StatsD name or tag key becomes, and which names
//! Prometheus accepts.

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
    // One pass, one allocation: this runs for every label of every series at each flush.
    let mut out = String::with_capacity(key.len() + 1);
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    let leading = out.len() - out.trim_start_matches('_').len();
    if leading > 1 {
        out.drain(..leading - 1);
    }
    out
}

/// True for a valid label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True for a valid metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}
