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

mod bytes;
mod datagram;
mod error;
mod event;
mod metric;
mod number;
#[cfg(test)]
mod tests;

pub use datagram::{Item, Lines, MAX_LINE_BYTES, parse_datagram, parse_line};
pub use error::ParseError;
pub use metric::{GaugeUpdate, MAX_CONTAINER_ID_BYTES, MAX_TAGS, Metric, MetricType, Tags};
