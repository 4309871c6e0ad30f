//! The StatsD/DogStatsD parser: one pure function from a datagram's bytes to items, for every
//! dialect sluice accepts.
//!
//! ```text
//! name:value[:value…]|type[|@rate][|#tag:v,tag2][|c:container][|T<unix seconds>]
//! _e{title_len,text_len}:title|text[|d:ts][|h:host][|k:key][|p:priority][|s:source][|t:alert][|#tags]
//! _sc|name|status[|d:ts][|h:host][|#tags][|m:message]
//! ```
//!
//! A datagram holds lines separated by `\n` (a trailing `\r` is tolerated, empty lines are
//! skipped). Each line is parsed on its own: a malformed line yields one [`ParseError`] and the
//! following lines are still parsed. Metrics borrow the datagram and allocate nothing; events
//! and service checks are rare and own their strings.
//!
//! Decisions a client may notice:
//! - Types are `c g ms h d s`, case-sensitive.
//! - Numeric values are what `str::parse::<f64>` gives and must be finite. Several values may
//!   be packed in one line (`name:1:2:3|ms`); every value is validated before any is used, so
//!   one bad value rejects the whole line. A leading `+` or `-` on a gauge value makes it a
//!   delta.
//! - A set's value is its member, taken verbatim (a member may contain `:`), so sets are not
//!   value-packed.
//! - A sample rate must satisfy `0 < rate ≤ 1`; it is carried for every type (the window
//!   ignores it for gauges and sets).
//! - Empty tags (`#a,,b`, a trailing comma) are skipped; tags are kept as sent.
//! - Each extension field may appear once. Fields this parser does not know (newer DogStatsD
//!   fields such as `e:` or `card:`) are ignored, so newer clients keep working.

use std::str;

use backends::{Event, ServiceCheck};

/// Longest line accepted, in bytes; a longer line is [`ParseError::LineTooLong`].
pub const MAX_LINE_BYTES: usize = 64 * 1024;
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

/// Why a line was rejected; one variant per distinct mistake, counted by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The line is longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// The name, a tag, a title or another text field is not valid UTF-8.
    InvalidUtf8,
    /// Nothing before the `:`.
    EmptyName,
    /// No `:` before the first `|`, or nothing between them (`name|c`, `name:|c`).
    MissingValue,
    /// No `|type` after the value, or an empty type.
    MissingType,
    /// A type other than `c g ms h d s`.
    UnknownType,
    /// A value (or one of several packed values) is not a number.
    BadValue,
    /// A value is NaN or infinite, or overflows `f64`.
    NonFiniteValue,
    /// `@rate` is not a number with `0 < rate ≤ 1`.
    BadSampleRate,
    /// Two `|` with nothing between them, or a trailing `|`.
    EmptyField,
    /// An extension field (`@`, `#`, `c:`, `T`) given twice.
    DuplicateField,
    /// More than [`MAX_TAGS`] tags.
    TooManyTags,
    /// `|c:` is empty, longer than [`MAX_CONTAINER_ID_BYTES`], or holds a byte outside
    /// printable ASCII.
    BadContainer,
    /// `|T` is not a non-negative integer number of seconds that fits `i64`.
    BadTimestamp,
    /// A malformed `_e{…}` event.
    BadEvent,
    /// A malformed `_sc|…` service check.
    BadServiceCheck,
}

impl ParseError {
    /// Number of reasons.
    pub const COUNT: usize = 16;

    /// Every reason, in [`ParseError::index`] order.
    pub const ALL: [ParseError; Self::COUNT] = [
        Self::LineTooLong,
        Self::InvalidUtf8,
        Self::EmptyName,
        Self::MissingValue,
        Self::MissingType,
        Self::UnknownType,
        Self::BadValue,
        Self::NonFiniteValue,
        Self::BadSampleRate,
        Self::EmptyField,
        Self::DuplicateField,
        Self::TooManyTags,
        Self::BadContainer,
        Self::BadTimestamp,
        Self::BadEvent,
        Self::BadServiceCheck,
    ];

    /// The `reason` label, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LineTooLong => "line_too_long",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::EmptyName => "empty_name",
            Self::MissingValue => "missing_value",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::BadValue => "bad_value",
            Self::NonFiniteValue => "non_finite_value",
            Self::BadSampleRate => "bad_sample_rate",
            Self::EmptyField => "empty_field",
            Self::DuplicateField => "duplicate_field",
            Self::TooManyTags => "too_many_tags",
            Self::BadContainer => "bad_container",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadEvent => "bad_event",
            Self::BadServiceCheck => "bad_service_check",
        }
    }

    /// The position of this reason in [`ParseError::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Every label, in [`ParseError::index`] order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = {
        let mut labels = [""; Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            labels[i] = Self::ALL[i].as_str();
            i += 1;
        }
        labels
    };
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ParseError {}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// A metric line; borrows the datagram.
    Metric(Metric<'a>),
    /// A DogStatsD event (boxed: rare and large).
    Event(Box<Event>),
    /// A DogStatsD service check (boxed: rare and large).
    ServiceCheck(Box<ServiceCheck>),
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

/// Parses every line of `datagram`; see the module docs for the grammar.
pub fn parse_datagram(datagram: &[u8]) -> Lines<'_> {
    Lines { rest: datagram }
}

/// The lines of a datagram, each parsed: returned by [`parse_datagram`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<Item<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (line, rest) = match find(self.rest, b'\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                return Some(parse_line(line));
            }
        }
        None
    }
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<Item<'_>, ParseError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(ParseError::LineTooLong);
    }
    if line.starts_with(b"_e{") {
        return parse_event(line).map(|e| Item::Event(Box::new(e)));
    }
    if line.starts_with(b"_sc|") {
        return parse_service_check(line).map(|c| Item::ServiceCheck(Box::new(c)));
    }
    parse_metric(line).map(Item::Metric)
}

fn parse_metric(line: &[u8]) -> Result<Metric<'_>, ParseError> {
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
            _ => {} // A newer extension: ignored on purpose (see the module docs).
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

/// A non-negative integer of at most 18 digits (so it fits `i64`), as Unix seconds.
fn parse_unix_seconds(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || raw.len() > 18 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0_i64, |acc, &d| acc * 10 + i64::from(d - b'0')))
}

fn is_signed(raw: &[u8]) -> bool {
    matches!(raw.first(), Some(b'+' | b'-'))
}

/// Exact powers of ten: every one up to 10²² is representable in `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a finite number exactly as `str::parse::<f64>` does.
///
/// Fast path (Clinger): a plain decimal `[+-]digits[.digits]` with at most 15 significant
/// digits is `mantissa / 10^k` with both operands exact in `f64`, so the one correctly rounded
/// division gives the correctly rounded result, the same bits `str::parse` returns. Anything
/// else (exponents, long mantissas, `inf`, `nan`) goes to `str::parse`.
fn parse_number(raw: &[u8]) -> Result<f64, ParseError> {
    let (negative, digits) = match raw.first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.len() <= 16 {
        let mut mantissa: u64 = 0;
        let mut count = 0;
        let mut fraction: Option<usize> = None;
        let mut plain = true;
        for &b in digits {
            match b {
                b'0'..=b'9' => {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    count += 1;
                    if let Some(f) = fraction.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if fraction.is_none() => fraction = Some(0),
                _ => {
                    plain = false;
                    break;
                }
            }
        }
        if plain && count > 0 && count <= 15 {
            let value = mantissa as f64 / POW10[fraction.unwrap_or(0)];
            return Ok(if negative { -value } else { value });
        }
    }
    let text = str::from_utf8(raw).map_err(|_| ParseError::BadValue)?;
    let value: f64 = text.parse().map_err(|_| ParseError::BadValue)?;
    if value.is_finite() { Ok(value) } else { Err(ParseError::NonFiniteValue) }
}

fn find(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn parse_text(raw: &[u8]) -> Result<String, ParseError> {
    str::from_utf8(raw).map(str::to_owned).map_err(|_| ParseError::InvalidUtf8)
}

fn parse_tag_list(raw: &[u8]) -> Result<Vec<String>, ParseError> {
    count_tags(raw)?;
    let tags = str::from_utf8(raw).map_err(|_| ParseError::InvalidUtf8)?;
    Ok(Tags { rest: tags }.map(str::to_owned).collect())
}

fn parse_length(raw: &[u8]) -> Option<usize> {
    if raw.is_empty() || raw.len() > 6 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0, |acc, &d| acc * 10 + usize::from(d - b'0')))
}

/// `_e{title_len,text_len}:title|text|…`; lengths are in bytes, the title is non-empty, `\n`
/// escapes in the text become newlines, `p:` is `normal|low`, `t:` is
/// `error|warning|info|success`, unknown fields are ignored.
fn parse_event(line: &[u8]) -> Result<Event, ParseError> {
    const BAD: ParseError = ParseError::BadEvent;
    let body = &line[3..];
    let close = find(body, b'}').ok_or(BAD)?;
    let (title_len, text_len) = {
        let lens = &body[..close];
        let comma = find(lens, b',').ok_or(BAD)?;
        (parse_length(&lens[..comma]).ok_or(BAD)?, parse_length(&lens[comma + 1..]).ok_or(BAD)?)
    };
    let rest = body[close + 1..].strip_prefix(b":").ok_or(BAD)?;
    if title_len == 0 || rest.len() < title_len + 1 + text_len {
        return Err(BAD);
    }
    let (title, rest) = rest.split_at(title_len);
    let rest = rest.strip_prefix(b"|").ok_or(BAD)?;
    let (text, rest) = rest.split_at(text_len);
    let mut event = Event {
        title: parse_text(title)?,
        text: parse_text(text)?.replace("\\n", "\n"),
        timestamp: None,
        hostname: None,
        aggregation_key: None,
        priority: None,
        source_type: None,
        alert_type: None,
        tags: Vec::new(),
    };
    if rest.is_empty() {
        return Ok(event);
    }
    let rest = rest.strip_prefix(b"|").ok_or(BAD)?;
    for field in rest.split(|&b| b == b'|') {
        match field {
            [] => return Err(BAD),
            [b'd', b':', ts @ ..] => event.timestamp = Some(parse_signed_seconds(ts).ok_or(BAD)?),
            [b'h', b':', v @ ..] => event.hostname = Some(parse_text(v)?),
            [b'k', b':', v @ ..] => event.aggregation_key = Some(parse_text(v)?),
            [b'p', b':', v @ ..] => match v {
                b"normal" | b"low" => event.priority = Some(parse_text(v)?),
                _ => return Err(BAD),
            },
            [b's', b':', v @ ..] => event.source_type = Some(parse_text(v)?),
            [b't', b':', v @ ..] => match v {
                b"error" | b"warning" | b"info" | b"success" => event.alert_type = Some(parse_text(v)?),
                _ => return Err(BAD),
            },
            [b'#', tags @ ..] => event.tags = parse_tag_list(tags)?,
            _ => {}
        }
    }
    Ok(event)
}

/// `_sc|name|status|…`; status is `0..=3`, `m:` takes the rest of the line (it may contain
/// `|`), unknown fields are ignored.
fn parse_service_check(line: &[u8]) -> Result<ServiceCheck, ParseError> {
    const BAD: ParseError = ParseError::BadServiceCheck;
    let rest = &line[4..];
    let (name, rest) = split_field(rest);
    if name.is_empty() {
        return Err(BAD);
    }
    let (status, mut rest) = split_field(rest.ok_or(BAD)?);
    let status = match status {
        [d @ b'0'..=b'3'] => d - b'0',
        _ => return Err(BAD),
    };
    let mut check = ServiceCheck {
        name: parse_text(name)?,
        status,
        timestamp: None,
        hostname: None,
        message: None,
        tags: Vec::new(),
    };
    while let Some(remaining) = rest {
        if let Some(message) = remaining.strip_prefix(b"m:") {
            check.message = Some(parse_text(message)?.replace("\\n", "\n"));
            break;
        }
        let (field, next) = split_field(remaining);
        rest = next;
        match field {
            [] => return Err(BAD),
            [b'd', b':', ts @ ..] => check.timestamp = Some(parse_signed_seconds(ts).ok_or(BAD)?),
            [b'h', b':', v @ ..] => check.hostname = Some(parse_text(v)?),
            [b'#', tags @ ..] => check.tags = parse_tag_list(tags)?,
            _ => {}
        }
    }
    Ok(check)
}

fn split_field(raw: &[u8]) -> (&[u8], Option<&[u8]>) {
    match find(raw, b'|') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    }
}

fn parse_signed_seconds(raw: &[u8]) -> Option<i64> {
    match raw {
        [b'-', digits @ ..] => parse_unix_seconds(digits).map(|v| -v),
        _ => parse_unix_seconds(raw),
    }
}

#[cfg(test)]
mod tests;
