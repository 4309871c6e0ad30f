//! Families to samples: counters, histograms and summaries across scrapes, resets, baselines,
//! `_created`, gauges, target tags, bad series.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backends::Buckets;

use crate::aggregator::input::SampleValue;
use crate::sources::otlp::Cumulative;
use crate::sources::scrape::{Context, Converted, Format, Skip, convert};

/// When the source of these tests started, in Unix seconds.
const STARTED: u64 = 1_700_000_000;

/// Scrapes of one target, numbered so that their times increase.
struct Target {
    state: Cumulative,
    scrapes: u64,
}

impl Target {
    fn new() -> Self {
        Self { state: Cumulative::new(1000, Duration::from_mins(10), STARTED * 1_000_000_000), scrapes: 0 }
    }

    fn scrape(&mut self, body: &str, format: Format) -> Converted {
        self.scrapes += 1;
        let context = Context {
            job: "app",
            instance: "127.0.0.1:9100",
            known: self.scrapes > 1,
            started: STARTED * 1_000_000_000,
            time: self.scrapes,
            now: Instant::now(),
        };
        convert(body.as_bytes(), format, &context, &mut self.state)
    }
}

/// Each sample as `(name, tags sorted, value)`.
fn samples(converted: &Converted) -> Vec<(String, Vec<String>, SampleValue)> {
    converted
        .samples
        .iter()
        .map(|s| {
            let mut tags: Vec<String> = s.tags().map(str::to_owned).collect();
            tags.sort();
            (s.name().to_owned(), tags, s.value().clone())
        })
        .collect()
}

fn values(converted: &Converted) -> Vec<SampleValue> {
    converted.samples.iter().map(|s| s.value().clone()).collect()
}

const TARGET_TAGS: [&str; 2] = ["instance:127.0.0.1:9100", "job:app"];

fn tags(extra: &[&str]) -> Vec<String> {
    let mut tags: Vec<String> = extra.iter().chain(&TARGET_TAGS).map(|t| (*t).to_owned()).collect();
    tags.sort();
    tags
}

/// A counter's first scrape is its baseline; then each scrape adds its increase; a decrease
/// is a reset from zero; a series new on a target already read counts in full.
#[test]
fn counters_become_increases_across_scrapes_and_resets() {
    let mut target = Target::new();
    let body = |a: u64, b: Option<u64>| {
        let mut body = format!("# TYPE jobs_total counter\njobs_total{{kind=\"a\"}} {a}\n");
        if let Some(b) = b {
            let _ = writeln!(body, "jobs_total{{kind=\"b\"}} {b}");
        }
        body
    };
    let first = target.scrape(&body(100, None), Format::Text);
    assert_eq!((first.samples.len(), first.baselines, first.lines), (0, 1, 1));
    let second = target.scrape(&body(107, Some(4)), Format::Text);
    assert_eq!(
        samples(&second),
        [
            ("jobs_total".to_owned(), tags(&["kind:a"]), SampleValue::Counter(7.0)),
            ("jobs_total".to_owned(), tags(&["kind:b"]), SampleValue::Counter(4.0)),
        ]
    );
    // The target restarted: both went down, and count from zero.
    let third = target.scrape(&body(2, Some(1)), Format::Text);
    assert_eq!(values(&third), [SampleValue::Counter(2.0), SampleValue::Counter(1.0)]);
    let fourth = target.scrape(&body(2, Some(6)), Format::Text);
    assert_eq!(values(&fourth), [SampleValue::Counter(0.0), SampleValue::Counter(5.0)]);
}

/// OpenMetrics `_created`: a first scrape counts in full when the series began after the
/// source started, and a changed `_created` is a reset even when the total went up.
#[test]
fn openmetrics_created_decides_baselines_and_resets() {
    let mut target = Target::new();
    let body = |old: u64, new: u64, created: u64| {
        format!(
            "# TYPE old counter\nold_total {old}\nold_created {}\n# TYPE new counter\nnew_total {new}\nnew_created {created}.5\n# EOF\n",
            STARTED - 60
        )
    };
    let first = target.scrape(&body(50, 3, STARTED + 1), Format::OpenMetrics);
    assert_eq!(samples(&first), [("new_total".to_owned(), tags(&[]), SampleValue::Counter(3.0))]);
    assert_eq!(first.baselines, 1);
    let second = target.scrape(&body(55, 9, STARTED + 1), Format::OpenMetrics);
    assert_eq!(values(&second), [SampleValue::Counter(5.0), SampleValue::Counter(6.0)]);
    // `new` restarted and counted past its old total already: still a reset.
    let third = target.scrape(&body(55, 12, STARTED + 30), Format::OpenMetrics);
    assert_eq!(values(&third), [SampleValue::Counter(0.0), SampleValue::Counter(12.0)]);
}

fn histogram(le: &[(&str, u64)], sum: f64, count: u64) -> String {
    let mut body = "# TYPE latency_seconds histogram\n".to_owned();
    for (bound, n) in le {
        let _ = writeln!(body, "latency_seconds_bucket{{route=\"/\",le=\"{bound}\"}} {n}");
    }
    body + &format!("latency_seconds_sum{{route=\"/\"}} {sum}\nlatency_seconds_count{{route=\"/\"}} {count}\n")
}

/// A histogram's cumulative `le` buckets become per-bucket increases; new bounds are a reset.
#[test]
fn histograms_become_per_bucket_increases() {
    let mut target = Target::new();
    let first = target.scrape(&histogram(&[("0.1", 2), ("0.5", 5), ("+Inf", 6)], 3.0, 6), Format::Text);
    assert_eq!((first.samples.len(), first.baselines), (0, 1));
    let second = target.scrape(&histogram(&[("0.1", 3), ("0.5", 9), ("+Inf", 12)], 10.5, 12), Format::Text);
    let bounds: Arc<[f64]> = Arc::from([0.1, 0.5]);
    assert_eq!(
        samples(&second),
        [(
            "latency_seconds".to_owned(),
            tags(&["route:/"]),
            SampleValue::Buckets(Box::new(Buckets {
                bounds: Arc::clone(&bounds),
                counts: vec![1, 3, 2],
                sum: 7.5,
                min: None,
                max: None
            }))
        )]
    );
    let third = target.scrape(&histogram(&[("1", 1), ("+Inf", 1)], 0.7, 1), Format::Text);
    let SampleValue::Buckets(b) = &values(&third)[0] else { panic!("{third:?}") };
    assert_eq!((&*b.bounds, &b.counts[..], b.sum), (&[1.0][..], &[1, 0][..], 0.7));
}

/// Buckets without `+Inf` or with counts that go down are skipped and counted; other series
/// of the scrape are kept.
#[test]
fn a_bad_histogram_is_skipped_and_counted() {
    let mut target = Target::new();
    let body = histogram(&[("0.1", 5), ("0.5", 3), ("+Inf", 6)], 1.0, 6) + "up_since 4\n";
    let converted = target.scrape(&body, Format::Text);
    assert_eq!(converted.skipped[Skip::BadHistogram as usize], 1);
    assert_eq!(values(&converted), [SampleValue::Gauge(4.0)]);
    let converted = target.scrape(&histogram(&[("0.1", 5)], 1.0, 6), Format::Text);
    assert_eq!(converted.skipped[Skip::BadHistogram as usize], 1);
}

/// A summary's quantiles are gauges tagged `quantile`; its count and sum are increases.
#[test]
fn summaries_become_quantile_gauges_and_count_and_sum_increases() {
    let mut target = Target::new();
    let body = |q: f64, count: u64, sum: f64| {
        format!(
            "# TYPE rpc summary\nrpc{{quantile=\"0.5\"}} {q}\nrpc{{quantile=\"0.99\"}} 9\nrpc_sum {sum}\nrpc_count {count}\n"
        )
    };
    let first = target.scrape(&body(1.0, 10, 20.0), Format::Text);
    assert_eq!(values(&first), [SampleValue::Gauge(1.0), SampleValue::Gauge(9.0)]);
    let second = target.scrape(&body(2.0, 15, 32.5), Format::Text);
    assert_eq!(
        samples(&second),
        [
            ("rpc".to_owned(), tags(&["quantile:0.5"]), SampleValue::Gauge(2.0)),
            ("rpc".to_owned(), tags(&["quantile:0.99"]), SampleValue::Gauge(9.0)),
            ("rpc_count".to_owned(), tags(&[]), SampleValue::Counter(5.0)),
            ("rpc_sum".to_owned(), tags(&[]), SampleValue::Counter(12.5)),
        ]
    );
}

/// Gauges, untyped lines and lines outside their family's suffixes are gauges named as
/// exposed; NaN is skipped and counted; a target label named `job` or `instance` wins.
#[test]
fn gauges_and_untyped_lines_keep_their_names_and_the_target_labels_win() {
    let mut target = Target::new();
    let body = "# TYPE temp gauge\ntemp{room=\"a\"} -3.5\nloose 7\n# TYPE c counter\nc_total 1\nc_other 2\n\
                empty NaN\nexported{job=\"batch\",instance=\"other:1\"} 1\nbroken{ 1\n";
    let converted = target.scrape(body, Format::Text);
    assert_eq!(
        samples(&converted),
        [
            ("temp".to_owned(), tags(&["room:a"]), SampleValue::Gauge(-3.5)),
            ("loose".to_owned(), tags(&[]), SampleValue::Gauge(7.0)),
            ("c_other".to_owned(), tags(&[]), SampleValue::Gauge(2.0)),
            (
                "exported".to_owned(),
                vec!["instance:other:1".to_owned(), "job:batch".to_owned()],
                SampleValue::Gauge(1.0)
            ),
        ]
    );
    assert_eq!((converted.malformed, converted.lines, converted.baselines), (1, 6, 1));
    assert_eq!(converted.skipped[Skip::NotFinite as usize], 1);
}

/// Beyond `max_series` cumulative series, a new one is skipped and counted; gauges are not
/// limited by it.
#[test]
fn cumulative_series_beyond_max_series_are_skipped_and_counted() {
    let mut target = Target::new();
    target.state = Cumulative::new(2, Duration::from_mins(10), 0);
    let body = "# TYPE c counter\nc_total{n=\"1\"} 1\nc_total{n=\"2\"} 1\nc_total{n=\"3\"} 1\ng 1\n";
    let converted = target.scrape(body, Format::Text);
    assert_eq!((converted.baselines, converted.skipped[Skip::MaxSeries as usize]), (2, 1));
    assert_eq!(values(&converted), [SampleValue::Gauge(1.0)]);
}

/// The indented block that follows the first line of `doc` starting with `lead`.
fn block_after<'d>(doc: &'d str, lead: &str) -> Vec<&'d str> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(lead)).skip(1);
    let lines = lines.by_ref().skip_while(|l| !l.starts_with("    "));
    lines.take_while(|l| l.starts_with("    ")).map(|l| &l[4..]).collect()
}

/// The example of `docs/translation.md` ("Prometheus scrape input") is exactly what the
/// conversion gives.
#[test]
fn the_documented_example_is_what_a_read_gives() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/translation.md")).unwrap();
    let body = block_after(&doc, "A read of the text format that follows").join("\n");
    let want = block_after(&doc, "gives, for `[sources.scrape.app]`");
    let mut target = Target::new();
    let previous = "# TYPE jobs_total counter\njobs_total{kind=\"a\"} 100\n\
                    # TYPE latency_seconds histogram\nlatency_seconds_bucket{route=\"/\",le=\"0.1\"} 2\n\
                    latency_seconds_bucket{route=\"/\",le=\"0.5\"} 5\nlatency_seconds_bucket{route=\"/\",le=\"+Inf\"} 6\n\
                    latency_seconds_sum{route=\"/\"} 3\n# TYPE rpc summary\nrpc_sum 20\nrpc_count 10\n";
    target.scrape(previous, Format::Text);
    let mut got: Vec<String> = samples(&target.scrape(&body, Format::Text))
        .into_iter()
        .map(|(name, tags, value)| {
            let value = match value {
                SampleValue::Counter(v) => format!("counter {v}"),
                SampleValue::Gauge(v) => format!("gauge {v}"),
                SampleValue::Buckets(b) => format!("buckets bounds {:?} counts {:?} sum {}", b.bounds, b.counts, b.sum),
                other => format!("{other:?}"),
            };
            format!("{name} {} {value}", tags.join(" "))
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
}
