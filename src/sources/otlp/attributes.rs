//! Attributes as tags: an OTLP `AnyValue` as the text of a tag value, and the allow/deny rules
//! that pick which resource and scope attributes become tags.

use std::fmt::Write as _;

use base64::Engine as _;

use super::proto::{AnyValue, KeyValue, any_value::Value};
use crate::config::AttributeRules;

/// The text of an attribute value, as OpenTelemetry's non-OTLP mapping writes it: a string as
/// is, booleans and numbers in decimal, bytes in base64, arrays and key-value lists as JSON.
/// An empty value is the empty string (a bare tag).
pub(crate) fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(Value::StringValueStrindex(i)) => i.to_string(),
        Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
            let mut out = String::new();
            json(value, &mut out);
            out
        }
        None => String::new(),
    }
}

/// `value` as JSON, appended to `out`: strings quoted, numbers and booleans bare, bytes as a
/// base64 string, an empty value as `null`.
fn json(value: Option<&AnyValue>, out: &mut String) {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
        Some(Value::BytesValue(b)) => {
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            out.push_str(&serde_json::Value::from(text).to_string());
        }
        Some(Value::DoubleValue(d)) if !d.is_finite() => {
            out.push_str(&serde_json::Value::from(d.to_string()).to_string());
        }
        Some(Value::ArrayValue(array)) => {
            out.push('[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(Some(v), out);
            }
            out.push(']');
        }
        Some(Value::KvlistValue(list)) => {
            out.push('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", serde_json::Value::from(kv.key.as_str()));
                json(kv.value.as_ref(), out);
            }
            out.push('}');
        }
        Some(_) => out.push_str(&value_text(value)),
        None => out.push_str("null"),
    }
}

/// One pattern: a key, or a prefix (`"service.*"`, `"*"`).
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Key(String),
    Prefix(String),
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Key(pattern.to_owned()),
        }
    }

    fn matches(&self, key: &str) -> bool {
        match self {
            Self::Key(k) => k == key,
            Self::Prefix(p) => key.starts_with(p.as_str()),
        }
    }
}

/// Which resource and scope attributes become tags: those an `allow` pattern matches and no
/// `deny` pattern does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttributeFilter {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

impl AttributeFilter {
    /// The filter `[sources.otlp.resource_attributes]` describes (validated: no `*` but last).
    pub(crate) fn new(rules: &AttributeRules) -> Self {
        Self {
            allow: rules.allow.iter().map(|p| Pattern::new(p)).collect(),
            deny: rules.deny.iter().map(|p| Pattern::new(p)).collect(),
        }
    }

    /// Whether the attribute `key` becomes a tag.
    pub(crate) fn keeps(&self, key: &str) -> bool {
        self.allow.iter().any(|p| p.matches(key)) && !self.deny.iter().any(|p| p.matches(key))
    }

    /// The attributes of `attributes` this filter keeps, as `(key, value text)`.
    pub(crate) fn kept(&self, attributes: &[KeyValue]) -> Vec<(String, String)> {
        attributes
            .iter()
            .filter(|kv| self.keeps(&kv.key))
            .map(|kv| (kv.key.clone(), value_text(kv.value.as_ref())))
            .collect()
    }
}
