use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

use super::encode::{Endpoint, distribution_values};
use super::service::rate_limit_reset;
use super::{Compression, Datadog, DatadogConfig, Payload, compress};
use crate::backend::{Backend, Encoded, SendError};
use crate::model::{Event, Series, SeriesKey, ServiceCheck, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

const END_MS: u64 = 1_763_823_610_000;

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// A summary as the aggregator builds it from `(value, weight)` samples.
fn summary(kind: SummaryKind, samples: &[(f64, f64)], percentiles: &[(f64, f64)]) -> Value {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(v, w) in samples {
        sketch.add(v, w);
        count += w;
        sum += v * w;
        min = min.min(v);
        max = max.max(v);
    }
    Value::Summary(Box::new(Summary {
        kind,
        count,
        sum,
        min,
        max,
        percentiles: percentiles.to_vec(),
        buckets: Vec::new(),
        sketch,
    }))
}

/// The window `docs/translation.md` shows: one series of each type, an event, a check.
fn golden_window() -> Window {
    Window {
        id: 3,
        start_ms: END_MS - 10_000,
        end_ms: END_MS,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series: vec![
            Series { key: key("app.hits", &["canary", "route:/home"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("app.temp", &[]), value: Value::Gauge { value: -1.5 } },
            Series { key: key("app.users", &["env:staging"]), value: Value::Set { count: 2, members: vec![7, 9] } },
            Series {
                key: key("app.latency", &["host:db-2"]),
                value: summary(
                    SummaryKind::Timer,
                    &[(10.0, 1.0), (20.0, 1.0), (30.0, 1.0), (40.0, 1.0)],
                    &[(50.0, 25.0), (95.0, 40.0)],
                ),
            },
            Series {
                key: key("app.size", &[]),
                value: summary(SummaryKind::Distribution, &[(1.0, 1.0), (4.5, 2.0)], &[]),
            },
        ],
        events: vec![Event {
            title: "Deployed".into(),
            text: "v2 is out".into(),
            timestamp: None,
            hostname: None,
            aggregation_key: None,
            priority: Some("low".into()),
            source_type: None,
            alert_type: Some("success".into()),
            tags: vec!["team:web".into()],
        }],
        service_checks: vec![ServiceCheck {
            name: "app.up".into(),
            status: 1,
            timestamp: None,
            hostname: None,
            message: Some("slow".into()),
            tags: vec![],
        }],
    }
}

fn config(extra: &str) -> DatadogConfig {
    toml::from_str(&format!("api_key = \"k\"\n{extra}")).unwrap()
}

fn backend(extra: &str) -> Datadog {
    Datadog::new(&config(extra), crate::delivery::http::client().unwrap()).unwrap()
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn decompress(compression: Compression, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match compression {
        Compression::Zstd => return zstd::stream::decode_all(body).unwrap(),
        Compression::Gzip => flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap(),
        Compression::Deflate => flate2::read::ZlibDecoder::new(body).read_to_end(&mut out).unwrap(),
    };
    out
}

/// Every request body of `batches`, by endpoint path, parsed.
fn bodies(batches: &[Encoded<Payload>]) -> BTreeMap<&'static str, Vec<Json>> {
    let mut out: BTreeMap<&'static str, Vec<Json>> = BTreeMap::new();
    for b in batches {
        out.entry(b.payload.endpoint.path()).or_default().push(serde_json::from_slice(&b.payload.json).unwrap());
    }
    out
}

/// The golden window encodes to exactly the JSON of `docs/translation.md`: types, interval,
/// the DogStatsD suffixes, the host resource, tag precedence, distribution points, the
/// event and the service check.
#[test]
fn translation_doc_example_matches_the_encoder() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/translation.md")).unwrap();
    let block =
        doc.split("<!-- datadog-golden -->\n```json\n").nth(1).expect("the golden block").split("```").next().unwrap();
    let expected: Json = serde_json::from_str(block).unwrap();
    let batches = backend("").encode_at(&golden_window(), at(END_MS)).unwrap();
    let got: BTreeMap<&str, Json> = bodies(&batches).into_iter().map(|(k, mut v)| (k, v.remove(0))).collect();
    assert_eq!(serde_json::to_value(&got).unwrap(), expected, "{}", serde_json::to_string_pretty(&got).unwrap());
    // Each window series is counted once; events and checks count none.
    assert_eq!(batches.iter().map(|b| b.series).sum::<u64>(), 5);
    assert_eq!(batches.len(), 4);
}

/// Every compression decodes back to the JSON, with its `Content-Encoding` name.
#[test]
fn each_compression_decodes_to_the_json() {
    for (name, compression) in
        [("zstd", Compression::Zstd), ("gzip", Compression::Gzip), ("deflate", Compression::Deflate)]
    {
        let mut dd = backend(&format!("compression = \"{name}\""));
        assert_eq!(compression.header(), name);
        for batch in dd.encode_at(&golden_window(), at(END_MS)).unwrap() {
            assert_eq!(decompress(compression, &batch.payload.body), batch.payload.json.to_vec(), "{name}");
        }
    }
    assert_eq!(config("").compression, Compression::Zstd);
}

/// A 413 halves a batch once; each half is recompressed, and a half is never split again.
#[test]
fn split_halves_a_batch_once() {
    let mut dd = backend("");
    let mut window = golden_window();
    window.series.truncate(3);
    let batch = dd.encode_at(&window, at(END_MS)).unwrap().remove(0);
    assert_eq!((batch.payload.endpoint, batch.payload.fragments.len(), batch.series), (Endpoint::Series, 3, 3));
    let (first, second) = dd.split(batch).unwrap();
    assert_eq!((first.series, second.series), (1, 2));
    let metrics = |b: &Encoded<Payload>| -> Vec<String> {
        let body: Json = serde_json::from_slice(&decompress(Compression::Zstd, &b.payload.body)).unwrap();
        body["series"].as_array().unwrap().iter().map(|s| s["metric"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(metrics(&first), ["app.hits"]);
    assert_eq!(metrics(&second), ["app.temp", "app.users"]);
    assert!(first.payload.split && second.payload.split);
    assert_eq!(dd.split(second).unwrap_err().series, 2, "a half is not split again");
}

/// A window whose end is more than an hour old (or ten minutes ahead) is refused as too old;
/// one just inside the hour is encoded. A window of only events is sent whatever its age.
#[test]
fn windows_outside_the_accepted_time_range_are_refused_as_too_old() {
    let mut dd = backend("");
    let window = golden_window();
    assert!(dd.encode_at(&window, at(END_MS + 3_600_000)).is_ok());
    let err = dd.encode_at(&window, at(END_MS + 3_601_000)).unwrap_err();
    assert!(matches!(err, SendError::TooOld(_)) && !err.is_retriable(), "{err}");
    assert_eq!(
        err.to_string(),
        "too old: points of 1763823610 are 3601s old; the Datadog API drops points older than 3600s"
    );
    assert!(dd.encode_at(&window, at(END_MS - 600_000)).is_ok());
    assert!(dd.encode_at(&window, at(END_MS - 601_000)).unwrap_err().is_too_old());
    let events_only = Window { series: Vec::new(), ..golden_window() };
    assert_eq!(dd.encode_at(&events_only, at(END_MS + 86_400_000)).unwrap().len(), 2);
}

/// Distribution values add up to the count: sample-rate weights are rounded cumulatively,
/// so `@0.3` samples (weight 3.33…) still give the rounded total, and values stay in range.
#[test]
fn distribution_values_add_up_to_the_rounded_count() {
    let Value::Summary(s) =
        summary(SummaryKind::Distribution, &[(1.0, 10.0 / 3.0), (2.0, 10.0 / 3.0), (300.0, 10.0 / 3.0)], &[])
    else {
        unreachable!()
    };
    let values = distribution_values(&s, &mut 0);
    assert_eq!(values.len(), 10);
    assert_eq!(values.iter().filter(|v| (**v - 1.0).abs() <= 0.01).count(), 3);
    assert_eq!(values.iter().filter(|v| (**v - 2.0).abs() <= 0.02).count(), 4);
    assert_eq!(values.iter().filter(|v| (**v - 300.0).abs() <= 3.0).count(), 3);
    assert!(values.iter().all(|v| (1.0..=300.0).contains(v)));
    let Value::Summary(big) = summary(SummaryKind::Distribution, &[(5.0, 3_000_000.0)], &[]) else { unreachable!() };
    let mut scaled = 0;
    assert_eq!(distribution_values(&big, &mut scaled).len(), super::encode::MAX_DISTRIBUTION_VALUES);
    assert_eq!(scaled, 1);
}

/// A distribution of more than one point's worth of values is sent as several objects of the
/// same series, counted once, all in one request while they fit.
#[test]
fn large_distributions_are_chunked_and_counted_once() {
    let mut window = golden_window();
    window.series =
        vec![Series { key: key("d", &[]), value: summary(SummaryKind::Distribution, &[(7.0, 120_000.0)], &[]) }];
    window.events.clear();
    window.service_checks.clear();
    let batches = backend("").encode_at(&window, at(END_MS)).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].payload.fragments.len(), 3);
    assert_eq!(batches[0].series, 1);
    let body: Json = serde_json::from_slice(&batches[0].payload.json).unwrap();
    let total: usize =
        body["series"].as_array().unwrap().iter().map(|s| s["points"][0][1].as_array().unwrap().len()).sum();
    assert_eq!(total, 120_000);
}

/// A request never exceeds either limit: with small limits, series are packed greedily and
/// every body stays within them.
#[test]
fn batches_stay_within_both_size_limits() {
    let mut dd = backend("max_uncompressed_bytes = 8192\nmax_compressed_bytes = 1000");
    let mut window = golden_window();
    window.series = (0..2000)
        .map(|i| Series {
            key: key(&format!("m{i}"), &[&format!("k:{}", i * 7919 % 10007)]),
            value: Value::Gauge { value: f64::from(i) },
        })
        .collect();
    let batches: Vec<_> = dd
        .encode_at(&window, at(END_MS))
        .unwrap()
        .into_iter()
        .filter(|b| b.payload.endpoint == Endpoint::Series)
        .collect();
    assert!(batches.len() > 10);
    assert_eq!(batches.iter().map(|b| b.series).sum::<u64>(), 2000);
    for b in &batches {
        assert!(
            b.payload.json.len() <= 8192 && b.payload.body.len() <= 1000,
            "{} {}",
            b.payload.json.len(),
            b.payload.body.len()
        );
    }
}

/// NaN and infinities are left out (JSON cannot carry them); the series still counts.
#[test]
fn non_finite_values_are_left_out() {
    let mut window = golden_window();
    window.series = vec![
        Series { key: key("bad", &[]), value: Value::Gauge { value: f64::NAN } },
        Series { key: key("good", &[]), value: Value::Gauge { value: 1.0 } },
    ];
    let batches = backend("").encode_at(&window, at(END_MS)).unwrap();
    let body: Json = serde_json::from_slice(&batches[0].payload.json).unwrap();
    assert_eq!(body["series"].as_array().unwrap().len(), 1);
    assert_eq!(body["series"][0]["metric"], "good");
}

/// `site` picks `https://api.<site>`; `endpoint` replaces it; defaults are US1.
#[test]
fn base_url_follows_site_or_endpoint() {
    assert_eq!(backend("").base_url(), "https://api.datadoghq.com");
    assert_eq!(backend("site = \"datadoghq.eu\"").base_url(), "https://api.datadoghq.eu");
    assert_eq!(backend("site = \"ap2.datadoghq.com\"").base_url(), "https://api.ap2.datadoghq.com");
    assert_eq!(backend("endpoint = \"http://127.0.0.1:8080/dd/\"").base_url(), "http://127.0.0.1:8080/dd");
}

/// Bad keys are refused with the key named and what to write instead.
#[test]
fn invalid_keys_are_refused_with_the_key_named() {
    let cases = [
        ("site = \"datadoghq.de\"", "site"),
        ("site = \"datadoghq.eu\"\nendpoint = \"http://127.0.0.1:1\"", "endpoint"),
        ("endpoint = \"localhost:8080\"", "endpoint"),
        ("histogram_percentiles = [0]", "histogram_percentiles"),
        ("max_compressed_bytes = 512001", "max_compressed_bytes"),
        ("max_uncompressed_bytes = 5242880", "max_uncompressed_bytes"),
        ("api_key_file = \"/k\"", "api_key_file"),
    ];
    for (extra, key) in cases {
        assert_eq!(config(extra).validate().unwrap_err().key, Some(key), "{extra}");
    }
    let message = config("site = \"datadoghq.de\"").validate().unwrap_err().message;
    assert!(message.starts_with("\"datadoghq.de\" is not a Datadog site; did you mean \"datadoghq.eu\"?"), "{message}");
    let none: DatadogConfig = toml::from_str("site = \"datadoghq.eu\"").unwrap();
    assert_eq!(none.validate().unwrap_err().key, Some("api_key"));
    assert!(toml::from_str::<DatadogConfig>("api_key = \"k\"\ncompression = \"brotli\"").is_err());
    assert!(toml::from_str::<DatadogConfig>("api_key = \"k\"\nsites = \"x\"").is_err());
    assert!(config("max_uncompressed_bytes = 5242879\nmax_compressed_bytes = 512000").validate().is_ok());
}

/// `api_key_file` is read at build time, its trailing newline ignored.
#[test]
fn api_key_file_is_read_at_build_time() {
    let path = std::env::temp_dir().join(format!("sluice-dd-key-{}", std::process::id()));
    std::fs::write(&path, "abc123\n").unwrap();
    let c: DatadogConfig = toml::from_str(&format!("api_key_file = \"{}\"", path.display())).unwrap();
    assert!(Datadog::new(&c, crate::delivery::http::client().unwrap()).is_ok());
    std::fs::remove_file(&path).unwrap();
    let err = Datadog::new(&c, crate::delivery::http::client().unwrap()).unwrap_err();
    assert!(err.to_string().starts_with("cannot read api_key_file"), "{err}");
}

/// `X-RateLimit-Reset` is whole seconds.
#[test]
fn rate_limit_reset_is_read_as_seconds() {
    assert_eq!(rate_limit_reset("7"), Some(Duration::from_secs(7)));
    assert_eq!(rate_limit_reset("soon"), None);
    assert_eq!(compress(Compression::Zstd, b"")[..4], [0x28, 0xb5, 0x2f, 0xfd]);
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

/// An explicit-bucket histogram becomes counts Datadog adds up: `<name>.bucket` per bound
/// with a cumulative `upper_bound` tag (and `inf`), `<name>.count` and `<name>.sum`.
#[test]
fn explicit_buckets_become_counts_with_an_upper_bound_tag() {
    let mut window = golden_window();
    window.series = vec![Series { key: key("rpc.seconds", &["route:/a"]), value: explicit_buckets(None) }];
    window.events.clear();
    window.service_checks.clear();
    let batches = backend("").encode_at(&window, at(END_MS)).unwrap();
    let series = &bodies(&batches)["/api/v2/series"][0]["series"];
    let got: Vec<(String, f64, Vec<String>, i64)> = series
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let tags = s["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
            (
                s["metric"].as_str().unwrap().to_owned(),
                s["points"][0]["value"].as_f64().unwrap(),
                tags,
                s["type"].as_i64().unwrap(),
            )
        })
        .collect();
    let tags = |extra: &[&str]| {
        let mut t: Vec<String> = ["env:prod", "route:/a"].iter().chain(extra).map(|s| (*s).to_owned()).collect();
        t.sort();
        t
    };
    let mut got = got;
    for g in &mut got {
        g.2.sort();
    }
    assert_eq!(
        got,
        [
            ("rpc.seconds.bucket".to_owned(), 3.0, tags(&["upper_bound:0.1"]), 1),
            ("rpc.seconds.bucket".to_owned(), 4.0, tags(&["upper_bound:0.25"]), 1),
            ("rpc.seconds.bucket".to_owned(), 6.0, tags(&["upper_bound:inf"]), 1),
            ("rpc.seconds.count".to_owned(), 6.0, tags(&[]), 1),
            ("rpc.seconds.sum".to_owned(), 1.5, tags(&[]), 1),
        ]
    );
}
