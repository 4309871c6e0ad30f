//! Finding where a key or value is written, so every error can name its line and key.
//!
//! The document is parsed once into toml's span-preserving tree ([`DeTable`]); serde errors
//! carry a byte span, and these helpers turn a span into a key path or a key path into a span.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn position(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

/// What a span points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hit {
    /// Keys from the root to the entry.
    pub path: Vec<String>,
    /// The span of the entry's key (for a table header, the last part of the header).
    pub key_span: Range<usize>,
    /// The span of the value: the whole value, one array item, or a table's header.
    pub value_span: Range<usize>,
    /// Whether the span is exactly the key (an unknown-key error) rather than inside the value.
    pub on_key: bool,
}

/// The entry whose key is exactly `span`, else the innermost value containing `span`.
pub(super) fn by_span(root: &DeTable<'_>, span: &Range<usize>) -> Option<Hit> {
    let mut best = None;
    search_table(root, span, &mut Vec::new(), &mut best);
    best
}

fn search_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>, best: &mut Option<Hit>) {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if key.span() == *span {
            *best = Some(Hit { path: path.clone(), key_span: key.span(), value_span: value.span(), on_key: true });
        } else {
            search_value(value, key.span(), span, path, best);
        }
        path.pop();
    }
}

fn search_value(
    value: &Spanned<DeValue<'_>>,
    key_span: Range<usize>,
    span: &Range<usize>,
    path: &mut Vec<String>,
    best: &mut Option<Hit>,
) {
    let inner = value.span();
    let contains = inner.start <= span.start && span.end <= inner.end;
    // A later (deeper) candidate with an equal span wins: it is the more precise one.
    if contains && best.as_ref().is_none_or(|b| !b.on_key && inner.len() <= b.value_span.len()) {
        *best = Some(Hit { path: path.clone(), key_span: key_span.clone(), value_span: inner, on_key: false });
    }
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, span, path, best),
        DeValue::Array(items) => {
            for item in items {
                search_value(item, key_span.clone(), span, path, best);
            }
        }
        _ => {}
    }
}

/// The span of the key at `path` (of array item `item` when given), or of the deepest part
/// of `path` that is written, or `None` when not even the first part is.
pub(super) fn by_path(root: &DeTable<'_>, path: &[String], item: Option<usize>) -> Option<Range<usize>> {
    let mut table = root;
    let mut found = None;
    let mut depth = 0;
    while let Some(part) = path.get(depth) {
        let Some((key, value)) = table.get_key_value(part.as_str()) else { break };
        found = Some(key.span());
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            DeValue::Array(items) if depth + 1 == path.len() => {
                if let Some(element) = item.and_then(|i| items.get(i)) {
                    found = Some(element.span());
                }
                break;
            }
            // An array of tables (`[[mappings]]`): the next part is the entry's position.
            DeValue::Array(items) => {
                let Some(entry) = path[depth + 1].parse::<usize>().ok().and_then(|i| items.get(i)) else { break };
                found = Some(entry.span());
                let DeValue::Table(inner) = entry.get_ref() else { break };
                table = inner;
                depth += 1;
            }
            _ => break,
        }
        depth += 1;
    }
    found
}

/// The value at `path`, if it is written.
pub(super) fn value_at<'t, 'i>(root: &'t DeTable<'i>, path: &[String]) -> Option<&'t Spanned<DeValue<'i>>> {
    let (last, parents) = path.split_last()?;
    let mut table = root;
    for part in parents {
        table = table.get(part.as_str())?.get_ref().as_table()?;
    }
    table.get(last.as_str())
}

/// The first key (in text order) named `name` anywhere under `path`, with its full path.
pub(super) fn find_key(root: &DeTable<'_>, path: &[String], name: &str) -> Option<(Vec<String>, Range<usize>)> {
    let start = if path.is_empty() { root } else { value_at(root, path)?.get_ref().as_table()? };
    let mut found: Option<(Vec<String>, Range<usize>)> = None;
    collect_key(start, name, &mut path.to_vec(), &mut found);
    found
}

fn collect_key(
    table: &DeTable<'_>,
    name: &str,
    path: &mut Vec<String>,
    found: &mut Option<(Vec<String>, Range<usize>)>,
) {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if key.get_ref() == name && found.as_ref().is_none_or(|(_, span)| key.span().start < span.start) {
            *found = Some((path.clone(), key.span()));
        }
        if let DeValue::Table(inner) = value.get_ref() {
            collect_key(inner, name, path, found);
        }
        path.pop();
    }
}

/// The candidate `word` was most likely meant to be, if any is close enough to be a typo.
pub(super) fn closest(word: &str, candidates: &[String]) -> Option<String> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&word, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

/// The names in backticks after `marker` in a serde message: for "unknown field `x`, expected
/// `a` or `b`", `backticked(m, "expected")` is `["a", "b"]`.
pub(super) fn backticked(message: &str, marker: &str) -> Vec<String> {
    let Some(at) = message.find(marker) else { return Vec::new() };
    message[at + marker.len()..].split('`').skip(1).step_by(2).map(str::to_owned).collect()
}
