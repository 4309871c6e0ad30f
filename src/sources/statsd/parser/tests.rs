use backends::{Event, ServiceCheck};

use super::number::parse_number;
use super::*;

fn metric(line: &str) -> Metric<'_> {
    match parse_line(line.as_bytes()) {
        Ok(Item::Metric(m)) => m,
        other => panic!("{line:?} gave {other:?}"),
    }
}

fn error(line: &[u8]) -> ParseError {
    match parse_line(line) {
        Err(e) => e,
        Ok(item) => panic!("{line:?} parsed as {item:?}"),
    }
}

fn values(m: &Metric<'_>) -> Vec<f64> {
    m.values().collect()
}

/// Every StatsD type is recognised with its wire spelling.
#[test]
fn every_type_is_recognised() {
    for (line, kind) in [
        ("a:1|c", MetricType::Counter),
        ("a:1|g", MetricType::Gauge),
        ("a:1|ms", MetricType::Timer),
        ("a:1|h", MetricType::Histogram),
        ("a:1|d", MetricType::Distribution),
        ("a:1|s", MetricType::Set),
    ] {
        let m = metric(line);
        assert_eq!(m.kind, kind, "{line}");
        assert_eq!(m.kind.as_str(), &line[4..]);
        assert_eq!(m.name, "a");
        assert_eq!(m.sample_rate, 1.0);
        assert_eq!(m.container, None);
        assert_eq!(m.timestamp, None);
        assert_eq!(m.tag_count(), 0);
    }
}

/// A plain counter carries its name and exact value.
#[test]
fn counter_line_carries_name_and_value() {
    let m = metric("page.views:42|c");
    assert_eq!(m.name, "page.views");
    assert_eq!(values(&m), [42.0]);
    assert_eq!(m.sample_count(), 1);
    assert_eq!(m.member(), None);
}

/// Packed values are yielded in order, each parsed.
#[test]
fn packed_values_are_yielded_in_order() {
    let m = metric("lat:1:2.5:-3|ms");
    assert_eq!(values(&m), [1.0, 2.5, -3.0]);
    assert_eq!(m.sample_count(), 3);
}

/// One bad packed value rejects the whole line, wherever it is.
#[test]
fn one_bad_packed_value_rejects_the_line() {
    assert_eq!(error(b"lat:1:x:3|ms"), ParseError::BadValue);
    assert_eq!(error(b"lat:1:2:|ms"), ParseError::BadValue);
    assert_eq!(error(b"lat:1::2|ms"), ParseError::BadValue);
    assert_eq!(error(b"lat:1:2:nan|ms"), ParseError::NonFiniteValue);
}

/// Signed gauge values are deltas, unsigned ones set the gauge.
#[test]
fn gauge_sign_makes_a_delta() {
    let m = metric("g:5:+3:-2:0|g");
    let updates: Vec<_> = m.gauge_updates().collect();
    assert_eq!(
        updates,
        [GaugeUpdate::Set(5.0), GaugeUpdate::Delta(3.0), GaugeUpdate::Delta(-2.0), GaugeUpdate::Set(0.0)]
    );
    assert_eq!(metric("g:-4|g").gauge_updates().collect::<Vec<_>>(), [GaugeUpdate::Delta(-4.0)]);
}

/// A set member is taken verbatim, colons included, and yields no numeric values.
#[test]
fn set_member_is_taken_verbatim() {
    let m = metric("users:[::1]:80|s");
    assert_eq!(m.member(), Some(&b"[::1]:80"[..]));
    assert_eq!(values(&m), Vec::<f64>::new());
    assert_eq!(m.sample_count(), 1);
    assert_eq!(metric("u:not a number|s").member(), Some(&b"not a number"[..]));
}

/// The sample rate is carried, and rejected when ≤ 0, > 1 or not a number.
#[test]
fn sample_rate_is_carried_and_bounded() {
    assert_eq!(metric("a:1|c|@0.25").sample_rate, 0.25);
    assert_eq!(metric("a:1|c|@1").sample_rate, 1.0);
    for bad in ["a:1|c|@0", "a:1|c|@1.5", "a:1|c|@nan", "a:1|c|@", "a:1|c|@-0.5", "a:1|c|@x", "a:1|c|@inf"] {
        assert_eq!(error(bad.as_bytes()), ParseError::BadSampleRate, "{bad}");
    }
}

/// DogStatsD tags, bare or `k:v`, are yielded in order with empty ones skipped.
#[test]
fn tags_are_yielded_in_order_without_empties() {
    let m = metric("a:1|c|#env:prod,,bare,region:eu-west-1,");
    assert_eq!(m.tags().collect::<Vec<_>>(), ["env:prod", "bare", "region:eu-west-1"]);
    assert_eq!(m.tag_count(), 3);
    assert_eq!(m.raw_tags(), "env:prod,,bare,region:eu-west-1,");
    assert_eq!(metric("a:1|c|#").tag_count(), 0);
}

/// Container id and timestamp are parsed and carried, in any field order.
#[test]
fn container_and_timestamp_are_carried() {
    let m = metric("a:1|d|T1700000000|c:ci-abc123|#x:y|@0.5");
    assert_eq!(m.container, Some("ci-abc123"));
    assert_eq!(m.timestamp, Some(1_700_000_000));
    assert_eq!(m.sample_rate, 0.5);
    assert_eq!(m.tags().collect::<Vec<_>>(), ["x:y"]);
}

/// Unknown extension fields from newer clients are ignored, not errors.
#[test]
fn unknown_fields_are_ignored() {
    let m = metric("a:1|c|e:it-false,cn-x|card:low|#t");
    assert_eq!(values(&m), [1.0]);
    assert_eq!(m.tags().collect::<Vec<_>>(), ["t"]);
}

/// Values parse to exactly the bits `str::parse::<f64>` gives.
#[test]
fn values_match_str_parse_exactly() {
    for text in [
        "0",
        "-0",
        "+7",
        "0.1",
        "0.3",
        "123.456",
        "5.",
        ".5",
        "-.5",
        "999999999999999",
        "9999999999999999",
        "0.000000000000001",
        "1e3",
        "1E-7",
        "12345678901234567890",
        "3.141592653589793238",
        "007",
        "1.7976931348623157e308",
        "4.9e-324",
    ] {
        let want: f64 = text.parse().unwrap();
        let got = parse_number(text.as_bytes()).unwrap();
        assert_eq!(got.to_bits(), want.to_bits(), "{text}");
    }
}

/// Every error reason is produced by the mistake it names.
#[test]
fn every_error_reason_has_its_mistake() {
    let long = format!("a:1|c|#{}", "x".repeat(MAX_LINE_BYTES));
    let many_tags = format!("a:1|c|#{}", vec!["t"; MAX_TAGS + 1].join(","));
    let long_container = format!("a:1|c|c:{}", "x".repeat(MAX_CONTAINER_ID_BYTES + 1));
    let cases: Vec<(Vec<u8>, ParseError)> = vec![
        (long.into_bytes(), ParseError::LineTooLong),
        (b"a\xff:1|c".to_vec(), ParseError::InvalidUtf8),
        (b"a:1|c|#t\xfe".to_vec(), ParseError::InvalidUtf8),
        (b":1|c".to_vec(), ParseError::EmptyName),
        (b"name|c".to_vec(), ParseError::MissingValue),
        (b"name:|c".to_vec(), ParseError::MissingValue),
        (b"name".to_vec(), ParseError::MissingValue),
        (b"name:1".to_vec(), ParseError::MissingType),
        (b"name:1|".to_vec(), ParseError::MissingType),
        (b"name:1||@0.5".to_vec(), ParseError::MissingType),
        (b"name:1|x".to_vec(), ParseError::UnknownType),
        (b"name:1|C".to_vec(), ParseError::UnknownType),
        (b"name:1|cc".to_vec(), ParseError::UnknownType),
        (b"name:abc|c".to_vec(), ParseError::BadValue),
        (b"name:1.2.3|g".to_vec(), ParseError::BadValue),
        (b"name:+-1|g".to_vec(), ParseError::BadValue),
        (b"name:inf|g".to_vec(), ParseError::NonFiniteValue),
        (b"name:NaN|ms".to_vec(), ParseError::NonFiniteValue),
        (b"name:1e999|c".to_vec(), ParseError::NonFiniteValue),
        (b"name:1|c|@0".to_vec(), ParseError::BadSampleRate),
        (b"name:1|c||#a".to_vec(), ParseError::EmptyField),
        (b"name:1|c|".to_vec(), ParseError::EmptyField),
        (b"name:1|c|@0.5|@0.5".to_vec(), ParseError::DuplicateField),
        (b"name:1|c|#a|#b".to_vec(), ParseError::DuplicateField),
        (b"name:1|c|c:a|c:b".to_vec(), ParseError::DuplicateField),
        (b"name:1|c|T1|T2".to_vec(), ParseError::DuplicateField),
        (many_tags.into_bytes(), ParseError::TooManyTags),
        (b"name:1|c|c:".to_vec(), ParseError::BadContainer),
        (b"name:1|c|c:has space".to_vec(), ParseError::BadContainer),
        (long_container.into_bytes(), ParseError::BadContainer),
        (b"name:1|c|T".to_vec(), ParseError::BadTimestamp),
        (b"name:1|c|T-5".to_vec(), ParseError::BadTimestamp),
        (b"name:1|c|T12x".to_vec(), ParseError::BadTimestamp),
        (b"name:1|c|T99999999999999999999".to_vec(), ParseError::BadTimestamp),
        (b"_e{5,4}:title|te".to_vec(), ParseError::BadEvent),
        (b"_sc|name|7".to_vec(), ParseError::BadServiceCheck),
    ];
    let mut seen = [false; ParseError::COUNT];
    for (line, want) in cases {
        assert_eq!(error(&line), want, "{:?}", String::from_utf8_lossy(&line[..line.len().min(60)]));
        seen[want.index()] = true;
    }
    for reason in ParseError::ALL {
        assert!(seen[reason.index()], "no case for {reason}");
    }
}

/// Error labels are unique `snake_case` strings and `index` is the position in `ALL`.
#[test]
fn error_labels_are_unique_and_indexed() {
    for (i, reason) in ParseError::ALL.into_iter().enumerate() {
        assert_eq!(reason.index(), i);
        assert_eq!(ParseError::LABELS[i], reason.as_str());
        assert!(reason.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    }
    let mut labels = ParseError::LABELS.to_vec();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), ParseError::COUNT);
}

/// A datagram's lines are parsed one by one; bad lines do not hide good ones.
#[test]
fn bad_lines_do_not_hide_good_ones() {
    let datagram = b"a:1|c\r\n\nbad\nb:2|g\n:3|c\r\nc:4|ms\n";
    let results: Vec<_> = parse_datagram(datagram).collect();
    assert_eq!(results.len(), 5);
    let names: Vec<_> = results
        .iter()
        .map(|r| match r {
            Ok(Item::Metric(m)) => Ok(m.name),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(*e),
        })
        .collect();
    assert_eq!(names, [Ok("a"), Err(ParseError::MissingValue), Ok("b"), Err(ParseError::EmptyName), Ok("c")]);
}

/// Empty and newline-only datagrams yield nothing.
#[test]
fn empty_datagrams_yield_nothing() {
    assert_eq!(parse_datagram(b"").count(), 0);
    assert_eq!(parse_datagram(b"\n\r\n\n").count(), 0);
}

/// An event with every field is parsed into the backend model.
#[test]
fn event_with_every_field_is_parsed() {
    let line = b"_e{5,12}:Hello|line1\\nline2|d:1700000000|h:web-1|k:deploy|p:low|s:jenkins|t:warning|#env:prod,app";
    let Ok(Item::Event(event)) = parse_line(line) else { panic!("not an event") };
    assert_eq!(
        *event,
        Event {
            title: "Hello".into(),
            text: "line1\nline2".into(),
            timestamp: Some(1_700_000_000),
            hostname: Some("web-1".into()),
            aggregation_key: Some("deploy".into()),
            priority: Some("low".into()),
            source_type: Some("jenkins".into()),
            alert_type: Some("warning".into()),
            tags: vec!["env:prod".into(), "app".into()],
        }
    );
}

/// A minimal event needs only title and text; text may contain `|` when its length says so.
#[test]
fn minimal_event_uses_byte_lengths() {
    let Ok(Item::Event(event)) = parse_line(b"_e{2,3}:hi|a|b") else { panic!("not an event") };
    assert_eq!(event.title, "hi");
    assert_eq!(event.text, "a|b");
    assert_eq!(event.tags, Vec::<String>::new());
}

/// Malformed events are `bad_event`.
#[test]
fn malformed_events_are_rejected() {
    for bad in [
        &b"_e{5,4}:title|te"[..],
        b"_e{0,4}:|text",
        b"_e{x,4}:title|text",
        b"_e{5,4}title|text",
        b"_e{5}:title|text",
        b"_e{5,4}:title|textextra",
        b"_e{5,4}:title|text|p:urgent",
        b"_e{5,4}:title|text|t:fatal",
        b"_e{5,4}:title|text|d:soon",
        b"_e{5,4}:title|text||#a",
        b"_e{5,4:title|text",
    ] {
        assert_eq!(error(bad), ParseError::BadEvent, "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(error(b"_e{2,4}:\xff\xfe|text"), ParseError::InvalidUtf8);
}

/// A service check with every field is parsed; the message keeps its `|`.
#[test]
fn service_check_with_every_field_is_parsed() {
    let Ok(Item::ServiceCheck(check)) = parse_line(b"_sc|db.up|2|d:1700000000|h:db-1|#env:prod,role|m:down|again")
    else {
        panic!("not a service check")
    };
    assert_eq!(
        *check,
        ServiceCheck {
            name: "db.up".into(),
            status: 2,
            timestamp: Some(1_700_000_000),
            hostname: Some("db-1".into()),
            message: Some("down|again".into()),
            tags: vec!["env:prod".into(), "role".into()],
        }
    );
}

/// Malformed service checks are `bad_service_check`.
#[test]
fn malformed_service_checks_are_rejected() {
    for bad in
        [&b"_sc|name|7"[..], b"_sc||0", b"_sc|name", b"_sc|name|", b"_sc|name|01", b"_sc|name|0||h:x", b"_sc|n|0|d:x"]
    {
        assert_eq!(error(bad), ParseError::BadServiceCheck, "{}", String::from_utf8_lossy(bad));
    }
}

/// Event and service-check tag lists obey the tag cap too.
#[test]
fn event_tags_obey_the_tag_cap() {
    let line = format!("_sc|n|0|#{}", vec!["t"; MAX_TAGS + 1].join(","));
    assert_eq!(error(line.as_bytes()), ParseError::TooManyTags);
}
