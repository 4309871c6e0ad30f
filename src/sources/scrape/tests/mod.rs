//! Tests of the scrape source: both text formats, bad lines, and each family's conversion.

mod convert;
mod parse;
mod run;
