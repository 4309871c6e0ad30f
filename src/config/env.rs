//! `${NAME}` expansion in string values, so secrets stay out of the file
//! (`api_key = "${DD_API_KEY}"`).
//!
//! Expansion runs on the parsed document, not on the raw text: only string values are
//! expanded (never keys or comments), a substituted value cannot break the TOML syntax or
//! inject keys, and every span still points into the file as written, so later errors keep
//! their line numbers. `$${` is a literal `${`; a `$` not followed by `{` is kept as is.
//! Substituted text is not expanded again.

use std::borrow::Cow;
use std::env::VarError;

use toml::de::{DeTable, DeValue};

/// Looks a variable up; the process environment in production, a map in tests.
pub(super) type Lookup<'a> = &'a dyn Fn(&str) -> Result<String, VarError>;

/// A `${…}` that could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnvError {
    /// The variable's name as written (for a malformed reference, the text after `${`).
    pub variable: String,
    /// "is not set", "is not valid UTF-8" or "is malformed".
    pub reason: &'static str,
}

/// Where an [`EnvError`] happened: the key path of the value and the value's span.
#[derive(Debug)]
pub(super) struct EnvFailure {
    /// Keys from the root to the value (array items add no part).
    pub path: Vec<String>,
    /// The span of the string value, quotes included.
    pub span: std::ops::Range<usize>,
    /// What went wrong.
    pub error: EnvError,
}

/// Expands every string value in `table`, depth first.
pub(super) fn expand_table(
    table: &mut DeTable<'_>,
    path: &mut Vec<String>,
    lookup: Lookup<'_>,
) -> Result<(), EnvFailure> {
    for (key, value) in table.iter_mut() {
        // In `[[mappings]]`, `${1}` and `${name}` are captures of the rule's pattern (the
        // syntax statsd_exporter mapping files use), never environment variables.
        if path.is_empty() && key.get_ref() == "mappings" {
            continue;
        }
        path.push(key.get_ref().to_string());
        let span = value.span();
        expand_value(value.get_mut(), span, path, lookup)?;
        path.pop();
    }
    Ok(())
}

fn expand_value(
    value: &mut DeValue<'_>,
    span: std::ops::Range<usize>,
    path: &mut Vec<String>,
    lookup: Lookup<'_>,
) -> Result<(), EnvFailure> {
    match value {
        DeValue::String(text) => {
            let expanded = match expand(text, lookup) {
                Ok(Cow::Owned(expanded)) => expanded,
                Ok(Cow::Borrowed(_)) => return Ok(()),
                Err(error) => return Err(EnvFailure { path: path.clone(), span, error }),
            };
            *text = Cow::Owned(expanded);
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                let span = item.span();
                expand_value(item.get_mut(), span, path, lookup)?;
            }
        }
        DeValue::Table(table) => expand_table(table, path, lookup)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

/// Expands `${NAME}` and `$${` in one string; borrows when there is nothing to expand.
pub(super) fn expand<'s>(text: &'s str, lookup: Lookup<'_>) -> Result<Cow<'s, str>, EnvError> {
    if !text.contains('$') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(close) = body.find('}') else {
                return Err(EnvError {
                    variable: body.chars().take(32).collect(),
                    reason: "is malformed (no closing \"}\")",
                });
            };
            let name = &body[..close];
            if !is_variable_name(name) {
                return Err(EnvError {
                    variable: name.to_owned(),
                    reason: "is malformed (use letters, digits and \"_\", not starting with a digit)",
                });
            }
            match lookup(name) {
                Ok(value) => out.push_str(&value),
                Err(VarError::NotPresent) => return Err(EnvError { variable: name.to_owned(), reason: "is not set" }),
                Err(VarError::NotUnicode(_)) => {
                    return Err(EnvError { variable: name.to_owned(), reason: "is not valid UTF-8" });
                }
            }
            rest = &body[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// A POSIX-style variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
