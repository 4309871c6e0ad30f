//! Annotation templates: `{{ value }}`, `{{ threshold }}`, `{{ rule }}` and
//! `{{ labels.NAME }}` (Prometheus' `{{ $value }}` and `{{ $labels.NAME }}` are read the same).
//! Hand-written rather than a template engine: four placeholders need no language, and a
//! template is checked once at load so a typo is refused with its key.

use std::fmt::Write as _;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value,
    Threshold,
    Rule,
    Label(String),
}

/// A checked annotation template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

/// What a template is filled with.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// The alert's value, if it has one this window.
    pub value: Option<f64>,
    /// The rule's threshold.
    pub threshold: Option<f64>,
    /// The rule's name.
    pub rule: &'a str,
    /// The alert's labels.
    pub labels: &'a [(String, String)],
}

impl Template {
    /// Parses `text`, refusing an unclosed `{{` or an unknown placeholder.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| format!("`{{{{` at byte {open} is never closed with `}}}}`"))?;
            let inner = after[..close].trim();
            let inner = inner.strip_prefix('$').unwrap_or(inner);
            parts.push(match inner {
                "value" => Part::Value,
                "threshold" => Part::Threshold,
                "rule" => Part::Rule,
                _ => match inner.strip_prefix("labels.") {
                    Some(name) if !name.is_empty() => Part::Label(name.to_owned()),
                    _ => {
                        return Err(format!(
                            "unknown placeholder {{{{ {inner} }}}}; use value, threshold, rule or labels.NAME"
                        ));
                    }
                },
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// The text with every placeholder filled; a missing value or label is empty.
    pub fn render(&self, fill: Fill<'_>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value => number(&mut out, fill.value),
                Part::Threshold => number(&mut out, fill.threshold),
                Part::Rule => out.push_str(fill.rule),
                Part::Label(name) => {
                    if let Some((_, v)) = fill.labels.iter().find(|(k, _)| k == name) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }

    /// The template in Prometheus' syntax (`{{ $value }}`, `{{ $labels.NAME }}`), for
    /// `sluice rules export`; the rule's name and threshold are written in as text.
    pub fn to_prometheus(&self, rule: &str, threshold: Option<f64>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value => out.push_str("{{ $value }}"),
                Part::Threshold => number(&mut out, threshold),
                Part::Rule => out.push_str(rule),
                Part::Label(name) => {
                    let _ = write!(out, "{{{{ $labels.{name} }}}}");
                }
            }
        }
        out
    }
}

fn number(out: &mut String, value: Option<f64>) {
    if let Some(v) = value {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_either_syntax_are_filled() {
        let t = Template::parse("{{ rule }}: {{value}} > {{ $threshold }} on {{ $labels.host }}{{ labels.none }}.")
            .unwrap();
        let labels = [("host".to_owned(), "web-1".to_owned())];
        let text = t.render(Fill { value: Some(0.25), threshold: Some(0.1), rule: "errors", labels: &labels });
        assert_eq!(text, "errors: 0.25 > 0.1 on web-1.");
    }

    #[test]
    fn an_unknown_placeholder_or_an_unclosed_brace_is_refused() {
        assert!(Template::parse("{{ values }}").unwrap_err().contains("unknown placeholder {{ values }}"));
        assert!(Template::parse("rate {{ value").unwrap_err().contains("never closed"));
        assert!(Template::parse("{{ labels. }}").is_err());
    }

    #[test]
    fn a_template_exports_in_prometheus_syntax() {
        let t = Template::parse("{{ rule }} is {{ value }} (limit {{ threshold }}) at {{ labels.service }}").unwrap();
        assert_eq!(t.to_prometheus("api", Some(5.0)), "api is {{ $value }} (limit 5) at {{ $labels.service }}");
    }
}
