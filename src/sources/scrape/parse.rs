//! The Prometheus text format 0.0.4 and OpenMetrics 1.0 text, one line at a time.
//!
//! Hand-written because no maintained crate fits: `prometheus-parse` is unmaintained and
//! builds a `String` per line through regexes, and `openmetrics-parser` refuses a whole body
//! for one bad line, where a scrape must keep every good line and count the bad ones. The
//! parser borrows the body: a sample's name is a slice of it, its labels are slices kept in a
//! vector the parser reuses, and a label value is copied only when it holds an escape.
//!
//! - `# TYPE name type` names a family's type; `# HELP`, `# UNIT` and other comments are
//!   skipped; `# EOF` ends the body (OpenMetrics).
//! - `name{label="value",…} value [timestamp]`: label values unescape `\\`, `\"` and `\n`; the
//!   value is a float (`NaN`, `+Inf` and `-Inf` included). The timestamp is checked and
//!   ignored: a sample is dated by the scrape that read it, as the window folds what it gets
//!   into the open window. An OpenMetrics exemplar (` # {…} value`) is skipped.
//! - A malformed line is one [`ParseError`]; the next line is parsed as if it were absent.

use std::borrow::Cow;

/// Which text format a body is in, from the response's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain`, and anything not OpenMetrics).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format a response of `content_type` is in: OpenMetrics when it says so, the
    /// Prometheus text format otherwise (as Prometheus falls back to it).
    pub fn from_content_type(content_type: &str) -> Self {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") { Self::OpenMetrics } else { Self::Text }
    }
}

/// A family's type, as `# TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (text format) or `unknown` (OpenMetrics).
    Unknown,
}

impl MetricType {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

/// One meaningful line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<'a> {
    /// `# TYPE family type`.
    Type {
        /// The family's name.
        family: &'a str,
        /// Its type.
        kind: MetricType,
    },
    /// A sample; its labels are [`Parser::labels`] until the next line is read.
    Sample {
        /// The sample's name as exposed (`x_total`, `h_bucket`).
        name: &'a str,
        /// Its value.
        value: f64,
    },
}

/// Why a line was skipped: the rest of the body is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line is not UTF-8.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// The metric name is empty or has a character names cannot have.
    #[error("bad metric name")]
    BadName,
    /// The label set is not `{name="value",…}`.
    #[error("bad label set")]
    BadLabels,
    /// No value, or one that is not a float.
    #[error("missing or bad value")]
    BadValue,
    /// A timestamp that is not a number, or more after it.
    #[error("bad timestamp or trailing text")]
    BadTimestamp,
    /// A `# TYPE` line without a name or with an unknown type.
    #[error("bad TYPE line")]
    BadType,
}

/// A label: its name and its value, unescaped.
pub type Label<'a> = (&'a str, Cow<'a, str>);

/// Reads a body line by line. See the [module docs](self).
#[derive(Debug)]
pub struct Parser<'a> {
    rest: &'a [u8],
    format: Format,
    labels: Vec<Label<'a>>,
}

impl<'a> Parser<'a> {
    /// A parser of `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Self {
        Self { rest: body, format, labels: Vec::new() }
    }

    /// The labels of the last [`Line::Sample`] returned, in exposition order.
    pub fn labels(&self) -> &[Label<'a>] {
        &self.labels
    }

    /// The next meaningful line, `None` at the end of the body or at `# EOF`.
    #[allow(clippy::should_implement_trait)] // Not an Iterator: a sample's labels live in the parser.
    pub fn next(&mut self) -> Option<Result<Line<'a>, ParseError>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match memchr::memchr(b'\n', self.rest) {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let Ok(line) = std::str::from_utf8(line) else { return Some(Err(ParseError::NotUtf8)) };
            let line = line.trim_end_matches('\r').trim_start_matches([' ', '\t']);
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                if comment == " EOF" && self.format == Format::OpenMetrics {
                    self.rest = &[];
                    return None;
                }
                match type_line(comment) {
                    Some(parsed) => return Some(parsed),
                    None => continue,
                }
            }
            return Some(self.sample(line));
        }
    }

    fn sample(&mut self, line: &'a str) -> Result<Line<'a>, ParseError> {
        self.labels.clear();
        let end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
        let name = &line[..end];
        if !is_name(name) {
            return Err(ParseError::BadName);
        }
        let mut rest = &line[end..];
        if let Some(inner) = rest.strip_prefix('{') {
            rest = self.parse_labels(inner)?;
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let (value, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        let value = parse_float(value).ok_or(ParseError::BadValue)?;
        let rest = rest.trim_start_matches([' ', '\t']);
        // An exemplar follows ` # `; only OpenMetrics has them.
        let timestamp = match rest.find('#') {
            Some(i) if self.format == Format::OpenMetrics => rest[..i].trim_end(),
            _ => rest.trim_end(),
        };
        if !timestamp.is_empty() && parse_float(timestamp).is_none_or(|t| !t.is_finite()) {
            return Err(ParseError::BadTimestamp);
        }
        Ok(Line::Sample { name, value })
    }

    /// Reads `name="value",…}` into [`Self::labels`] and returns what follows the `}`.
    fn parse_labels(&mut self, mut rest: &'a str) -> Result<&'a str, ParseError> {
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if let Some(after) = rest.strip_prefix('}') {
                return Ok(after);
            }
            let end = rest.find(|c: char| !is_name_char(c) || c == ':').unwrap_or(rest.len());
            let name = &rest[..end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(ParseError::BadLabels);
            }
            rest = rest[end..].trim_start_matches([' ', '\t']);
            rest = rest.strip_prefix('=').ok_or(ParseError::BadLabels)?.trim_start_matches([' ', '\t']);
            rest = rest.strip_prefix('"').ok_or(ParseError::BadLabels)?;
            let (value, after) = quoted(rest)?;
            self.labels.push((name, value));
            rest = after.trim_start_matches([' ', '\t']);
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(ParseError::BadLabels);
            }
        }
    }
}

/// A `# TYPE` line parsed, or `None` for any other comment.
fn type_line(comment: &str) -> Option<Result<Line<'_>, ParseError>> {
    let comment = comment.trim_start_matches(' ');
    let rest = comment.strip_prefix("TYPE")?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut words = rest.split_ascii_whitespace();
    let parsed = match (words.next(), words.next(), words.next()) {
        (Some(family), Some(kind), None) if is_name(family) => {
            MetricType::parse(kind).map(|kind| Line::Type { family, kind }).ok_or(ParseError::BadType)
        }
        _ => Err(ParseError::BadType),
    };
    Some(parsed)
}

/// A quoted label value up to its closing `"` (the opening one already read), unescaped, and
/// what follows it.
fn quoted(text: &str) -> Result<(Cow<'_, str>, &str), ParseError> {
    let bytes = text.as_bytes();
    let Some(end) = memchr::memchr2(b'"', b'\\', bytes) else { return Err(ParseError::BadLabels) };
    if bytes[end] == b'"' {
        return Ok((Cow::Borrowed(&text[..end]), &text[end + 1..]));
    }
    let mut value = String::from(&text[..end]);
    let mut chars = text[end..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Cow::Owned(value), &text[end + i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                // The text format keeps an unknown escape as written.
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return Err(ParseError::BadLabels),
            },
            c => value.push(c),
        }
    }
    Err(ParseError::BadLabels)
}

/// A float as the formats write one: decimal or exponent, `NaN`, `+Inf`, `-Inf`.
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "" => None,
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also reads `inf`, `infinity` and `nan` in any case; the formats do not write them.
        _ if text.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => None,
        _ => text.parse().ok(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(is_name_char)
}

/// Lines of `body` that are neither blank nor comments (up to `# EOF` in OpenMetrics, where
/// the parser stops): what `sample_limit` bounds, counted before anything is converted so that
/// a body over it changes no baseline.
pub fn sample_lines(body: &[u8], format: Format) -> usize {
    let mut count = 0;
    for line in body.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line == b"# EOF" && format == Format::OpenMetrics {
            break;
        }
        count += usize::from(!line.is_empty() && line[0] != b'#');
    }
    count
}
