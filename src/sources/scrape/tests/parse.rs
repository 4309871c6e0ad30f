//! The text formats: lines, labels and their escapes, special values, bad lines.

use std::borrow::Cow;

use crate::sources::scrape::parse::{Format, Line, MetricType, ParseError, Parser, sample_lines};

/// Every line of `body` as `Ok((name, labels, value))`, `Ok` of a type line as
/// `("TYPE family", [kind], 0)`, or the error.
/// A line as the tests compare it: name, labels, value.
type Read = (String, Vec<(String, String)>, f64);

fn lines(body: &str, format: Format) -> Vec<Result<Read, ParseError>> {
    let mut parser = Parser::new(body.as_bytes(), format);
    let mut out = Vec::new();
    while let Some(line) = parser.next() {
        out.push(line.map(|line| match line {
            Line::Type { family, kind } => (format!("TYPE {family}"), vec![(format!("{kind:?}"), String::new())], 0.0),
            Line::Sample { name, value } => {
                let labels = parser.labels().iter().map(|(k, v)| ((*k).to_owned(), v.to_string())).collect();
                (name.to_owned(), labels, value)
            }
        }));
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The text format as prom-client writes it: HELP skipped, TYPE kept, labels, timestamps
/// ignored, a trailing comma and spaces in a label set tolerated.
#[test]
fn the_text_format_reads_types_samples_and_labels() {
    let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
                http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n\
                http_requests_total{ method = \"POST\" , } 3\n\
                \n   # a comment\nmemory_bytes 1.5e3\n";
    assert_eq!(
        lines(body, Format::Text),
        [
            Ok(("TYPE http_requests_total".to_owned(), labels(&[("Counter", "")]), 0.0)),
            Ok(("http_requests_total".to_owned(), labels(&[("method", "GET"), ("code", "200")]), 1027.0)),
            Ok(("http_requests_total".to_owned(), labels(&[("method", "POST")]), 3.0)),
            Ok(("memory_bytes".to_owned(), vec![], 1500.0)),
        ]
    );
}

/// Label values unescape backslash, quote and newline, keep an unknown escape as written, and
/// borrow the body when they hold no escape.
#[test]
fn label_values_are_unescaped() {
    let body = r#"x{path="C:\\dir\"q\"",text="a\nb",other="\d",plain="p"} 1"#;
    let mut parser = Parser::new(body.as_bytes(), Format::Text);
    assert_eq!(parser.next(), Some(Ok(Line::Sample { name: "x", value: 1.0 })));
    let got = parser.labels();
    assert_eq!(got[0], ("path", Cow::Owned("C:\\dir\"q\"".to_owned())));
    assert_eq!(got[1].1, "a\nb");
    assert_eq!(got[2].1, "\\d");
    assert!(matches!(got[3].1, Cow::Borrowed("p")));
}

/// `NaN`, `+Inf` and `-Inf` are values; Rust's other spellings are not.
#[test]
fn special_values_are_read() {
    let got = lines("a NaN\nb +Inf\nc -Inf\nd inf\ne 1e-3\n", Format::Text);
    assert!(got[0].as_ref().unwrap().2.is_nan());
    assert_eq!(got[1].as_ref().unwrap().2, f64::INFINITY);
    assert_eq!(got[2].as_ref().unwrap().2, f64::NEG_INFINITY);
    assert_eq!(got[3], Err(ParseError::BadValue));
    assert_eq!(got[4].as_ref().unwrap().2, 0.001);
}

/// OpenMetrics: `# UNIT` skipped, exemplars skipped, float timestamps, nothing after `# EOF`.
#[test]
fn openmetrics_skips_exemplars_and_stops_at_eof() {
    let body = "# TYPE rpc histogram\n# UNIT rpc seconds\n\
                rpc_bucket{le=\"0.5\"} 3 # {trace_id=\"abc\"} 0.2 1.6e9\n\
                rpc_bucket{le=\"+Inf\"} 4 1.6e9\n# EOF\nafter 1\n";
    let got = lines(body, Format::OpenMetrics);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1], Ok(("rpc_bucket".to_owned(), labels(&[("le", "0.5")]), 3.0)));
    assert_eq!(got[2], Ok(("rpc_bucket".to_owned(), labels(&[("le", "+Inf")]), 4.0)));
    // In the text format `#` after a value is no exemplar, and `# EOF` a comment.
    let text = lines("a 1 # {x=\"y\"} 1\n# EOF\nb 2\n", Format::Text);
    assert_eq!(text[0], Err(ParseError::BadTimestamp));
    assert_eq!(text[1], Ok(("b".to_owned(), vec![], 2.0)));
}

/// Each malformed line is one error; the lines around it are read.
#[test]
fn a_malformed_line_is_skipped_alone() {
    use ParseError::{BadLabels, BadName, BadTimestamp, BadType, BadValue, NotUtf8};
    let body =
        "ok 1\n9bad 1\nx{a=\"1\" 2\nx{a=1} 2\nnovalue\nx 1 notatime\n# TYPE y flux\n# TYPE\nx{a=\"\\\"} 1\nok 2\n";
    let mut body = body.as_bytes().to_vec();
    body.extend_from_slice(b"\xff 1\nok 3");
    let mut parser = Parser::new(&body, Format::Text);
    let mut got = Vec::new();
    while let Some(line) = parser.next() {
        got.push(line.map(|_| ()));
    }
    assert_eq!(
        got,
        [
            Ok(()),
            Err(BadName),
            Err(BadLabels),
            Err(BadLabels),
            Err(BadValue),
            Err(BadTimestamp),
            Err(BadType),
            Err(BadType),
            Err(BadLabels),
            Ok(()),
            Err(NotUtf8),
            Ok(()),
        ]
    );
}

/// The response's Content-Type picks the format; anything but OpenMetrics is the text format.
#[test]
fn the_content_type_picks_the_format() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"), Format::Text);
    assert_eq!(Format::from_content_type(""), Format::Text);
    let mut parser = Parser::new(b"# TYPE s summary\n", Format::Text);
    assert_eq!(parser.next(), Some(Ok(Line::Type { family: "s", kind: MetricType::Summary })));
}

/// `sample_limit` counts the lines that are not blank or comments; OpenMetrics' `# EOF` ends
/// them, the text format's does not (its parser reads on).
#[test]
fn sample_lines_are_counted_as_the_parser_reads_them() {
    let body = b"# TYPE a counter\na_total 1\n\n  b 2\n# EOF\nc 3\n";
    assert_eq!(sample_lines(body, Format::OpenMetrics), 2);
    assert_eq!(sample_lines(body, Format::Text), 3);
}
