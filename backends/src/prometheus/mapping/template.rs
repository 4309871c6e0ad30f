//! A `name` or label value with capture references, parsed once at load.
//!
//! The syntax is Go's `regexp.Expand`, which `statsd_exporter` uses, so mapping files carry
//! over: `$1` or `${1}` is a numbered capture, `$name` or `${name}` a named one, `$$` a
//! literal `$`. As in Go, `$1x` names a capture called `1x`; unlike Go, a reference to a
//! capture the pattern does not have is refused at load instead of expanding to nothing.
//! Written by hand rather than with `regex::Captures::expand` because that one cannot tell at
//! load time which references are unknown.

use regex::{Captures, Regex};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Index(usize),
    Name(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text` and checks every reference against the captures of `regex`; `glob` says
    /// how to word the error (a glob's captures are its `*`s).
    pub(crate) fn parse(text: &str, regex: &Regex, glob: bool) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            let (reference, after) = if let Some(inner) = rest.strip_prefix('{') {
                let Some(end) = inner.find('}') else {
                    return Err(format!("{text:?} has a \"${{\" without its \"}}\""));
                };
                (&inner[..end], &inner[end + 1..])
            } else if let Some(after) = rest.strip_prefix('$') {
                literal.push('$');
                rest = after;
                continue;
            } else {
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "{text:?} has \"$\" without a capture after it; write $1, ${{1}} or ${{name}}, or $$ for a \"$\""
                ));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(reference_piece(reference, text, regex, glob)?);
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self { pieces })
    }

    /// The template with every capture replaced by `stand_in`: what validation checks a name
    /// or label against.
    pub(crate) fn with_each_capture(&self, stand_in: &str) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Index(_) | Piece::Name(_) => stand_in,
            })
            .collect()
    }

    /// The template with the captures of one match filled in.
    pub(crate) fn expand(&self, captures: &Captures<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Index(i) => out.push_str(captures.get(*i).map_or("", |m| m.as_str())),
                Piece::Name(n) => out.push_str(captures.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

fn reference_piece(reference: &str, text: &str, regex: &Regex, glob: bool) -> Result<Piece, String> {
    if reference.bytes().all(|b| b.is_ascii_digit()) {
        let index: usize = reference.parse().map_err(|_| format!("{text:?}: ${reference} is too large"))?;
        let groups = regex.captures_len() - 1;
        if index == 0 || index > groups {
            let what = if glob { "`*`" } else { "capture group" };
            return Err(format!(
                "{text:?} uses ${reference} but the pattern has {groups} {what}{}; captures count from $1",
                if groups == 1 { "" } else { "s" }
            ));
        }
        return Ok(Piece::Index(index));
    }
    if regex.capture_names().flatten().any(|n| n == reference) {
        return Ok(Piece::Name(reference.to_owned()));
    }
    let hint = match reference.find(|c: char| !c.is_ascii_digit()) {
        Some(digits) if digits > 0 => {
            format!(
                "; write ${{{}}}{} for capture {} followed by text",
                &reference[..digits],
                &reference[digits..],
                &reference[..digits]
            )
        }
        _ => String::new(),
    };
    Err(format!("{text:?} uses the capture {reference:?}, which the pattern does not name{hint}"))
}
