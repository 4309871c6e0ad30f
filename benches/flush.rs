//! The CPU cost of one flush: a window of 100 000 series encoded by every backend, each at its
//! default settings, with `Backend::encode` as its delivery task calls it once per window
//! (normalize, batch, encode, compress). Nothing is sent. Group `flush_100k` has one function
//! per backend and `all_backends`, the same window through all nine in turn: the figure to
//! quote, whose target is under 1 s of CPU.
//!
//! - `pushgateway`: cumulative state, families, protobuf.
//! - `influxdb`: line protocol, gzip.
//! - `statsd`: DogStatsD lines packed into datagrams.
//! - `cloudwatch`: `PutMetricData` forms, gzip.
//! - `datadog`: v2 series and distribution JSON, zstd.
//! - `remote_write`: cumulative state, time series, protobuf, snappy.
//! - `prometheus_exporter`: cumulative state, the text and OpenMetrics renders a scrape serves.
//! - `textfile`: cumulative state, the text file's content (written by `send`, not here).
//! - `file`: the window's JSON line (appended by `send`, not here).
//!
//! The clock is the process's CPU time, not wall time, so other load on the machine does not
//! count.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backends::cloudwatch::CloudWatch;
use backends::cloudwatch::credentials::Env;
use backends::datadog::Datadog;
use backends::file::{File, FileConfig};
use backends::influxdb::InfluxDb;
use backends::prometheus::{Context, Mappings};
use backends::prometheus_exporter::{PrometheusExporter, PrometheusExporterConfig};
use backends::pushgateway::{Pushgateway, PushgatewayConfig};
use backends::remote_write::{RemoteWrite, RemoteWriteConfig};
use backends::statsd::Statsd;
use backends::textfile::{TextfileConfig, TextfileWriter};
use backends::{Backend, Series, SeriesKey, Sketch, Summary, SummaryKind, Value, Window};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use sluice::aggregator::window::series_hash;

const SERIES: usize = 100_000;

/// The window state's default percentiles.
const PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// A timer of five samples from `base` ms, summarised as the window state does: exact count,
/// sum, min and max, each percentile from the sketch clamped to the range.
fn timer(base: f64) -> Value {
    let samples = [base, base * 1.5, base * 2.0, base * 3.0, base * 8.0];
    let mut sketch = Sketch::new();
    for ms in samples {
        sketch.add(ms, 1.0);
    }
    let (min, max) = (samples[0], samples[4]);
    let percentiles =
        PERCENTILES.iter().map(|&p| (p, sketch.quantile(p / 100.0).map_or(min, |v| v.clamp(min, max)))).collect();
    Value::Summary(Box::new(Summary {
        kind: SummaryKind::Timer,
        count: samples.len() as f64,
        sum: samples.iter().sum(),
        min,
        max,
        percentiles,
        buckets: Vec::new(),
        sketch,
    }))
}

/// 40 % counters, 20 % gauges, 30 % timers and 10 % sets, each kind numbering its series `k`:
/// `app.service{k / 50}.<kind>` on 50 hosts, tagged `env:prod`, `host:web-{k % 50}` and, on
/// even services, `zone:`. The window ends now (Datadog refuses old points).
fn window() -> Window {
    let end_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let series = (0..SERIES)
        .map(|i| {
            let (row, slot) = (i / 10, i % 10);
            let (suffix, k) = match slot {
                0..=3 => ("requests", row * 4 + slot),
                4 | 5 => ("queue_depth", row * 2 + slot - 4),
                6..=8 => ("latency", row * 3 + slot - 6),
                _ => ("users", row),
            };
            let value = match suffix {
                "requests" => Value::Counter { sum: (k % 100 + 1) as f64, rate: (k % 100 + 1) as f64 / 10.0 },
                "queue_depth" => Value::Gauge { value: (k % 1000) as f64 / 4.0 },
                "latency" => timer((k % 200 + 1) as f64),
                _ => Value::Set { count: 3, members: vec![k as u64, k as u64 + 1, k as u64 + 2] },
            };
            let (service, host) = (k / 50, k % 50);
            let name = format!("app.service{service}.{suffix}");
            let mut tags = vec!["env:prod".to_owned(), format!("host:web-{host}")];
            if service % 2 == 0 {
                tags.push(format!("zone:eu-{}", service % 3));
            }
            let hash = series_hash(&name, &tags.iter().map(String::as_str).collect::<Vec<_>>());
            let tags = tags.into_iter().map(String::into_boxed_str).collect();
            Series { key: Arc::new(SeriesKey { name: name.into(), tags, hash }), value }
        })
        .collect();
    Window {
        id: 1,
        start_ms: end_ms - 10_000,
        end_ms,
        hostname: "bench-host".into(),
        tags: Arc::new(["dc:eu-west-1".into(), "team:core".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

/// A backend's `encode` behind one type, so the backends can be listed and run in turn.
trait Encode {
    /// Encodes `window` and returns the series (or points) of its batches.
    fn series(&mut self, window: &Window) -> u64;
    /// Series the last encode left out as conflicting.
    fn left_out(&mut self) -> u64;
}

impl<B: Backend> Encode for B {
    fn series(&mut self, window: &Window) -> u64 {
        self.encode(window).unwrap().iter().map(|e| e.series).sum()
    }

    fn left_out(&mut self) -> u64 {
        self.take_left_out()
    }
}

/// Every backend at its defaults, as the tests build them; state files live in `dir`. No
/// constructor connects: sockets and requests wait for `send`. The scrape endpoint binds its
/// listener on a free loopback port, within the entered runtime.
fn backends(dir: &Path) -> Vec<(&'static str, Box<dyn Encode>)> {
    let client = || backends::delivery::http::client().unwrap();
    let none = || Arc::new(Mappings::none());
    let context =
        || Context { client: client(), data_dir: dir.to_owned(), hostname: "bench-host".to_owned(), mappings: none() };
    let influxdb = toml::from_str("url = \"http://127.0.0.1:8086\"\ndatabase = \"bench\"").unwrap();
    let statsd = toml::from_str("address = \"127.0.0.1:8125\"").unwrap();
    let cloudwatch = toml::from_str("region = \"us-east-1\"\nnamespace = \"Sluice\"").unwrap();
    let aws = Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKIDBENCH"), ("AWS_SECRET_ACCESS_KEY", "secret")]);
    let datadog = toml::from_str("api_key = \"bench\"").unwrap();
    let exporter = PrometheusExporterConfig::new("127.0.0.1:0".parse().unwrap());
    vec![
        (
            "pushgateway",
            Box::new(Pushgateway::new("bench", &PushgatewayConfig::new("http://127.0.0.1:9"), context()).unwrap()),
        ),
        ("influxdb", Box::new(InfluxDb::new(&influxdb, client()).unwrap())),
        ("statsd", Box::new(Statsd::new(&statsd).unwrap())),
        ("cloudwatch", Box::new(CloudWatch::new(&cloudwatch, client(), &aws).unwrap())),
        ("datadog", Box::new(Datadog::new(&datadog, client()).unwrap())),
        (
            "remote_write",
            Box::new(
                RemoteWrite::new("bench", &RemoteWriteConfig::new("http://127.0.0.1:9/api/v1/write"), context())
                    .unwrap(),
            ),
        ),
        ("prometheus_exporter", Box::new(PrometheusExporter::new("bench", &exporter, dir, none()).unwrap())),
        (
            "textfile",
            Box::new(TextfileWriter::new("bench", &TextfileConfig::new(dir.join("bench.prom")), dir, none()).unwrap()),
        ),
        ("file", Box::new(File::new("bench", &FileConfig::new(dir.join("bench.jsonl")), dir, none()).unwrap())),
    ]
}

fn flush(c: &mut Criterion<CpuTime>) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let _entered = runtime.enter();
    let window = window();
    let mut backends = backends(dir.path());
    // A warm-up window first: the cumulative backends (pushgateway, remote_write,
    // prometheus_exporter, textfile) then hold a total for every series, and every timed
    // window is the steady state, as on a running agent.
    for (name, backend) in &mut backends {
        let series = backend.series(&window);
        assert_eq!(backend.left_out(), 0, "{name}: series left out");
        eprintln!("{name}: {series} series in the batches of one window");
    }
    let mut group = c.benchmark_group("flush_100k");
    group.sampling_mode(SamplingMode::Flat);
    for (name, backend) in &mut backends {
        group.bench_function(*name, |b| b.iter(|| backend.series(black_box(&window))));
    }
    group.bench_function("all_backends", |b| {
        b.iter(|| backends.iter_mut().map(|(_, backend)| backend.series(black_box(&window))).sum::<u64>());
    });
    group.finish();
}

/// Criterion's clock: the CPU time of the whole process, every thread, shown as a duration.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}

fn process_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid out-pointer for one `struct timespec`; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(CpuTime)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = flush
}
criterion_main!(benches);
