//! The StatsD backend through the binary against a real Etsy StatsD 0.9, at 30 000 lines a
//! second over UDP and TCP, and across an Etsy restart or pause: what Etsy adds up equals what
//! was sent. The backend driven directly is in `backends/tests/library/statsd.rs`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Setup;
use common::etsy::{Etsy, Totals};

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
