use std::sync::Arc;

use super::config::{StatsdSinkConfig, TagFormat};
use super::encode::{Batch, Encoder};
use super::samples::{Sample, rate_for, samples};
use super::service::Statsd;
use crate::backend::{Backend, Encoded};
use crate::delivery::{BufferConfig, RetryConfig};
use crate::model::{Series, SeriesKey, Summary, SummaryKind, Value, Window};
use crate::registry::BuildError;
use crate::sketch::Sketch;

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// A summary built like the aggregator builds one: `(value, rate)` samples.
fn summary(kind: SummaryKind, values: &[(f64, f64)]) -> Value {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(v, rate) in values {
        let weight = 1.0 / rate;
        sketch.add(v, weight);
        count += weight;
        sum += v * weight;
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
        id: 1,
        start_ms: 0,
        end_ms: 10_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn encoder(max_datagram_bytes: usize) -> Encoder {
    Encoder {
        tag_format: TagFormat::Dogstatsd,
        max_datagram_bytes,
        max_samples: 4,
        pack_values: false,
        summaries_as_timers: false,
        terminate_lines: false,
    }
}

fn datagrams(batches: &[Encoded<Batch>]) -> Vec<(String, u64)> {
    batches
        .iter()
        .map(|b| match &b.payload {
            Batch::Datagram(bytes) => (String::from_utf8(bytes.clone()).unwrap(), b.series),
            Batch::Unsendable(reason) => (format!("UNSENDABLE {reason}"), b.series),
        })
        .collect()
}

fn golden_window() -> Window {
    window(vec![
        Series { key: key("app.hits", &["route:/"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
        Series { key: key("app.sampled", &[]), value: Value::Counter { sum: 1.0 / 0.3, rate: 0.0 } },
        Series { key: key("app.temp", &["env:dev"]), value: Value::Gauge { value: -5.0 } },
        Series { key: key("app.load", &[]), value: Value::Gauge { value: 1.5 } },
        Series { key: key("app.users", &[]), value: Value::Set { count: 2, members: vec![255, 4096] } },
        Series {
            key: key("app.latency", &[]),
            value: summary(SummaryKind::Timer, &[(10.0, 1.0), (20.0, 1.0), (30.0, 1.0)]),
        },
        Series { key: key("app.slow", &[]), value: summary(SummaryKind::Histogram, &[(5.0, 0.1); 100]) },
        Series { key: key("app.size", &[]), value: summary(SummaryKind::Distribution, &[(7.0, 0.3)]) },
    ])
}

/// A fixed window encodes to exactly the datagrams `docs/translation.md` documents.
#[test]
fn golden_window_encodes_to_the_documented_datagrams() {
    let got = datagrams(&encoder(1432).encode(&golden_window()));
    let expected = "\
app.hits:30|c|#env:prod,route:/
app.sampled:3.3333333333333335|c|#env:prod
app.temp:0|g|#env:dev
app.temp:-5|g|#env:dev
app.load:1.5|g|#env:prod
app.users:ff|s|#env:prod
app.users:1000|s|#env:prod
app.latency:10|ms|#env:prod
app.latency:20|ms|#env:prod
app.latency:30|ms|#env:prod
app.slow:5|h|@0.004|#env:prod
app.slow:5|h|@0.004|#env:prod
app.slow:5|h|@0.004|#env:prod
app.slow:5|h|@0.004|#env:prod
app.size:7|d|#env:prod
app.size:7|d|#env:prod
app.size:7|d|@0.7499999999999999|#env:prod";
    assert_eq!(got, vec![(expected.to_owned(), 8)]);
}

/// Without tags and with packing, the same window is plain StatsD with packed values, and
/// histograms and distributions can be sent as timers.
#[test]
fn packed_untagged_window_encodes_to_the_documented_datagram() {
    let encoder = Encoder {
        tag_format: TagFormat::None,
        max_datagram_bytes: 1432,
        max_samples: 4,
        pack_values: true,
        summaries_as_timers: true,
        terminate_lines: false,
    };
    let got = datagrams(&encoder.encode(&golden_window()));
    let expected = "\
app.hits:30|c
app.sampled:3.3333333333333335|c
app.temp:0|g
app.temp:-5|g
app.load:1.5|g
app.users:ff:1000|s
app.latency:10:20:30|ms
app.slow:5:5:5:5|ms|@0.004
app.size:7:7|ms
app.size:7|ms|@0.7499999999999999";
    assert_eq!(got, vec![(expected.to_owned(), 8)]);
}

/// Small datagrams hold whole lines only, a negative gauge's two lines travel together, and
/// every series is counted once, in the datagram that carries its last line.
#[test]
fn datagrams_hold_whole_lines_within_the_limit() {
    let whole = datagrams(&encoder(1432).encode(&golden_window()));
    let split = datagrams(&encoder(70).encode(&golden_window()));
    assert!(split.len() > 5, "{split:?}");
    for (datagram, _) in &split {
        assert!(datagram.len() <= 70, "{datagram}");
        assert!(!datagram.starts_with('\n') && !datagram.ends_with('\n'));
    }
    assert!(split.iter().any(|(d, _)| d.contains("app.temp:0|g|#env:dev\napp.temp:-5|g|#env:dev")), "{split:?}");
    let joined: Vec<&str> = split.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(joined.join("\n"), whole[0].0);
    assert_eq!(split.iter().map(|(_, n)| n).sum::<u64>(), 8);
}

/// A series whose line cannot fit in a datagram is not sent: one refused batch names the
/// key to change and counts it, and the other series still go.
#[test]
fn series_with_a_line_longer_than_a_datagram_is_refused_and_counted() {
    let long = "x".repeat(80);
    let w = window(vec![
        Series { key: key(&long, &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
        Series { key: key("ok", &[]), value: Value::Counter { sum: 2.0, rate: 0.2 } },
        Series { key: key("bad", &[]), value: Value::Gauge { value: f64::NAN } },
    ]);
    let got = datagrams(&encoder(64).encode(&w));
    assert_eq!(
        got,
        vec![
            ("ok:2|c|#env:prod".to_owned(), 1),
            (
                "UNSENDABLE not sent: 1 series with a line of up to 94 bytes, longer than max_datagram_bytes = 64; \
                 1 series with a NaN or infinite value"
                    .to_owned(),
                2
            ),
        ]
    );
}

/// `-0` is written `0`, so a gauge is never read as a delta; names and tags cannot break a line.
#[test]
fn negative_zero_and_separators_are_neutralised() {
    let w = window(vec![
        Series { key: key("a:b|c", &["k:v,w|x"]), value: Value::Gauge { value: -0.0 } },
        Series { key: key("n", &[]), value: Value::Counter { sum: -2.5, rate: 0.0 } },
    ]);
    let got = datagrams(&encoder(1432).encode(&w));
    assert_eq!(got, vec![("a_b_c:0|g|#env:prod,k:v_w_x\nn:-2.5|c|#env:prod".to_owned(), 2)]);
}

// --- the sampling scheme ---

fn summary_of(value: &Value) -> &Summary {
    match value {
        Value::Summary(s) => s,
        _ => unreachable!(),
    }
}

/// What an upstream that adds `1 / rate` in arrival order (Etsy, sluice) ends on.
fn upstream_count(lines: &[Sample]) -> f64 {
    lines.iter().fold(0.0, |total, s| total + rate_for(s.weight).map_or(1.0, |r| 1.0 / r))
}

/// Counts are exact bit for bit, weighted sums within a few ulps, min and max exact, every
/// value within [min, max], whatever the count, the rates and the line budget.
#[test]
fn samples_keep_count_exact_and_sum_min_max_within_rounding() {
    let rates = [1.0, 0.5, 0.3, 0.1, 0.07, 0.001];
    for (i, max) in [2_usize, 3, 4, 5, 64, 128].into_iter().enumerate() {
        for n in [1_usize, 2, 3, 5, 63, 64, 65, 1000, 4321] {
            let values: Vec<(f64, f64)> =
                (0..n).map(|k| (((k * 7919 + i) % 1000) as f64 * 0.37 + 1.0, rates[(k + i) % rates.len()])).collect();
            let value = summary(SummaryKind::Timer, &values);
            let s = summary_of(&value);
            let lines = samples(s, max);
            assert!(lines.len() <= max && !lines.is_empty());
            assert_eq!(upstream_count(&lines), s.count, "n={n} max={max}");
            let sum: f64 = lines.iter().map(|l| l.value * l.weight).sum();
            assert!((sum - s.sum).abs() <= s.sum * 1e-12, "n={n} max={max}: {sum} vs {}", s.sum);
            assert!(lines.iter().all(|l| (s.min..=s.max).contains(&l.value) && l.weight >= 1.0));
            if lines.len() >= 3 && s.min < s.max {
                assert!(
                    lines.iter().any(|l| l.value == s.min && l.weight == 1.0),
                    "n={n} max={max} {lines:?} {}",
                    s.min
                );
                assert!(lines.iter().any(|l| l.value == s.max && l.weight == 1.0));
            }
        }
    }
}

/// With every sample at rate 1 and no more samples than the budget, each sample is one line
/// without a rate: the unweighted sum (what Etsy StatsD computes) is the sum as well.
#[test]
fn few_unsampled_values_become_one_line_each() {
    let value = summary(SummaryKind::Timer, &[(3.0, 1.0), (1.0, 1.0), (250.0, 1.0), (2.0, 1.0), (8.0, 1.0)]);
    let lines = samples(summary_of(&value), 64);
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l.weight == 1.0));
    assert_eq!(lines.iter().map(|l| l.value).sum::<f64>(), 264.0);
    assert_eq!((lines[0].value, lines[4].value), (1.0, 250.0));
}

/// Written rates read back as the same `f64`, so an exact reciprocal survives the wire; a
/// weight without an exact rate (49) is avoided by trading samples with a neighbour line.
#[test]
fn rates_read_back_exactly_and_weights_avoid_inexact_rates() {
    for weight in 2..=100_000_u32 {
        let rate = rate_for(f64::from(weight)).unwrap();
        assert_eq!(rate.to_string().parse::<f64>().unwrap(), rate);
    }
    assert_eq!(rate_for(1.0), None);
    assert_ne!(1.0 / rate_for(49.0).unwrap(), 49.0);
    // 49 · 4 samples over 4 lines would be 49 each.
    let value = summary(SummaryKind::Timer, &[(5.0, 1.0); 196]);
    let lines = samples(summary_of(&value), 4);
    assert_eq!(lines.iter().map(|l| l.weight).collect::<Vec<_>>(), vec![50.0, 48.0, 50.0, 48.0]);
    assert_eq!(upstream_count(&lines), 196.0);
}

// --- sending ---

fn config(address: Option<std::net::SocketAddr>, unix: Option<std::path::PathBuf>) -> StatsdSinkConfig {
    StatsdSinkConfig {
        address,
        unix,
        transport: None,
        // Unpaced, so that sends follow each other at once; pacing has its own tests.
        pace: 0.0,
        tag_format: TagFormat::Dogstatsd,
        max_datagram_bytes: None,
        max_samples_per_series: 64,
        pack_values: false,
        summaries_as_timers: false,
        buffer: BufferConfig::default(),
        retry: RetryConfig::default(),
    }
}

/// Over UDP each batch arrives as one datagram; with nobody listening the send fails as
/// retriable, and after the upstream is back the same datagram arrives.
#[tokio::test]
async fn udp_datagrams_arrive_and_a_closed_port_is_a_retriable_error() {
    let upstream = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = upstream.local_addr().unwrap();
    let mut backend = Statsd::new(&config(Some(addr), None)).unwrap();
    let batches = backend.encode(&golden_window()).unwrap();
    backend.send(&batches[0].payload).await.unwrap();
    let mut buf = vec![0; 65_536];
    let n = upstream.recv(&mut buf).await.unwrap();
    assert_eq!(Batch::Datagram(buf[..n].to_vec()), batches[0].payload);

    drop(upstream);
    let err = backend.send(&batches[0].payload).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.to_string(), "I/O error: Connection refused (os error 111)");

    let upstream = tokio::net::UdpSocket::bind(addr).await.unwrap();
    backend.send(&batches[0].payload).await.unwrap();
    let n = upstream.recv(&mut buf).await.unwrap();
    assert_eq!(Batch::Datagram(buf[..n].to_vec()), batches[0].payload);
}

/// Over a Unix datagram socket a missing socket is retriable, and a socket created later at
/// the same path receives the datagram.
#[tokio::test]
async fn unix_datagrams_reach_a_socket_that_appears_later() {
    let dir = std::env::temp_dir().join(format!("sluice-statsd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("upstream.sock");
    let _ = std::fs::remove_file(&path);
    let mut backend = Statsd::new(&config(None, Some(path.clone()))).unwrap();
    let batches = backend.encode(&golden_window()).unwrap();
    let err = backend.send(&batches[0].payload).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.to_string(), "I/O error: No such file or directory (os error 2)");

    let upstream = tokio::net::UnixDatagram::bind(&path).unwrap();
    backend.send(&batches[0].payload).await.unwrap();
    let mut buf = vec![0; 65_536];
    let n = upstream.recv(&mut buf).await.unwrap();
    assert_eq!(Batch::Datagram(buf[..n].to_vec()), batches[0].payload);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The config names the key to fix: both or neither destination, a datagram size out of range.
#[test]
fn config_errors_name_the_key() {
    let both = config(Some("127.0.0.1:1".parse().unwrap()), Some("/x".into()));
    assert_eq!(both.check().unwrap_err().key, Some("address"));
    assert_eq!(config(None, None).check().unwrap_err().key, Some("address"));
    let mut small = config(Some("127.0.0.1:1".parse().unwrap()), None);
    small.max_datagram_bytes = Some(10);
    assert_eq!(small.check().unwrap_err(), BuildError::at("max_datagram_bytes", "10 is out of range: use 64 to 65507"));
    assert_eq!(config(None, Some("/s".into())).datagram_limit(), 8192);
    assert_eq!(config(Some("127.0.0.1:1".parse().unwrap()), None).datagram_limit(), 1432);
}

/// `transport` goes with its destination, and `pace` must stay below one interval.
#[test]
fn transport_and_pace_errors_name_the_key() {
    use super::config::{Target, Transport};
    let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut tcp = config(Some(addr), None);
    tcp.transport = Some(Transport::Tcp);
    assert_eq!(tcp.target(), Ok(Target::Tcp(addr)));
    assert_eq!(tcp.datagram_limit(), 16_384);
    let mut stream = config(None, Some("/s".into()));
    stream.transport = Some(Transport::Stream);
    assert_eq!(stream.target(), Ok(Target::UnixStream("/s".into())));
    stream.transport = Some(Transport::Tcp);
    assert_eq!(stream.check().unwrap_err().key, Some("transport"));
    tcp.transport = Some(Transport::Datagram);
    assert_eq!(tcp.check().unwrap_err().key, Some("transport"));
    let mut paced = config(Some(addr), None);
    paced.pace = 1.0;
    assert_eq!(
        paced.check().unwrap_err(),
        BuildError::at("pace", "1 is out of range: use a fraction of the interval from 0 up to (not including) 1")
    );
    paced.pace = -0.1;
    assert_eq!(paced.check().unwrap_err().key, Some("pace"));
}

/// A window with many datagrams, as one flush of a busy agent.
fn busy_window(start_ms: u64, end_ms: u64) -> Window {
    let series = (0..400)
        .map(|i| Series {
            key: key(&format!("busy.counter.{i:03}"), &[]),
            value: Value::Counter { sum: 1.0, rate: 1.0 },
        })
        .collect();
    Window { start_ms, end_ms, ..window(series) }
}

/// Over UDP a window's datagrams are spread over `pace` of its interval: 0.5 of 400 ms puts
/// the last of n datagrams (n − 1)/n × 200 ms after the first, never sooner; every datagram
/// arrives, in order; a long window's datagrams go at most 5 ms apart.
#[tokio::test]
async fn udp_datagrams_of_a_window_are_spread_over_pace_of_its_interval() {
    let upstream = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut paced = config(Some(upstream.local_addr().unwrap()), None);
    paced.pace = 0.5;
    // Small datagrams, so that 200 ms over all of them is below the 5 ms gap limit.
    paced.max_datagram_bytes = Some(200);
    let mut backend = Statsd::new(&paced).unwrap();
    let batches = backend.encode(&busy_window(0, 400)).unwrap();
    let n = u32::try_from(batches.len()).unwrap();
    assert!(n >= 40, "{n} datagrams");
    let started = std::time::Instant::now();
    let mut buf = vec![0; 65_536];
    for batch in &batches {
        backend.send(&batch.payload).await.unwrap();
        let len = upstream.recv(&mut buf).await.unwrap();
        assert_eq!(Batch::Datagram(buf[..len].to_vec()), batch.payload);
    }
    let spread = started.elapsed();
    let least = std::time::Duration::from_millis(200) * (n - 1) / n;
    assert!(spread >= least, "{n} datagrams in {spread:?}, expected at least {least:?}");
    // A second window starts its own schedule: its first datagram goes at once.
    let batches = backend.encode(&busy_window(400, 800)).unwrap();
    let started = std::time::Instant::now();
    backend.send(&batches[0].payload).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(20), "{:?}", started.elapsed());
    upstream.recv(&mut buf).await.unwrap();
    // A window of an hour is not spread over half an hour: datagrams go 5 ms apart at most.
    let batches = backend.encode(&busy_window(0, 3_600_000)).unwrap();
    let started = std::time::Instant::now();
    for batch in &batches {
        backend.send(&batch.payload).await.unwrap();
        upstream.recv(&mut buf).await.unwrap();
    }
    let spread = started.elapsed();
    let least = super::transport::MAX_GAP * (n - 1);
    assert!(spread >= least && spread < least * 4, "{n} datagrams of a long window in {spread:?}");
}

fn stream_config(
    target: super::config::Transport,
    address: Option<std::net::SocketAddr>,
    unix: Option<std::path::PathBuf>,
) -> StatsdSinkConfig {
    StatsdSinkConfig { transport: Some(target), ..config(address, unix) }
}

/// The next connection to `listener`, or a failure after 2 s (a batch written into a dead
/// connection never arrives on a new one).
async fn accept(listener: &tokio::net::TcpListener) -> tokio::net::TcpStream {
    let accepted = tokio::time::timeout(std::time::Duration::from_secs(2), listener.accept()).await;
    accepted.expect("the batch arrives on a new connection").unwrap().0
}

/// Reads from `stream` until `want` bytes arrived.
async fn read_exact(stream: &mut (impl tokio::io::AsyncRead + Unpin), want: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = vec![0; want];
    stream.read_exact(&mut got).await.unwrap();
    got
}

/// Over TCP every batch is whole lines, each ending in `\n`; a refused connection is
/// retriable; after the upstream closed the connection, the next batch goes on a new
/// connection rather than into the closed one, so nothing is lost.
#[tokio::test]
async fn tcp_batches_are_terminated_lines_and_a_closed_connection_is_replaced() {
    use super::config::Transport;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut backend = Statsd::new(&stream_config(Transport::Tcp, Some(addr), None)).unwrap();
    let batches = backend.encode(&golden_window()).unwrap();
    let Batch::Datagram(first) = &batches[0].payload else { panic!("a sendable batch") };
    assert_eq!(first.last(), Some(&b'\n'));
    assert!(first.starts_with(b"app.hits:30|c|#env:prod,route:/\napp.sampled:"), "{}", String::from_utf8_lossy(first));

    backend.send(&batches[0].payload).await.unwrap();
    let mut conn = accept(&listener).await;
    assert_eq!(read_exact(&mut conn, first.len()).await, *first);
    // The upstream closes the connection while idle (a graceful restart).
    drop(conn);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    backend.send(&batches[0].payload).await.unwrap();
    let mut conn = accept(&listener).await;
    assert_eq!(read_exact(&mut conn, first.len()).await, *first);

    drop((conn, listener));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let err = backend.send(&batches[0].payload).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.to_string(), "I/O error: Connection refused (os error 111)");
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    backend.send(&batches[0].payload).await.unwrap();
    let mut conn = accept(&listener).await;
    assert_eq!(read_exact(&mut conn, first.len()).await, *first);
}

/// Over a Unix stream a missing socket is retriable, and a listener created later at the
/// same path receives the whole batch.
#[tokio::test]
async fn unix_stream_batches_reach_a_listener_that_appears_later() {
    use super::config::Transport;
    let dir = std::env::temp_dir().join(format!("sluice-statsd-stream-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("upstream.sock");
    let _ = std::fs::remove_file(&path);
    let mut backend = Statsd::new(&stream_config(Transport::Stream, None, Some(path.clone()))).unwrap();
    let batches = backend.encode(&golden_window()).unwrap();
    let err = backend.send(&batches[0].payload).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.to_string(), "I/O error: No such file or directory (os error 2)");

    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    backend.send(&batches[0].payload).await.unwrap();
    let (mut conn, _) = listener.accept().await.unwrap();
    let Batch::Datagram(first) = &batches[0].payload else { panic!("a sendable batch") };
    assert_eq!(read_exact(&mut conn, first.len()).await, *first);
    std::fs::remove_dir_all(&dir).unwrap();
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

/// An explicit-bucket histogram becomes counters an upstream StatsD adds up exactly: count,
/// sum and one cumulative counter per bound, the bound in the name with `.` as `_`.
#[test]
fn explicit_buckets_forward_as_exact_counters() {
    let window = window(vec![Series { key: key("rpc.seconds", &["route:/a"]), value: explicit_buckets(None) }]);
    let got: Vec<String> = datagrams(&encoder(1432).encode(&window)).into_iter().map(|d| d.0).collect();
    assert_eq!(
        got.concat(),
        "rpc.seconds.count:6|c|#env:prod,route:/a\nrpc.seconds.sum:1.5|c|#env:prod,route:/a\n\
         rpc.seconds.le_0_1:3|c|#env:prod,route:/a\nrpc.seconds.le_0_25:4|c|#env:prod,route:/a"
    );
}
