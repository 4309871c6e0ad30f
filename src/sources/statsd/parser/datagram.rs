//! A datagram into lines, and each line to the parser of its kind.

use backends::{Event, ServiceCheck};

use super::bytes::find;
use super::error::ParseError;
use super::event::{parse_event, parse_service_check};
use super::metric::{Metric, parse_metric};

/// Longest line accepted, in bytes; a longer line is [`ParseError::LineTooLong`].
pub const MAX_LINE_BYTES: usize = 64 * 1024;

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

/// Parses every line of `datagram`; see the [module docs](super) for the grammar.
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
