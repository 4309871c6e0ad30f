//! Metric lines: [`Metric`], its type, tags and packed values.

use std::str;

use super::bytes::find;
use super::error::ParseError;
use super::number::{is_signed, parse_number, parse_unix_seconds};

/// Most tags one line may carry (empty tags not counted); more is [`ParseError::TooManyTags`].
pub const MAX_TAGS: usize = 64;
/// Longest container id (`|c:`) accepted, in bytes.
pub const MAX_CONTAINER_ID_BYTES: usize = 256;

/// The StatsD type of a metric line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `c`: a counter, incremented by `value / rate`.
    Counter,
    /// `g`: a gauge, set (or moved by a signed delta).
    Gauge,
    /// `ms`: a timer, samples in milliseconds.
    Timer,
    /// `h`: a histogram.
    Histogram,
    /// `d`: a distribution (globally mergeable sketch).
    Distribution,
    /// `s`: a set of distinct members.
    Set,
}

impl MetricType {
    /// The wire spelling: `c`, `g`, `ms`, `h`, `d` or `s`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "c",
            Self::Gauge => "g",
            Self::Timer => "ms",
            Self::Histogram => "h",
            Self::Distribution => "d",
            Self::Set => "s",
        }
    }

    fn from_wire(raw: &[u8]) -> Option<Self> {
        Some(match raw {
            b"c" => Self::Counter,
            b"g" => Self::Gauge,
            b"ms" => Self::Timer,
            b"h" => Self::Histogram,
            b"d" => Self::Distribution,
            b"s" => Self::Set,
            _ => return None,
        })
    }
}

/// A gauge update: a plain value sets the gauge, a signed one moves it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GaugeUpdate {
    /// `name:5|g`: the gauge becomes 5.
    Set(f64),
    /// `name:+5|g` / `name:-5|g`: the gauge moves by ±5 (from 0 if it is new).
    Delta(f64),
}

/// A metric line, borrowing the datagram. Allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    /// The name, as sent (non-empty).
    pub name: &'a str,
    /// The StatsD type.
    pub kind: MetricType,
    /// `@rate`, in `(0, 1]`; 1 when absent.
    pub sample_rate: f64,
    /// `|c:` container id, if given.
    pub container: Option<&'a str>,
    /// `|T` Unix seconds, if given.
    pub timestamp: Option<i64>,
    /// The tag section after `#`, commas included; already valid UTF-8.
    raw_tags: &'a str,
    /// Number of non-empty tags in `raw_tags` (≤ [`MAX_TAGS`]).
    tag_count: usize,
    /// The first value, already parsed, and whether it was signed (numeric types only).
    first: f64,
    first_signed: bool,
    /// The value field after the first value's `:` (packed values), or the set member.
    rest: &'a [u8],
}

impl<'a> Metric<'a> {
    /// The tags in the order sent, empty ones skipped; each `key:value` or a bare `key`.
    pub fn tags(&self) -> Tags<'a> {
        Tags { rest: self.raw_tags }
    }

    /// The number of tags [`Metric::tags`] yields.
    pub fn tag_count(&self) -> usize {
        self.tag_count
    }

    /// The raw tag section (after `#`), as sent.
    pub fn raw_tags(&self) -> &'a str {
        self.raw_tags
    }

    /// Every value of a numeric line, in order (one per packed value); nothing for a set.
    pub fn values(&self) -> impl Iterator<Item = f64> + 'a {
        self.raw_values().map(|(v, _)| v)
    }

    /// Every value of the line as a gauge update, in order; nothing for a set.
    pub fn gauge_updates(&self) -> impl Iterator<Item = GaugeUpdate> + 'a {
        self.raw_values().map(|(v, signed)| if signed { GaugeUpdate::Delta(v) } else { GaugeUpdate::Set(v) })
    }

    /// The number of samples the line carries: packed values, or 1 for a set.
    pub fn sample_count(&self) -> usize {
        if self.kind == MetricType::Set || self.rest.is_empty() {
            1
        } else {
            1 + self.rest.split(|&b| b == b':').count()
        }
    }

    /// A set's member, verbatim (non-empty); `None` for other types.
    pub fn member(&self) -> Option<&'a [u8]> {
        (self.kind == MetricType::Set).then_some(self.rest)
    }

    fn raw_values(&self) -> RawValues<'a> {
        if self.kind == MetricType::Set {
            RawValues { first: None, rest: None }
        } else {
            RawValues {
                first: Some((self.first, self.first_signed)),
                rest: (!self.rest.is_empty()).then_some(self.rest),
            }
        }
    }
}

/// The packed values of a line after validation.
struct RawValues<'a> {
    first: Option<(f64, bool)>,
    /// Remaining `:`-separated values; `None` when exhausted.
    rest: Option<&'a [u8]>,
}

impl Iterator for RawValues<'_> {
    type Item = (f64, bool);

    fn next(&mut self) -> Option<(f64, bool)> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        let rest = self.rest?;
        let (chunk, after) = match find(rest, b':') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        self.rest = after;
        // Validated by the parser: this cannot fail, and must not panic if it ever did.
        Some((parse_number(chunk).unwrap_or(0.0), is_signed(chunk)))
    }
}

/// The tags of a metric line; see [`Metric::tags`].
#[derive(Debug, Clone)]
pub struct Tags<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tags<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.rest.is_empty() {
            let (tag, rest) = self.rest.split_once(',').unwrap_or((self.rest, ""));
            self.rest = rest;
            if !tag.is_empty() {
                return Some(tag);
            }
        }
        None
    }
}

/// Inlined into `parse_line`, its only caller: left to itself the compiler stopped inlining it
/// once the crate grew, at about 11 instructions a line (measured with callgrind).
#[inline]
pub(super) fn parse_metric(line: &[u8]) -> Result<Metric<'_>, ParseError> {
    let pipe = find(line, b'|');
    let head = &line[..pipe.unwrap_or(line.len())];
    let colon = find(head, b':').ok_or(ParseError::MissingValue)?;
    let name = &head[..colon];
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    let value = &head[colon + 1..];
    if value.is_empty() {
        return Err(ParseError::MissingValue);
    }
    let pipe = pipe.ok_or(ParseError::MissingType)?;
    let after = &line[pipe + 1..];
    let (kind, mut fields) = match find(after, b'|') {
        Some(i) => (&after[..i], Some(&after[i + 1..])),
        None => (after, None),
    };
    if kind.is_empty() {
        return Err(ParseError::MissingType);
    }
    let kind = MetricType::from_wire(kind).ok_or(ParseError::UnknownType)?;
    let name = str::from_utf8(name).map_err(|_| ParseError::InvalidUtf8)?;

    let (first, first_signed, rest) = if kind == MetricType::Set {
        (0.0, false, value)
    } else {
        let (first, rest) = match find(value, b':') {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, &[][..]),
        };
        let parsed = parse_number(first)?;
        if value.len() > first.len() {
            // Packed values: validate every one before the line is used.
            for chunk in rest.split(|&b| b == b':') {
                parse_number(chunk)?;
            }
        }
        (parsed, is_signed(first), rest)
    };

    let mut metric = Metric {
        name,
        kind,
        sample_rate: 1.0,
        container: None,
        timestamp: None,
        raw_tags: "",
        tag_count: 0,
        first,
        first_signed,
        rest,
    };
    let (mut seen_rate, mut seen_tags) = (false, false);
    while let Some(remaining) = fields {
        let (field, next) = match find(remaining, b'|') {
            Some(i) => (&remaining[..i], Some(&remaining[i + 1..])),
            None => (remaining, None),
        };
        fields = next;
        match field {
            [] => return Err(ParseError::EmptyField),
            [b'@', rate @ ..] => {
                if std::mem::replace(&mut seen_rate, true) {
                    return Err(ParseError::DuplicateField);
                }
                metric.sample_rate = parse_sample_rate(rate)?;
            }
            [b'#', tags @ ..] => {
                if std::mem::replace(&mut seen_tags, true) {
                    return Err(ParseError::DuplicateField);
                }
                metric.raw_tags = str::from_utf8(tags).map_err(|_| ParseError::InvalidUtf8)?;
                metric.tag_count = count_tags(tags)?;
            }
            [b'c', b':', id @ ..] => {
                if metric.container.is_some() {
                    return Err(ParseError::DuplicateField);
                }
                metric.container = Some(parse_container(id)?);
            }
            [b'T', ts @ ..] => {
                if metric.timestamp.is_some() {
                    return Err(ParseError::DuplicateField);
                }
                metric.timestamp = Some(parse_unix_seconds(ts).ok_or(ParseError::BadTimestamp)?);
            }
            _ => {} // A newer extension: ignored on purpose (see the parser module docs).
        }
    }
    Ok(metric)
}

fn parse_sample_rate(raw: &[u8]) -> Result<f64, ParseError> {
    match parse_number(raw) {
        Ok(rate) if rate > 0.0 && rate <= 1.0 => Ok(rate),
        _ => Err(ParseError::BadSampleRate),
    }
}

/// Counts the non-empty comma-separated tags, refusing more than [`MAX_TAGS`].
fn count_tags(raw: &[u8]) -> Result<usize, ParseError> {
    let mut count = 0;
    let mut in_tag = false;
    for &b in raw {
        if b == b',' {
            in_tag = false;
        } else if !in_tag {
            in_tag = true;
            count += 1;
        }
    }
    if count > MAX_TAGS { Err(ParseError::TooManyTags) } else { Ok(count) }
}

fn parse_container(raw: &[u8]) -> Result<&str, ParseError> {
    if raw.is_empty() || raw.len() > MAX_CONTAINER_ID_BYTES || !raw.iter().all(u8::is_ascii_graphic) {
        return Err(ParseError::BadContainer);
    }
    // All printable ASCII, so valid UTF-8.
    str::from_utf8(raw).map_err(|_| ParseError::BadContainer)
}

pub(super) fn parse_tag_list(raw: &[u8]) -> Result<Vec<String>, ParseError> {
    count_tags(raw)?;
    let tags = str::from_utf8(raw).map_err(|_| ParseError::InvalidUtf8)?;
    Ok(Tags { rest: tags }.map(str::to_owned).collect())
}
