use std::sync::Arc;

use super::encode::MAX_LINES_PER_BATCH;
use super::encode::percentile_field;
use super::service::partial_write_dropped;
use super::{Api, InfluxDb, InfluxDbConfig, Payload, Precision, encode};
use crate::backend::{Backend, Encoded};
use crate::model::{Series, SeriesKey, Summary, SummaryKind, Value, Window};
use crate::secret::Secret;
use crate::sketch::Sketch;

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

fn summary(kind: SummaryKind, count: f64, sum: f64, min: f64, max: f64, percentiles: &[(f64, f64)]) -> Value {
    Value::Summary(Box::new(Summary {
        kind,
        count,
        sum,
        min,
        max,
        percentiles: percentiles.to_vec(),
        buckets: vec![(10.0, 1.0)],
        sketch: Sketch::new(),
    }))
}

/// The window `docs/translation.md` shows, one series of each type.
fn golden_window() -> Window {
    Window {
        id: 3,
        start_ms: 1_763_823_600_000,
        end_ms: 1_763_823_610_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series: vec![
            Series { key: key("app.hits", &["canary", "route:/home"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("app.temp", &[]), value: Value::Gauge { value: -1.5 } },
            Series { key: key("app.users", &["env:staging"]), value: Value::Set { count: 2, members: vec![7, 9] } },
            Series {
                key: key("app.latency", &["host:db-2"]),
                value: summary(SummaryKind::Timer, 4.0, 100.0, 10.0, 40.0, &[(50.0, 25.0), (99.9, 39.5)]),
            },
            Series {
                key: key("app.size", &[]),
                value: summary(SummaryKind::Distribution, 0.5, 2.25, 4.5, 4.5, &[(50.0, 4.5)]),
            },
        ],
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn config(extra: &str) -> InfluxDbConfig {
    toml::from_str(&format!("url = \"http://127.0.0.1:8086\"\n{extra}")).unwrap()
}

fn backend(extra: &str) -> InfluxDb {
    InfluxDb::new(&config(extra), crate::delivery::http::client().unwrap()).unwrap()
}

fn text(batches: &[Encoded<Payload>]) -> Vec<String> {
    batches.iter().map(|b| String::from_utf8(b.payload.text.to_vec()).unwrap()).collect()
}

/// The exact line protocol of a window with one series of each type (the golden example in
/// `docs/translation.md`): fields per type, tag precedence, bare tags, timestamp in ms.
#[test]
fn window_encodes_to_the_documented_line_protocol() {
    let encoding = encode(&golden_window(), Precision::Ms, 5000);
    assert_eq!(encoding.batches.len(), 1);
    assert_eq!(encoding.batches[0].lines, 5);
    assert_eq!(
        String::from_utf8(encoding.batches[0].text.clone()).unwrap(),
        "app.hits,canary=true,env=prod,host=web-1,route=/home value=30,rate=3 1763823610000\n\
         app.temp,env=prod,host=web-1 value=-1.5 1763823610000\n\
         app.users,env=staging,host=web-1 value=2 1763823610000\n\
         app.latency,env=prod,host=db-2 count=4,sum=100,min=10,max=40,mean=25,p50=25,p99_9=39.5 1763823610000\n\
         app.size,env=prod,host=web-1 count=0.5,sum=2.25,min=4.5,max=4.5,mean=4.5,p50=4.5 1763823610000\n"
    );
    assert_eq!((encoding.skipped_fields, encoding.skipped_series), (0, 0));
}

/// The example in `docs/translation.md` is exactly what the encoder writes.
#[test]
fn translation_doc_example_matches_the_encoder() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/translation.md")).unwrap();
    let block =
        doc.split("<!-- influxdb-golden -->\n```text\n").nth(1).expect("the golden block").split("```").next().unwrap();
    let encoding = encode(&golden_window(), Precision::Ms, 5000);
    assert_eq!(block, String::from_utf8(encoding.batches[0].text.clone()).unwrap());
}

/// Commas, spaces and equals signs in names and tags are escaped by the line-protocol
/// builder; a backslash becomes `/`; an empty tag value is left out.
#[test]
fn special_characters_are_escaped() {
    let mut window = golden_window();
    window.tags = Arc::new([]);
    window.series = vec![Series {
        key: key("my metric,x\\", &["a b:c,d=e", "empty:", "path:C:\\tmp"]),
        value: Value::Gauge { value: 1.0 },
    }];
    let encoding = encode(&window, Precision::S, 5000);
    assert_eq!(
        String::from_utf8(encoding.batches[0].text.clone()).unwrap(),
        "my\\ metric\\,x/,a\\ b=c\\,d\\=e,host=web-1,path=C:/tmp value=1 1763823610\n"
    );
}

/// NaN and infinities are left out of a line and counted; a series with no finite value
/// gets no line and is counted too.
#[test]
fn non_finite_values_are_skipped_and_counted() {
    let mut window = golden_window();
    window.series = vec![
        Series { key: key("a", &[]), value: Value::Counter { sum: 1.0, rate: f64::INFINITY } },
        Series { key: key("b", &[]), value: Value::Gauge { value: f64::NAN } },
        Series {
            key: key("c", &[]),
            value: summary(SummaryKind::Histogram, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, &[]),
        },
    ];
    let encoding = encode(&window, Precision::Ms, 5000);
    assert_eq!(
        String::from_utf8(encoding.batches[0].text.clone()).unwrap(),
        "a,env=prod,host=web-1 value=1 1763823610000\nc,env=prod,host=web-1 count=0,sum=0,mean=0 1763823610000\n"
    );
    assert_eq!(encoding.batches[0].lines, 2);
    assert_eq!((encoding.skipped_fields, encoding.skipped_series), (4, 1));
}

/// Timestamps follow `precision`: the window end in s, ms, µs or ns.
#[test]
fn timestamp_is_the_window_end_in_the_configured_precision() {
    assert_eq!(Precision::S.timestamp(1_500_999), 1_500);
    assert_eq!(Precision::Ms.timestamp(1_500_999), 1_500_999);
    assert_eq!(Precision::Us.timestamp(1_500_999), 1_500_999_000);
    assert_eq!(Precision::Ns.timestamp(1_500_999), 1_500_999_000_000);
}

/// Percentile fields are `pNN`, with `_` for the decimal point.
#[test]
fn percentile_fields_are_named_pnn() {
    assert_eq!(percentile_field(50.0), "p50");
    assert_eq!(percentile_field(99.9), "p99_9");
    assert_eq!(percentile_field(99.99), "p99_99");
    assert_eq!(percentile_field(100.0), "p100");
}

/// A window of 12 001 series becomes batches of 5000, 5000 and 2001 lines.
#[test]
fn batches_hold_at_most_5000_lines() {
    let mut window = golden_window();
    window.series = (0..12_001)
        .map(|i| Series { key: key(&format!("m{i}"), &[]), value: Value::Gauge { value: f64::from(i) } })
        .collect();
    let encoding = encode(&window, Precision::Ms, MAX_LINES_PER_BATCH);
    let lines: Vec<u64> = encoding.batches.iter().map(|b| b.lines).collect();
    assert_eq!(lines, vec![5000, 5000, 2001]);
    for batch in &encoding.batches {
        assert_eq!(String::from_utf8_lossy(&batch.text).lines().count() as u64, batch.lines);
    }
}

/// `split` halves a batch at a line boundary, recompresses each half, and gives a single
/// line back.
#[test]
fn split_halves_a_batch_at_a_line_boundary() {
    let mut influx = backend("database = \"db\"");
    let mut window = golden_window();
    window.series.truncate(3);
    let batch = influx.encode(&window).unwrap().remove(0);
    assert_eq!(batch.series, 3);
    let (first, second) = influx.split(batch).unwrap();
    assert_eq!((first.series, second.series), (1, 2));
    let halves = text(&[first.clone(), second]);
    assert!(halves[0].starts_with("app.hits,") && halves[0].lines().count() == 1, "{halves:?}");
    assert!(halves[1].starts_with("app.temp,") && halves[1].lines().count() == 2, "{halves:?}");
    let mut gunzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&first.payload.body[..]), &mut gunzipped).unwrap();
    assert_eq!(gunzipped, halves[0]);
    assert_eq!(influx.split(first).unwrap_err().series, 1);
}

/// v1 writes to `/write?db=&rp=&precision=` (µs spelt `u`), v2 to
/// `/api/v2/write?org=&bucket=&precision=`; a path prefix in `url` is kept.
#[test]
fn write_urls_follow_the_api_version() {
    assert_eq!(backend("database = \"db\"").url().as_str(), "http://127.0.0.1:8086/write?db=db&precision=ms");
    assert_eq!(
        backend("database = \"my db\"\nretention_policy = \"week\"\nprecision = \"us\"").url().as_str(),
        "http://127.0.0.1:8086/write?db=my+db&rp=week&precision=u"
    );
    let v2: InfluxDbConfig = toml::from_str(
        "url = \"https://influx.example/prefix/\"\norg = \"acme\"\nbucket = \"b\"\ntoken = \"t\"\nprecision = \"us\"",
    )
    .unwrap();
    let v2 = InfluxDb::new(&v2, crate::delivery::http::client().unwrap()).unwrap();
    assert_eq!(v2.url().as_str(), "https://influx.example/prefix/api/v2/write?org=acme&bucket=b&precision=us");
}

/// Defaults: gzip on, 10 s timeout, ms precision; the keys pick v1 or v2.
#[test]
fn defaults_and_api_selection() {
    let c = config("database = \"db\"");
    assert!(c.gzip);
    assert_eq!(c.timeout.0, std::time::Duration::from_secs(10));
    assert_eq!(c.precision, Precision::Ms);
    assert_eq!(c.api().unwrap(), Api::V1 { database: "db", retention_policy: None, credentials: None });
    let c = config("database = \"db\"\nusername = \"u\"\npassword = \"p\"");
    assert_eq!(
        c.api().unwrap(),
        Api::V1 { database: "db", retention_policy: None, credentials: Some(("u", &Secret::from("p"))) }
    );
    let c = config("org = \"o\"\nbucket = \"b\"\ntoken = \"t\"");
    assert_eq!(c.api().unwrap(), Api::V2 { org: "o", bucket: "b", token: &Secret::from("t") });
}

/// Mixed, incomplete or empty keys are refused with a message naming the key.
#[test]
fn mixed_or_missing_keys_are_refused_with_the_key_named() {
    let cases = [
        (
            "",
            None,
            "missing the target: set \"database\" (InfluxDB 1.x) or \"org\", \"bucket\" and \"token\" (InfluxDB 2.x)",
        ),
        (
            "database = \"db\"\ntoken = \"t\"",
            Some("token"),
            "\"token\" (InfluxDB 2.x) cannot be combined with \"database\" (InfluxDB 1.x); keep either database \
             [retention_policy, username, password] or org, bucket and token",
        ),
        (
            "org = \"o\"\ntoken = \"t\"",
            None,
            "missing required key \"bucket\": InfluxDB 2.x needs \"org\", \"bucket\" and \"token\"",
        ),
        (
            "username = \"u\"\npassword = \"p\"",
            None,
            "missing required key \"database\" (InfluxDB 1.x), which the other keys need",
        ),
        ("database = \"db\"\nusername = \"u\"", Some("username"), "\"username\" needs \"password\" too"),
        ("database = \"\"", Some("database"), "\"database\" must not be empty; remove the key instead"),
    ];
    for (extra, key, message) in cases {
        let err = config(extra).api().unwrap_err();
        assert_eq!((err.key, err.message.as_str()), (key, message), "{extra}");
    }
    let err = InfluxDbConfig { url: "localhost:8086".into(), ..config("database = \"db\"") }.api().unwrap_err();
    assert_eq!(err.key, Some("url"));
    assert!(toml::from_str::<InfluxDbConfig>("url = \"http://h\"\ndatabase = \"d\"\ndatabse = \"d\"").is_err());
    assert!(toml::from_str::<InfluxDbConfig>("url = \"http://h\"\ndatabase = \"d\"\nprecision = \"m\"").is_err());
}

/// The dropped count of a partial write comes from `dropped=N`, else from the parse errors.
#[test]
fn partial_write_dropped_count_is_read_from_the_body() {
    let conflict = r#"{"error":"partial write: field type conflict: input field \"value\" on measurement \"m\" is type float, already exists as type string dropped=3"}"#;
    assert_eq!(partial_write_dropped(conflict), 3);
    let parse = "{\"error\":\"partial write: unable to parse 'a b': invalid field format\\nunable to parse 'c d': invalid field format\"}";
    assert_eq!(partial_write_dropped(parse), 2);
    assert_eq!(partial_write_dropped("partial write"), 1);
}

/// An explicit-bucket histogram over bounds 0.1 and 0.25: 3, 1 and 2 observations per
/// bucket (the last above 0.25), summing to 1.5, with or without the client's extremes.
fn explicit_buckets(extremes: Option<(f64, f64)>) -> Value {
    Value::Buckets(Box::new(crate::model::Buckets {
        bounds: Arc::from(&[0.1, 0.25][..]),
        counts: vec![3, 1, 2],
        sum: 1.5,
        min: extremes.map(|e| e.0),
        max: extremes.map(|e| e.1),
    }))
}

/// An explicit-bucket histogram is one line: count, sum, the client's extremes when known,
/// mean, and a cumulative `le_<bound>` field per bound.
#[test]
fn explicit_buckets_encode_to_count_sum_and_cumulative_le_fields() {
    let mut window = golden_window();
    window.series = vec![
        Series { key: key("rpc.seconds", &[]), value: explicit_buckets(Some((0.05, 0.9))) },
        Series { key: key("rpc.bare", &[]), value: explicit_buckets(None) },
    ];
    let encoding = encode(&window, Precision::Ms, 5000);
    assert_eq!(
        String::from_utf8(encoding.batches[0].text.clone()).unwrap(),
        "rpc.seconds,env=prod,host=web-1 count=6,sum=1.5,min=0.05,max=0.9,mean=0.25,le_0_1=3,le_0_25=4 1763823610000\n\
         rpc.bare,env=prod,host=web-1 count=6,sum=1.5,mean=0.25,le_0_1=3,le_0_25=4 1763823610000\n"
    );
}
