//! The StatsD backend against a real Etsy StatsD 0.9: what Etsy adds up equals what the
//! windows carried — also through the binary at 30 000 lines a second, over UDP and TCP, and
//! across an Etsy restart.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backends::delivery::{BufferConfig, RetryConfig};
use backends::statsd::{Statsd, StatsdSinkConfig, TagFormat};
use backends::units::Duration as Human;
use backends::{Backend, Series, SeriesKey, Sketch, Summary, SummaryKind, Value, Window};
use common::Setup;
use common::etsy::{Etsy, Totals};

fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

fn counter(name: &str, tags: &[&str], sum: f64) -> Series {
    Series { key: key(name, tags), value: Value::Counter { sum, rate: sum / 10.0 } }
}

fn gauge(name: &str, value: f64) -> Series {
    Series { key: key(name, &[]), value: Value::Gauge { value } }
}

fn set(name: &str, members: &[u64]) -> Series {
    Series { key: key(name, &[]), value: Value::Set { count: members.len() as u64, members: members.to_vec() } }
}

/// A summary as the aggregator builds it from `(value, rate)` samples.
fn summary(name: &str, kind: SummaryKind, samples: &[(f64, f64)]) -> Series {
    let mut sketch = Sketch::new();
    let (mut count, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(v, rate) in samples {
        sketch.add(v, 1.0 / rate);
        count += 1.0 / rate;
        sum += v / rate;
        min = min.min(v);
        max = max.max(v);
    }
    let summary = Summary { kind, count, sum, min, max, percentiles: Vec::new(), buckets: Vec::new(), sketch };
    Series { key: key(name, &[]), value: Value::Summary(Box::new(summary)) }
}

fn window(id: u64, series: Vec<Series>) -> Window {
    Window {
        id,
        start_ms: id * 10_000,
        end_ms: (id + 1) * 10_000,
        hostname: "web-1".into(),
        tags: Arc::new(["env:prod".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    }
}

fn sink(etsy: &Etsy) -> StatsdSinkConfig {
    StatsdSinkConfig {
        address: Some(etsy.addr),
        unix: None,
        transport: None,
        // Unpaced: these windows are 10 s long but carry a handful of datagrams.
        pace: 0.0,
        tag_format: TagFormat::Dogstatsd,
        max_datagram_bytes: None,
        max_samples_per_series: 64,
        pack_values: false,
        summaries_as_timers: true,
        buffer: BufferConfig::default(),
        retry: RetryConfig {
            initial_backoff: Human(Duration::from_millis(50)),
            max_backoff: Human(Duration::from_millis(200)),
            ..RetryConfig::default()
        },
    }
}

/// 1000 samples of 1..=100 ms, each sent at rate 0.1: a count of 10 000.
fn bulk() -> Vec<(f64, f64)> {
    (0..1000).map(|i| (f64::from(i % 100 + 1), 0.1)).collect()
}

/// Five samples at rate 0.3: a fractional count.
fn fractional() -> Vec<(f64, f64)> {
    [2.0, 4.0, 6.0, 8.0, 10.0].map(|v| (v, 0.3)).to_vec()
}

fn fractional_count() -> f64 {
    (0..5).fold(0.0, |total, _| total + 1.0 / 0.3)
}

/// Counter sums, last gauges, timer counts, exact unsampled timer sums, timer bounds and set
/// members forwarded over UDP add up in Etsy StatsD exactly to what the windows carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etsy_totals_equal_the_forwarded_windows() {
    let etsy = Etsy::start();
    let mut backend = Statsd::new(&sink(&etsy)).unwrap();
    let windows = [
        window(
            1,
            vec![
                counter("fwd.hits", &["route:/api"], 30.0),
                counter("fwd.sampled", &[], 2.5),
                counter("fwd.balance", &[], -4.5),
                gauge("fwd.temp", -5.0),
                set("fwd.users", &[1, 2, 3]),
                summary("fwd.latency", SummaryKind::Timer, &[(10.0, 1.0), (20.0, 1.0), (30.0, 1.0)]),
            ],
        ),
        window(
            2,
            vec![
                counter("fwd.hits", &["route:/api"], 12.0),
                counter("fwd.sampled", &[], 2.5),
                gauge("fwd.temp", 7.0),
                set("fwd.users", &[3, 4]),
                summary("fwd.bulk", SummaryKind::Timer, &bulk()),
                summary("fwd.size", SummaryKind::Histogram, &fractional()),
            ],
        ),
        window(3, vec![counter("fwd.balance", &[], 1.0), gauge("fwd.temp", -3.0)]),
    ];
    for w in &windows {
        for batch in backend.encode(w).unwrap() {
            backend.send(&batch.payload).await.unwrap();
        }
    }
    let totals = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| {
            t.counters.len() == 3 && t.gauges.get("fwd.temp;env=prod") == Some(&-3.0)
        })
    });
    let expected = Totals {
        counters: [
            ("fwd.hits;env=prod;route=-api", 42.0),
            ("fwd.sampled;env=prod", 5.0),
            ("fwd.balance;env=prod", -3.5),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        gauges: [("fwd.temp;env=prod".to_owned(), -3.0)].into(),
        timer_counts: [
            ("fwd.latency;env=prod", 3.0),
            ("fwd.bulk;env=prod", 10_000.0),
            ("fwd.size;env=prod", fractional_count()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        timer_sums: totals.timer_sums.clone(),
        timer_bounds: [
            ("fwd.latency;env=prod", (10.0, 30.0)),
            ("fwd.bulk;env=prod", (1.0, 100.0)),
            ("fwd.size;env=prod", (2.0, 10.0)),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        sets: [("fwd.users;env=prod".to_owned(), ["1", "2", "3", "4"].map(str::to_owned).into())].into(),
    };
    assert_eq!(totals, expected);
    // Unsampled timers arrive as one line per sample: Etsy's unweighted sum is exact too.
    assert_eq!(totals.timer_sums["fwd.latency;env=prod"], 60.0);
    assert_eq!(fractional_count(), 16.666_666_666_666_668);
}

/// With Etsy StatsD stopped the sender sees "connection refused" on every datagram and the
/// delivery task retries; after a restart on the same port every buffered window arrives and
/// the totals are exact: nothing lost at the outage's first datagram, nothing sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_sent_during_an_etsy_outage_arrive_after_its_restart() {
    let mut etsy = Etsy::start();
    let config = sink(&etsy);
    let backend = Statsd::new(&config).unwrap();
    let delivery = backends::delivery::spawn("upstream", backend, &config.buffer, &config.retry);
    let push = |id: u64, series: Vec<Series>| delivery.queue.push(Arc::new(window(id, series)));

    push(1, vec![counter("out.hits", &[], 10.0), gauge("out.level", 4.0), set("out.users", &[1])]);
    let before = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| t.counters.get("out.hits;env=prod") == Some(&10.0))
    });
    assert_eq!(before.counters["out.hits;env=prod"], 10.0);

    tokio::task::block_in_place(|| etsy.stop());
    push(
        2,
        vec![counter("out.hits", &[], 20.0), summary("out.t", SummaryKind::Timer, &bulk()), set("out.users", &[2])],
    );
    push(3, vec![counter("out.hits", &[], 30.0), gauge("out.level", -2.0), set("out.users", &[3])]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refused = delivery.stats.errors_retriable.load(Relaxed);
    assert!(refused >= 2, "retriable errors while Etsy was down: {refused}");
    assert_eq!(delivery.stats.status().last_error.as_deref(), Some("I/O error: Connection refused (os error 111)"));
    assert_eq!(delivery.queue.len(), 2);

    tokio::task::block_in_place(|| etsy.restart());
    let after = tokio::task::block_in_place(|| {
        etsy.wait_for(Duration::from_secs(10), |t| t.counters.get("out.hits;env=prod") == Some(&60.0))
    });
    assert_eq!(after.counters["out.hits;env=prod"], 60.0);
    assert_eq!(after.gauges["out.level;env=prod"], -2.0);
    assert_eq!(after.timer_counts["out.t;env=prod"], 10_000.0);
    assert_eq!(after.timer_bounds["out.t;env=prod"], (1.0, 100.0));
    assert_eq!(after.sets["out.users;env=prod"], ["1", "2", "3"].map(str::to_owned).into());
    assert_eq!(delivery.stats.sent_windows.load(Relaxed), 3);
    assert_eq!(delivery.finish(Duration::from_secs(5)).await, 0);
}

// --- through the binary, at the load of issue 10 ---

/// Lines a second the load sends into sluice.
const LOAD_RATE: u64 = 30_000;
/// Distinct names, 60 of each of five kinds.
const LOAD_NAMES: u64 = 300;
/// The load's sender sends every this often.
const LOAD_TICK: Duration = Duration::from_millis(10);
/// The largest datagram the load's sender sends into sluice.
const LOAD_DATAGRAM: usize = 1400;

/// One load test at a time: each drives 30 000 lines a second through an agent and an Etsy,
/// and two at once would measure the machine rather than the sink.
static LOAD: Mutex<()> = Mutex::new(());

/// What the load sent, as Etsy must add it up: counter sums (sample rates applied), last
/// gauges, timer counts and distinct set members, keyed as Etsy names them.
#[derive(Debug, Default)]
struct Truth {
    lines: u64,
    counters: BTreeMap<String, f64>,
    gauges: BTreeMap<String, f64>,
    timer_counts: BTreeMap<String, f64>,
    set_sizes: BTreeMap<String, usize>,
}

/// Line `j` of the load, appended to `out` (without newline), and its effect on `truth`.
/// Names take turns, so each gets `LOAD_RATE / LOAD_NAMES` lines a second: plain and tagged
/// counters, `|@0.5` counters, gauges set and moved by ± deltas (crossing zero), timers and
/// sets.
fn load_line(j: u64, out: &mut String, truth: &mut Truth, members: &mut BTreeMap<String, BTreeSet<u64>>) {
    let (n, round) = (j % LOAD_NAMES, j / LOAD_NAMES);
    match n / 60 {
        0 if n % 6 == 0 => {
            let v = round % 7 + 1;
            write!(out, "ld.tagged.{n}:{v}|c|#route:r{}", n % 3).unwrap();
            *truth.counters.entry(format!("ld.tagged.{n};route=r{}", n % 3)).or_default() += v as f64;
        }
        0 => {
            let v = round % 7 + 1;
            write!(out, "ld.count.{n}:{v}|c").unwrap();
            *truth.counters.entry(format!("ld.count.{n}")).or_default() += v as f64;
        }
        1 => {
            let v = round % 3 + 1;
            write!(out, "ld.sampled.{n}:{v}|c|@0.5").unwrap();
            *truth.counters.entry(format!("ld.sampled.{n}")).or_default() += v as f64 / 0.5;
        }
        2 => {
            let gauge = truth.gauges.entry(format!("ld.gauge.{n}")).or_default();
            if round % 10 == 0 {
                let v = round % 5;
                write!(out, "ld.gauge.{n}:{v}|g").unwrap();
                *gauge = v as f64;
            } else if round % 2 == 0 {
                write!(out, "ld.gauge.{n}:+3|g").unwrap();
                *gauge += 3.0;
            } else {
                write!(out, "ld.gauge.{n}:-4|g").unwrap();
                *gauge -= 4.0;
            }
        }
        3 => {
            write!(out, "ld.timer.{n}:{}|ms", round % 97 + 1).unwrap();
            *truth.timer_counts.entry(format!("ld.timer.{n}")).or_default() += 1.0;
        }
        _ => {
            let member = round % 250;
            write!(out, "ld.set.{n}:m{member}|s").unwrap();
            let set = members.entry(format!("ld.set.{n}")).or_default();
            set.insert(member);
            truth.set_sizes.insert(format!("ld.set.{n}"), set.len());
        }
    }
    truth.lines += 1;
}

/// Sends the load to `target` for `seconds`, on an absolute schedule of [`LOAD_TICK`]s, in
/// datagrams of whole lines; returns what it sent.
fn send_load(target: SocketAddr, seconds: u64) -> Truth {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (mut truth, mut members) = (Truth::default(), BTreeMap::new());
    let per_tick = LOAD_RATE * u64::try_from(LOAD_TICK.as_millis()).unwrap() / 1000;
    let ticks = seconds * 1000 / u64::try_from(LOAD_TICK.as_millis()).unwrap();
    let (mut datagram, mut line) = (String::with_capacity(LOAD_DATAGRAM), String::new());
    let started = Instant::now();
    for tick in 0..ticks {
        for j in tick * per_tick..(tick + 1) * per_tick {
            line.clear();
            load_line(j, &mut line, &mut truth, &mut members);
            if datagram.len() + 1 + line.len() > LOAD_DATAGRAM {
                socket.send_to(datagram.as_bytes(), target).unwrap();
                datagram.clear();
            }
            if !datagram.is_empty() {
                datagram.push('\n');
            }
            datagram.push_str(&line);
        }
        socket.send_to(datagram.as_bytes(), target).unwrap();
        datagram.clear();
        let due = started + LOAD_TICK * u32::try_from(tick + 1).unwrap();
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    truth
}

/// Where Etsy's totals differ from what was sent, one line per kind with the units lost.
fn differences(truth: &Truth, got: &Totals) -> Vec<String> {
    let mut out = Vec::new();
    let sets: BTreeMap<String, usize> = got.sets.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let total = |m: &BTreeMap<String, f64>| m.values().sum::<f64>();
    if got.counters != truth.counters {
        out.push(format!("counters: {} of {} units", total(&got.counters), total(&truth.counters)));
    }
    if got.timer_counts != truth.timer_counts {
        out.push(format!("timers: {} of {} samples", total(&got.timer_counts), total(&truth.timer_counts)));
    }
    if got.gauges != truth.gauges {
        let wrong = truth.gauges.iter().filter(|(k, v)| got.gauges.get(*k) != Some(v)).count();
        out.push(format!("gauges: {wrong} of {} differ", truth.gauges.len()));
    }
    if sets != truth.set_sizes {
        let (got, sent) = (sets.values().sum::<usize>(), truth.set_sizes.values().sum::<usize>());
        out.push(format!("sets: {got} of {sent} members"));
    }
    out
}

/// Sleeps until the wall clock is half-way between two seconds: sluice's one-second windows
/// end on whole seconds, so the upstream is then idle between two flushes.
fn sleep_to_mid_second() {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_millis();
    std::thread::sleep(Duration::from_millis(u64::from((1500 - ms) % 1000)));
}

/// Runs the load for `seconds` through an agent forwarding with `transport` to a fresh Etsy,
/// calling `during` with the Etsy on the test's thread while the load runs; asserts Etsy's
/// totals are exactly what was sent, and that sluice's own socket dropped nothing. Returns the
/// sink's failed sends (`sluice_backend_errors_total`).
fn exact_under_load(transport: &str, seconds: u64, during: impl FnOnce(&mut Etsy)) -> f64 {
    let _one_at_a_time = LOAD.lock().unwrap_or_else(PoisonError::into_inner);
    let mut etsy = Etsy::start();
    let sink = format!(
        "[sinks.upstream]\ntype = \"statsd\"\naddress = \"{}\"\ntransport = \"{transport}\"\n\
         [sinks.upstream.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n",
        etsy.addr
    );
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&sink);
    let udp = agent.udp;
    let sender = std::thread::spawn(move || send_load(udp, seconds));
    during(&mut etsy);
    let truth = sender.join().unwrap();
    assert_eq!(truth.lines, LOAD_RATE * seconds);
    agent.wait_lines(truth.lines as f64);
    // The test's own sender must not overflow sluice: what sluice read is what was sent.
    assert_eq!(agent.metric_sum("sluice_kernel_drops_total"), 0.0, "sluice's receive socket dropped datagrams");
    let got = etsy.wait_for(Duration::from_secs(20), |t| differences(&truth, t).is_empty());
    let errors = agent.metric_sum("sluice_backend_errors_total{backend=\"upstream\"");
    let dropped = agent.metric_sum("sluice_backend_dropped_series_total{backend=\"upstream\"");
    eprintln!(
        "{transport}: {} lines, {} counter units, {} timer samples; sink errors {errors}, dropped series {dropped}",
        truth.lines,
        truth.counters.values().sum::<f64>(),
        truth.timer_counts.values().sum::<f64>()
    );
    assert_eq!(differences(&truth, &got), Vec::<String>::new(), "Etsy's totals differ from what was sent");
    assert_eq!(got.counters.len() + got.gauges.len() + got.timer_counts.len() + got.sets.len(), 300);
    assert_eq!(dropped, 0.0);
    errors
}

/// 30 000 lines a second over 300 names for 10 s, forwarded over UDP in 1 s windows: Etsy's
/// counter sums (tagged and `@0.5` included), timer counts, last gauges and set sizes are
/// exactly what was sent, because each window's datagrams are paced over half its interval.
#[test]
fn thirty_thousand_lines_a_second_arrive_exactly_at_etsy_over_udp() {
    assert_eq!(exact_under_load("udp", 10, |_| {}), 0.0);
}

/// The same load forwarded over TCP to Etsy's `servers/tcp` arrives exactly.
#[test]
fn thirty_thousand_lines_a_second_arrive_exactly_at_etsy_over_tcp() {
    assert_eq!(exact_under_load("tcp", 10, |_| {}), 0.0);
}

/// Under the same load over TCP, Etsy stopped for 5 s and started again loses nothing: the
/// windows of the outage wait and arrive after the restart, and the totals are exact.
///
/// The stop is graceful (SIGTERM, after which Etsy flushes what it holds and exits; see
/// `common::etsy`) and falls half-way between two of sluice's flushes, when every line sluice
/// sent has been read: an upstream that crashes loses its unflushed aggregates, and lines
/// still unread in its socket when it exits are lost with it, which no sender can prevent
/// (the StatsD protocol has no acknowledgement). What this proves is the sender's part: the
/// closed connection is noticed before anything is written into it, the refused reconnects
/// are retried with backoff, and nothing is sent twice.
#[test]
fn an_etsy_restart_under_load_loses_nothing_over_tcp() {
    let refused = exact_under_load("tcp", 12, |etsy| {
        std::thread::sleep(Duration::from_millis(3500));
        sleep_to_mid_second();
        etsy.stop();
        std::thread::sleep(Duration::from_secs(5));
        etsy.restart();
    });
    // Reconnects were refused while Etsy was down (backoff 100 ms up to 500 ms over 5 s).
    assert!(refused >= 5.0, "failed sends during the outage: {refused}");
}

/// Under the same load over TCP, Etsy paused (SIGSTOP) for 5 s loses nothing: it stops
/// reading, TCP holds sluice's lines until it runs again, and its totals are exact. (Over UDP
/// a pause loses whatever overflows the upstream's receive buffer, unseen by any sender.)
#[test]
fn an_etsy_paused_under_load_loses_nothing_over_tcp() {
    let errors = exact_under_load("tcp", 12, |etsy| {
        std::thread::sleep(Duration::from_millis(3500));
        etsy.pause();
        std::thread::sleep(Duration::from_secs(5));
        etsy.resume();
    });
    assert_eq!(errors, 0.0);
}
