use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::credentials::{CredentialsError, Provider, parse_iso8601, profile_keys};
use super::encode::{MAX_REQUEST_BYTES, Measure, Options};
use super::service::{MAX_AGE, classify};
use super::{CloudWatch, CloudWatchConfig, Credentials, Env, Source, aws_error, encode};
use crate::backend::{Backend, SendError};
use crate::delivery::{BufferConfig, Fanout, RetryConfig, spawn};
use crate::model::{Series, SeriesKey, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;
use crate::units::Duration as Human;
use crate::units::iso8601;

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// A summary as the aggregator builds it from `(value, rate)` samples.
fn summary(kind: SummaryKind, samples: &[(f64, f64)]) -> Value {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(v, rate) in samples {
        sketch.add(v, 1.0 / rate);
        count += 1.0 / rate;
        sum += v / rate;
        min = min.min(v);
        max = max.max(v);
    }
    Value::Summary(Box::new(Summary {
        kind,
        count,
        sum,
        min,
        max,
        percentiles: Vec::new(),
        buckets: Vec::new(),
        sketch,
    }))
}

fn window(series: Vec<Series>) -> Window {
    Window {
        id: 3,
        start_ms: 1_763_823_600_000,
        end_ms: 1_763_823_610_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

/// The window `docs/translation.md` shows, one series of each type.
fn golden_window() -> Window {
    window(vec![
        Series { key: key("app.hits", &["canary", "route:/home"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
        Series { key: key("app.temp", &[]), value: Value::Gauge { value: -1.5 } },
        Series { key: key("app.users", &["env:staging"]), value: Value::Set { count: 2, members: vec![7, 9] } },
        Series {
            key: key("app.latency", &["host:db-2"]),
            value: summary(SummaryKind::Timer, &[(10.0, 1.0), (20.0, 1.0), (20.0, 1.0), (40.0, 1.0)]),
        },
        Series { key: key("app.size", &[]), value: summary(SummaryKind::Distribution, &[(4.5, 2.0)]) },
    ])
}

fn options() -> Options {
    Options {
        namespace: "Sluice".into(),
        storage_resolution: 60,
        host_dimension: true,
        agent_tags: true,
        max_datums: super::encode::MAX_DATUMS_PER_REQUEST,
        max_bytes: MAX_REQUEST_BYTES,
    }
}

fn gauges(n: usize, tags: &[&str]) -> Vec<Series> {
    (0..n).map(|i| Series { key: key(&format!("m{i}"), tags), value: Value::Gauge { value: i as f64 } }).collect()
}

fn env_keys() -> Env {
    Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKIDTEST"), ("AWS_SECRET_ACCESS_KEY", "secret")])
}

fn config(endpoint: &str, extra: &str) -> CloudWatchConfig {
    toml::from_str(&format!("region = \"us-east-1\"\nnamespace = \"Sluice\"\nendpoint = \"{endpoint}\"\n{extra}"))
        .unwrap()
}

fn backend(endpoint: &str, extra: &str) -> CloudWatch {
    CloudWatch::new(&config(endpoint, extra), crate::delivery::http::client().unwrap(), &env_keys()).unwrap()
}

/// The form body one parameter per line, as `docs/translation.md` shows it.
fn lines(form: &str) -> String {
    form.split('&').flat_map(|p| [p, "\n"]).collect()
}

/// The exact Query-protocol body of a window with one series of each type: units, dimensions
/// (bare tag `true`, series tags over agent tags over host), Values/Counts with the exact min
/// and max, fractional counts, the window end as timestamp.
#[test]
fn window_encodes_to_the_documented_query_body() {
    let encoding = encode(&golden_window(), &options());
    assert_eq!(encoding.requests.len(), 1);
    let body = lines(&encoding.requests[0].form);
    let latency = body.lines().filter(|l| l.starts_with("MetricData.member.4.Values")).collect::<Vec<_>>();
    assert_eq!(latency.len(), 3, "{body}");
    assert_eq!(latency[0], "MetricData.member.4.Values.member.1=10");
    assert_eq!(latency[2], "MetricData.member.4.Values.member.3=40");
    assert!(body.contains("MetricData.member.4.Counts.member.2=2\n"), "{body}");
    assert!(body.contains("MetricData.member.5.Values.member.1=4.5\nMetricData.member.5.Counts.member.1=0.5\n"));
    assert!(body.starts_with(
        "Action=PutMetricData\nVersion=2010-08-01\nNamespace=Sluice\nMetricData.member.1.MetricName=app.hits\n\
         MetricData.member.1.Dimensions.member.1.Name=canary\nMetricData.member.1.Dimensions.member.1.Value=true\n\
         MetricData.member.1.Dimensions.member.2.Name=env\nMetricData.member.1.Dimensions.member.2.Value=prod\n\
         MetricData.member.1.Dimensions.member.3.Name=host\nMetricData.member.1.Dimensions.member.3.Value=web-1\n\
         MetricData.member.1.Dimensions.member.4.Name=route\nMetricData.member.1.Dimensions.member.4.Value=%2Fhome\n\
         MetricData.member.1.Value=30\nMetricData.member.1.Timestamp=2025-11-22T15:00:10.000Z\n\
         MetricData.member.1.Unit=Count\nMetricData.member.1.StorageResolution=60\n"
    ));
    assert_eq!((encoding.non_finite, encoding.skipped, encoding.dropped_dimensions), (0, 0, 0));
}

/// The example in `docs/translation.md` is exactly what the encoder writes.
#[test]
fn translation_doc_example_matches_the_encoder() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/translation.md")).unwrap();
    let block = doc
        .split("<!-- cloudwatch-golden -->\n```text\n")
        .nth(1)
        .expect("the golden block")
        .split("```")
        .next()
        .unwrap();
    let encoding = encode(&golden_window(), &options());
    assert_eq!(block, lines(&encoding.requests[0].form));
}

/// 1001 series become two requests of 1000 and 1 datums, each numbered from 1.
#[test]
fn a_thousand_and_one_datums_go_in_two_requests() {
    let encoding = encode(&window(gauges(1001, &[])), &options());
    let sizes: Vec<usize> = encoding.requests.iter().map(|r| r.datums.len()).collect();
    assert_eq!(sizes, vec![1000, 1]);
    assert!(encoding.requests[0].form.contains("&MetricData.member.1000.MetricName=m999&"));
    assert!(encoding.requests[1].form.contains("&MetricData.member.1.MetricName=m1000&"));
    assert!(!encoding.requests[1].form.contains("member.2.MetricName"));
}

/// A series with 31 tags keeps the first 30 (sorted tags, in order) as dimensions; the 31st is
/// dropped and counted.
#[test]
fn thirty_one_tags_keep_thirty_dimensions_and_count_the_drop() {
    let tags: Vec<String> = (0..31).map(|i| format!("t{i:02}:v{i}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let options = Options { host_dimension: false, agent_tags: false, ..options() };
    let encoding = encode(&window(gauges(1, &tags)), &options);
    let datum = &encoding.requests[0].datums[0];
    assert_eq!(datum.dimensions.len(), 30);
    assert_eq!((&*datum.dimensions[29].0, &*datum.dimensions[29].1), ("t29", "v29"));
    assert_eq!(encoding.dropped_dimensions, 1);
    // With the defaults, the agent tag and `host` are dropped too.
    let encoding = encode(&window(gauges(1, &tags)), &self::options());
    assert_eq!(encoding.dropped_dimensions, 3);
}

/// 150 distinct values go as `Values`/`Counts`; 151 fall back to `StatisticValues` with the exact
/// count, sum, minimum and maximum.
#[test]
fn more_than_150_distinct_values_fall_back_to_statistic_values() {
    // Values 1.1^k land in distinct sketch bins (1 % relative accuracy).
    let samples = |n: i32| (0..n).map(|k| (1.1_f64.powi(k), 1.0)).collect::<Vec<_>>();
    let series = |n| Series { key: key("t", &[]), value: summary(SummaryKind::Histogram, &samples(n)) };
    let encoding = encode(&window(vec![series(150)]), &options());
    let Measure::Values { values, counts } = &encoding.requests[0].datums[0].measure else { panic!("Values") };
    assert_eq!((values.len(), counts.len(), encoding.statistic_values), (150, 150, 0));
    assert_eq!((values[0], values[149]), (1.0, 1.1_f64.powi(149)));
    let encoding = encode(&window(vec![series(151)]), &options());
    let expected_sum: f64 = samples(151).iter().map(|(v, _)| v).sum();
    assert_eq!(
        encoding.requests[0].datums[0].measure,
        Measure::Statistics { count: 151.0, sum: expected_sum, min: 1.0, max: 1.1_f64.powi(150) }
    );
    assert_eq!(encoding.statistic_values, 1);
    assert!(encoding.requests[0].form.contains("&MetricData.member.1.StatisticValues.SampleCount=151&"));
}

/// A window whose body would be just over 1 MB goes in two requests, each within the limit,
/// with every datum exactly once.
#[test]
fn a_body_just_over_one_megabyte_is_split_in_two() {
    // 680 datums of about 1.5 kB each: fewer than 1000, just over 1 MB together.
    let long = format!("path:{}", "x".repeat(1000));
    let encoding = encode(&window(gauges(680, &[&long])), &options());
    let total: usize = encoding.requests.iter().map(|r| r.form.len()).sum();
    assert!(total > MAX_REQUEST_BYTES && total < MAX_REQUEST_BYTES + 30_000, "{total}");
    let sizes: Vec<usize> = encoding.requests.iter().map(|r| r.datums.len()).collect();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 680);
    for request in &encoding.requests {
        assert!(request.form.len() <= MAX_REQUEST_BYTES, "{}", request.form.len());
    }
    assert!(encoding.requests[1].form.contains(&format!("&MetricData.member.1.MetricName=m{}&", sizes[0])));
}

/// NaN, infinities and values beyond ±2³⁶⁰ are never sent: the series is dropped and counted.
#[test]
fn non_finite_and_out_of_range_values_are_dropped_and_counted() {
    let encoding = encode(
        &window(vec![
            Series { key: key("a", &[]), value: Value::Counter { sum: f64::NAN, rate: 0.0 } },
            Series { key: key("b", &[]), value: Value::Gauge { value: f64::INFINITY } },
            Series { key: key("c", &[]), value: Value::Gauge { value: -1e300 } },
            Series { key: key("d", &[]), value: Value::Gauge { value: 2.0 } },
            Series { key: key("", &[]), value: Value::Gauge { value: 2.0 } },
        ]),
        &options(),
    );
    let names: Vec<&str> = encoding.requests[0].datums.iter().map(|d| &*d.name).collect();
    assert_eq!(names, vec!["d"]);
    assert_eq!((encoding.non_finite, encoding.skipped), (3, 1));
}

/// `split` halves a request and numbers each half from 1 again.
#[test]
fn split_halves_a_request_and_renumbers_the_datums() {
    let mut cw = backend("http://127.0.0.1:9", "gzip = false");
    let batch = cw.encode(&window(gauges(3, &[]))).unwrap().remove(0);
    let (first, second) = cw.split(batch).unwrap();
    assert_eq!((first.series, second.series), (1, 2));
    let second_body = String::from_utf8(second.payload.body.to_vec()).unwrap();
    assert!(second_body.contains("&MetricData.member.1.MetricName=m1&"), "{second_body}");
    assert!(second_body.contains("&MetricData.member.1.Value=1&"), "{second_body}");
    assert!(second_body.contains("&MetricData.member.2.MetricName=m2&"));
    assert_eq!(cw.split(first).unwrap_err().series, 1);
}

/// Timestamps are ISO 8601 in UTC with milliseconds, and parse back.
#[test]
fn timestamps_are_iso_8601_utc() {
    assert_eq!(iso8601(1_763_823_610_123), "2025-11-22T15:00:10.123Z");
    assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(parse_iso8601("2025-11-22T15:00:10Z"), Some(UNIX_EPOCH + Duration::from_secs(1_763_823_610)));
    assert_eq!(parse_iso8601("2000-02-29T00:00:00.5Z"), Some(UNIX_EPOCH + Duration::from_hours(264_384)));
    assert_eq!(parse_iso8601("2025-13-01T00:00:00Z"), None);
}

/// Keys are checked with the key named.
#[test]
fn invalid_keys_are_refused_with_the_key_named() {
    let cases = [("storage_resolution = 30", "storage_resolution"), ("profile = \"\"", "profile")];
    for (extra, key) in cases {
        assert_eq!(config("http://127.0.0.1:9", extra).check().unwrap_err().key, Some(key), "{extra}");
    }
    let mut c = config("http://127.0.0.1:9", "");
    c.namespace = "AWS/EC2".into();
    assert_eq!(c.check().unwrap_err().key, Some("namespace"));
    c.namespace = "Sluice".into();
    c.endpoint = Some("127.0.0.1:9".into());
    assert_eq!(c.check().unwrap_err().key, Some("endpoint"));
    c.endpoint = None;
    c.region = "US East".into();
    assert_eq!(c.check().unwrap_err().key, Some("region"));
    assert!(toml::from_str::<CloudWatchConfig>("region = \"r\"\nnamespace = \"n\"\nnamespcae = \"n\"").is_err());
    let defaults: CloudWatchConfig = toml::from_str("region = \"eu-west-1\"\nnamespace = \"n\"").unwrap();
    assert_eq!(defaults.url(), "https://monitoring.eu-west-1.amazonaws.com/");
    assert_eq!((defaults.storage_resolution, defaults.host_dimension, defaults.gzip), (60, true, true));
}

/// AWS error bodies give their code, in the Query protocol's XML and in JSON; throttling is
/// retriable although it is a 400, other 400s are not.
#[test]
fn aws_error_codes_are_read_and_classified() {
    let xml = "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type>\
               <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    assert_eq!(aws_error(xml), Some(("Throttling".into(), "Rate exceeded".into())));
    let json = r#"{"__type":"com.amazonaws.cloudwatch#InvalidParameterValueException","message":"bad &"}"#;
    assert_eq!(aws_error(json), Some(("InvalidParameterValueException".into(), "bad &".into())));
    let throttled = classify(400, xml, None);
    assert!(throttled.is_retriable(), "{throttled}");
    assert_eq!(throttled.to_string(), "throttled: Throttling: Rate exceeded");
    let invalid = classify(400, &xml.replace("Throttling", "InvalidParameterValue"), None);
    assert!(!invalid.is_retriable());
    assert_eq!(invalid.to_string(), "HTTP 400: InvalidParameterValue: Rate exceeded");
    assert!(classify(503, "<html>down</html>", None).is_retriable());
}

// --- in-process servers ---

/// What a test server saw: `(method, path, headers, body)` per request.
type Seen = Arc<Mutex<Vec<(Method, String, HeaderMap, Bytes)>>>;

/// Serves `answer` for every request on a loopback port and records each request.
async fn serve<F>(answer: F) -> (String, Seen)
where
    F: Fn(&Method, &str, &HeaderMap, usize) -> Response + Clone + Send + Sync + 'static,
{
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let answer = answer.clone();
        let record = record.clone();
        async move {
            let n = {
                let mut seen = record.lock().unwrap();
                seen.push((method.clone(), uri.path().to_owned(), headers.clone(), body));
                seen.len()
            };
            answer(&method, uri.path(), &headers, n)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn aws_xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>1</RequestId></ErrorResponse>"
    );
    (status, [("content-type", "text/xml")], body).into_response()
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_backoff: Human(Duration::from_millis(10)),
        max_backoff: Human(Duration::from_millis(40)),
        ..RetryConfig::default()
    }
}

/// A request is signed with SigV4 for `monitoring` in the region, the body gzip-compressed
/// and form-encoded.
#[tokio::test]
async fn requests_are_signed_and_gzip_compressed() {
    let (url, seen) = serve(|_, _, _, _| StatusCode::OK.into_response()).await;
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "session"),
    ]);
    let mut cw = CloudWatch::new(&config(&url, ""), crate::delivery::http::client().unwrap(), &env).unwrap();
    assert_eq!(cw.credentials_source(), &Source::Environment);
    for batch in cw.encode(&window(gauges(2, &[]))).unwrap() {
        cw.send(&batch.payload).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let (method, path, headers, body) = &seen[0];
    assert_eq!((method, path.as_str()), (&Method::POST, "/"));
    let auth = headers["authorization"].to_str().unwrap();
    let today =
        iso8601(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64)[..10].replace('-', "");
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential=AKIDTEST/{today}/us-east-1/monitoring/aws4_request, ")),
        "{auth}"
    );
    assert!(
        auth.contains("SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token,"),
        "{auth}"
    );
    assert_eq!(headers["x-amz-security-token"], "session");
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded; charset=utf-8");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    assert!(
        text.starts_with("Action=PutMetricData&Version=2010-08-01&Namespace=Sluice&MetricData.member.1.MetricName=m0&")
    );
}

/// A window older than the two weeks `PutMetricData` accepts (one replayed from the spool after
/// a long outage) is dropped and counted as `too_old` without a request.
#[tokio::test]
async fn a_window_older_than_two_weeks_is_dropped_as_too_old_without_a_request() {
    let (url, seen) = serve(|_, _, _, _| StatusCode::OK.into_response()).await;
    let fanout = Fanout::new(vec![spawn("cw", backend(&url, ""), &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let old = now - MAX_AGE.as_millis() as u64 - 60_000;
    fanout.publish(&Arc::new(Window { start_ms: old - 10_000, end_ms: old, ..window(gauges(2, &[])) }));
    fanout.publish(&Arc::new(Window { start_ms: now - 10_000, end_ms: now, ..window(gauges(3, &[])) }));
    assert_eq!(fanout.finish(Duration::from_secs(10)).await, 0);
    assert_eq!(seen.lock().unwrap().len(), 1, "only the recent window was sent");
    assert_eq!(stats[0].dropped_too_old.load(Relaxed), 2);
    assert_eq!(stats[0].sent_series.load(Relaxed), 3);
}

/// Throttling (a 400 with the code `Throttling`) is retried with backoff until it goes
/// through; a 400 `InvalidParameterValue` is not retried, and its code is in the error.
#[tokio::test]
async fn throttling_is_retried_and_invalid_parameter_is_not() {
    let (url, seen) = serve(|_, _, _, n| match n {
        1 | 2 => aws_xml_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded"),
        3 => StatusCode::OK.into_response(),
        _ => aws_xml_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", "The value NaN is invalid."),
    })
    .await;
    let cw = backend(&url, "");
    let fanout = Fanout::new(vec![spawn("cw", cw, &BufferConfig::default(), &fast_retry())]);
    let stats = fanout.stats();
    // Recent windows: the delivery task drops windows older than CloudWatch's two weeks.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let recent = |series| Arc::new(Window { start_ms: now - 10_000, end_ms: now, ..window(series) });
    fanout.publish(&recent(gauges(2, &[])));
    fanout.publish(&recent(gauges(3, &[])));
    assert_eq!(fanout.finish(Duration::from_secs(10)).await, 0);
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_eq!(stats[0].retries.load(Relaxed), 2);
    assert_eq!(stats[0].errors_retriable.load(Relaxed), 2);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 1);
    assert_eq!(stats[0].sent_series.load(Relaxed), 2);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 3);
    let mut direct = backend(&url, "");
    let batch = direct.encode(&window(gauges(1, &[]))).unwrap().remove(0);
    let err = direct.send(&batch.payload).await.unwrap_err();
    assert!(matches!(&err, SendError::Http { status: 400, .. }));
    assert_eq!(err.to_string(), "HTTP 400: InvalidParameterValue: The value NaN is invalid.");
}

/// Keys come from the environment first, with the session token.
#[tokio::test]
async fn credentials_come_from_the_environment() {
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "s3cret"),
        ("AWS_SESSION_TOKEN", "tok"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("AWS_PROFILE", "other"),
    ]);
    let mut provider = Provider::resolve(&env, None, crate::delivery::http::client().unwrap()).unwrap();
    assert_eq!(provider.source(), &Source::Environment);
    let keys = provider.credentials().await.unwrap();
    assert_eq!(
        keys,
        Credentials {
            access_key_id: "AKIDENV".into(),
            secret_access_key: "s3cret".into(),
            session_token: Some("tok".into()),
            expires: None
        }
    );
    assert!(!format!("{keys:?}").contains("s3cret"));
    assert!(!format!("{keys:?}").contains("tok\""));
}

/// Keys come from the shared credentials file: the sink's `profile`, else `AWS_PROFILE`, else
/// `default`; a profile named explicitly must exist.
#[tokio::test]
async fn credentials_come_from_a_profile_of_the_shared_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    std::fs::write(
        &path,
        "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n\
         [ci]\n; another comment\nAWS_ACCESS_KEY_ID=AKIDCI\naws_secret_access_key = c=c\naws_session_token = t\n\
         [broken]\naws_access_key_id = AKIDB\n",
    )
    .unwrap();
    let file = path.to_str().unwrap().to_owned();
    let client = crate::delivery::http::client().unwrap();
    let resolve = |profile: Option<&str>, aws_profile: Option<&str>| {
        let mut pairs = vec![("AWS_SHARED_CREDENTIALS_FILE", file.clone())];
        pairs.extend(aws_profile.map(|p| ("AWS_PROFILE", p.to_owned())));
        Provider::resolve(&Env::from_pairs(pairs), profile, client.clone())
    };
    let mut default = resolve(None, None).unwrap();
    assert_eq!(default.source(), &Source::Profile { path: path.clone(), name: "default".into() });
    assert_eq!(default.credentials().await.unwrap().access_key_id, "AKIDDEFAULT");
    let mut ci = resolve(None, Some("ci")).unwrap();
    let keys = ci.credentials().await.unwrap();
    assert_eq!((keys.access_key_id.as_str(), keys.secret_access_key.expose()), ("AKIDCI", "c=c"));
    assert_eq!(keys.session_token.as_ref().map(crate::Secret::expose), Some("t"));
    assert_eq!(
        resolve(Some("ci"), Some("nope")).unwrap().source(),
        &Source::Profile { path: path.clone(), name: "ci".into() }
    );
    let err = resolve(Some("nope"), None).unwrap_err();
    assert_eq!(err.to_string(), format!("profile \"nope\" not found in {} (set by profile)", path.display()));
    let err = resolve(None, Some("broken")).unwrap_err();
    assert!(matches!(err, CredentialsError::IncompleteProfile { key: "aws_secret_access_key", .. }), "{err}");
    assert_eq!(profile_keys("[a]\nk=v\n", "b"), None);
    // No file, no variables and the metadata service disabled: nothing to sign with.
    let none =
        Env::from_pairs([("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"), ("AWS_EC2_METADATA_DISABLED", "true")]);
    assert!(matches!(Provider::resolve(&none, None, client).unwrap_err(), CredentialsError::Missing));
}

/// Keys come from an `IMDSv2` service: a PUT for the token, then the role name and the role's
/// keys with that token; they are fetched again once they are within 5 minutes of expiring,
/// and kept while they are further from it.
#[tokio::test]
async fn credentials_come_from_the_instance_metadata_service_and_are_refreshed() {
    let expiring = Arc::new(Mutex::new(SystemTime::now() + Duration::from_mins(3)));
    let expiry = expiring.clone();
    let (url, seen) = serve(move |method, path, headers, n| {
        let token_ok = headers.get("x-aws-ec2-metadata-token").is_some_and(|t| t == "TOKEN");
        match (method.as_str(), path) {
            ("PUT", "/latest/api/token") if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") => {
                "TOKEN".into_response()
            }
            ("GET", "/latest/meta-data/iam/security-credentials/") if token_ok => "sluice-role\n".into_response(),
            ("GET", "/latest/meta-data/iam/security-credentials/sluice-role") if token_ok => {
                let at = *expiry.lock().unwrap();
                let at = iso8601(at.duration_since(UNIX_EPOCH).unwrap().as_secs() * 1000);
                let at = format!("{}Z", &at[..19]);
                format!(
                    r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"AKIDROLE{n}","SecretAccessKey":"s","Token":"t","Expiration":"{at}"}}"#
                )
                .into_response()
            }
            _ => StatusCode::UNAUTHORIZED.into_response(),
        }
    })
    .await;
    let env = Env::from_pairs([
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("{url}/")),
    ]);
    let mut provider = Provider::resolve(&env, None, crate::delivery::http::client().unwrap()).unwrap();
    assert_eq!(provider.source(), &Source::InstanceRole { endpoint: url.clone() });
    let first = provider.credentials().await.unwrap();
    assert_eq!(
        (first.access_key_id.as_str(), first.session_token.as_ref().map(crate::Secret::expose)),
        ("AKIDROLE3", Some("t"))
    );
    // Three minutes from expiry is inside the refresh margin: fetched again, now for an hour.
    *expiring.lock().unwrap() = SystemTime::now() + Duration::from_hours(1);
    let second = provider.credentials().await.unwrap();
    assert_eq!(second.access_key_id, "AKIDROLE6");
    // An hour from expiry: kept, no request.
    assert_eq!(provider.credentials().await.unwrap().access_key_id, "AKIDROLE6");
    let paths: Vec<String> = seen.lock().unwrap().iter().map(|(m, p, _, _)| format!("{m} {p}")).collect();
    assert_eq!(
        paths,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/sluice-role",
        ]
        .repeat(2)
    );
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

/// An explicit-bucket histogram is one `StatisticValues` datum with the exact count and sum;
/// without the client's extremes, minimum and maximum come from the edges of the lowest and
/// highest non-empty bucket (the mean where there is no edge), never beyond the mean; an
/// empty one is skipped and counted.
#[test]
fn explicit_buckets_send_exact_statistic_values() {
    let empty = Value::Buckets(Box::new(crate::model::Buckets {
        bounds: Arc::from(&[1.0][..]),
        counts: vec![0, 0],
        sum: 0.0,
        min: None,
        max: None,
    }));
    let encoding = encode(
        &window(vec![
            Series { key: key("rpc.known", &[]), value: explicit_buckets(Some((0.05, 0.9))) },
            Series { key: key("rpc.edges", &[]), value: explicit_buckets(None) },
            Series { key: key("rpc.empty", &[]), value: empty },
        ]),
        &options(),
    );
    let body = lines(&encoding.requests[0].form);
    for (member, min, max) in [(1, "0.05", "0.9"), (2, "0.1", "0.25")] {
        let stats = format!(
            "MetricData.member.{member}.StatisticValues.SampleCount=6\n\
             MetricData.member.{member}.StatisticValues.Sum=1.5\n\
             MetricData.member.{member}.StatisticValues.Minimum={min}\n\
             MetricData.member.{member}.StatisticValues.Maximum={max}\n"
        );
        assert!(body.contains(&stats), "{stats} in {body}");
    }
    assert!(!body.contains("rpc.empty"), "{body}");
    assert_eq!(encoding.skipped, 1);
}
