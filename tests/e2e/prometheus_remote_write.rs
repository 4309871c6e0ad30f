//! End to end through the binary: StatsD traffic into sluice, remote write 1.0 out, exact
//! values read back with PromQL from a real Prometheus 2.42 and a real VictoriaMetrics 1.79 —
//! across windows, stale markers, a receiver outage and a SIGKILL of sluice.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::prometheus::{PromQl, Prometheus, Sample};
use common::tls::TestCa;
use common::victoria::Victoria;
use common::{Agent, Setup};

/// Timer bounds counted by the aggregator (ms) and written by the sink (s) at the same
/// values, so every bucket is exact.
const AGGREGATOR_BUCKETS: &str = "buckets = [125, 250, 500, 1000]";
const SINK_BUCKETS: [f64; 4] = [0.125, 0.25, 0.5, 1.0];
/// Timer samples: multiples of 1/8 s, so every sum is exact in binary floating point.
const LATENCIES_MS: [u32; 7] = [125, 250, 375, 500, 625, 1000, 2000];
const ROUTES: u32 = 30;
const CODES: u32 = 10;
const GAUGES: u32 = 50;
const TIMERS: u32 = 40;
const SETS: u32 = 20;
const SERVICES: u32 = 100;
const DEBUG_NAMES: u32 = 50;

/// A glob rule with a capture label and a drop rule: `rw.svc.<s>.hits` becomes
/// `svc_hits_total{service="<s>"}`, every `rw.debug.*` name is left out.
const RULES: &str = r#"
[[mappings]]
match = "rw.svc.*.hits"
name = "svc_hits"
labels = { service = "$1" }

[[mappings]]
match = "rw.debug.*"
action = "drop"
"#;

/// What the receiver must hold, computed from the lines the test sent: per label set
/// (without `__name__`, `job` and `instance`, written `k=v,k=v`), the value.
#[derive(Debug, Default, Clone)]
struct Truth {
    counters: BTreeMap<String, f64>,
    gauges: BTreeMap<String, f64>,
    /// Per endpoint: weighted count, sum in seconds, cumulative count per bound.
    timers: BTreeMap<String, (f64, f64, [f64; 4])>,
    sets: BTreeMap<String, f64>,
    /// Counters renamed by the glob rule of [`RULES`], by `service`.
    mapped: BTreeMap<String, f64>,
    /// After a restart of sluice: the gauges touched since. A gauge lives in the aggregator's
    /// memory, so the first delta after a restart applies to 0.
    restarted: Option<std::collections::BTreeSet<String>>,
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u32) -> u32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % u64::from(below)) as u32
    }
}

impl Truth {
    /// `lines` StatsD lines of counters (with sample rates), gauges (set and deltas) and
    /// timers (with sample rates) over every series, folded into the truth.
    fn traffic(&mut self, seed: u64, lines: usize) -> Vec<String> {
        let mut rng = Lcg(seed);
        let mut out = Vec::with_capacity(lines);
        for i in 0..lines {
            let (rate, rate_text) = [(1.0, ""), (0.5, "|@0.5"), (0.25, "|@0.25")][rng.next(3) as usize];
            match i % 4 {
                0 | 1 => {
                    let (route, code, value) = (rng.next(ROUTES), rng.next(CODES), 1 + rng.next(9));
                    *self.counters.entry(format!("code=c{code},route=r{route}")).or_default() +=
                        f64::from(value) / rate;
                    out.push(format!("rw.req:{value}|c{rate_text}|#route:r{route},code:c{code}"));
                }
                2 => {
                    let g = rng.next(GAUGES);
                    let name = format!("g={g}");
                    let gauge = self.gauges.entry(name.clone()).or_default();
                    if let Some(touched) = &mut self.restarted
                        && touched.insert(name)
                    {
                        *gauge = 0.0;
                    }
                    let value = i64::from(rng.next(200)) - 100;
                    if rng.next(2) == 0 || value < 0 {
                        // A negative plain value would be a delta: send it as one.
                        *gauge += value as f64;
                        out.push(format!("rw.level:{value:+}|g|#g:{g}"));
                    } else {
                        *gauge = value as f64;
                        out.push(format!("rw.level:{value}|g|#g:{g}"));
                    }
                }
                _ => {
                    let (ep, ms) = (rng.next(TIMERS), LATENCIES_MS[rng.next(LATENCIES_MS.len() as u32) as usize]);
                    let timer = self.timers.entry(format!("ep={ep}")).or_default();
                    timer.0 += 1.0 / rate;
                    timer.1 += f64::from(ms) / 1000.0 / rate;
                    for (bound, count) in SINK_BUCKETS.iter().zip(timer.2.iter_mut()) {
                        if f64::from(ms) / 1000.0 <= *bound {
                            *count += 1.0 / rate;
                        }
                    }
                    out.push(format!("rw.lat:{ms}|ms{rate_text}|#ep:{ep}"));
                }
            }
        }
        out
    }

    /// Set members, some repeated, for every set: sent within one window.
    fn sets(&mut self, seed: u64) -> Vec<String> {
        let mut rng = Lcg(seed);
        let mut out = Vec::new();
        for s in 0..SETS {
            let members = 1 + rng.next(12);
            for m in 0..members {
                out.push(format!("rw.users:u{m}|s|#set:{s}"));
                if rng.next(3) == 0 {
                    out.push(format!("rw.users:u{m}|s|#set:{s}"));
                }
            }
            self.sets.insert(format!("set={s}"), f64::from(members));
        }
        out
    }

    /// Counter lines for the glob rule (five per service, sample rates included) and lines
    /// of names the drop rule leaves out (counters, gauges and timers).
    fn mapped(&mut self, seed: u64) -> Vec<String> {
        let mut rng = Lcg(seed);
        let mut out = Vec::new();
        for _ in 0..5 {
            for s in 0..SERVICES {
                let (rate, rate_text) = [(1.0, ""), (0.5, "|@0.5")][rng.next(2) as usize];
                let value = 1 + rng.next(9);
                *self.mapped.entry(format!("service=s{s}")).or_default() += f64::from(value) / rate;
                out.push(format!("rw.svc.s{s}.hits:{value}|c{rate_text}"));
            }
        }
        for d in 0..DEBUG_NAMES {
            out.push(format!("rw.debug.c{d}:1|c"));
            out.push(format!("rw.debug.g{d}:{d}|g"));
            out.push(format!("rw.debug.t{d}:250|ms"));
        }
        out
    }

    /// Every histogram series the receiver must hold, by label set with `le`.
    fn histogram_series(&self) -> (BTreeMap<String, f64>, BTreeMap<String, f64>, BTreeMap<String, f64>) {
        let mut buckets = BTreeMap::new();
        let (mut sums, mut counts) = (BTreeMap::new(), BTreeMap::new());
        for (ep, (count, sum, cumulative)) in &self.timers {
            for (bound, c) in ["0.125", "0.25", "0.5", "1"].iter().zip(cumulative) {
                buckets.insert(format!("{ep},le={bound}"), *c);
            }
            buckets.insert(format!("{ep},le=+Inf"), *count);
            sums.insert(ep.clone(), *sum);
            counts.insert(ep.clone(), *count);
        }
        (buckets, sums, counts)
    }
}

/// Sends `lines` to the agent, 20 to a datagram, pausing now and then so the kernel's socket
/// buffer never overflows.
fn send(agent: &Agent, lines: &[String]) {
    let datagrams: Vec<String> = lines.chunks(20).map(|c| c.join("\n")).collect();
    for chunk in datagrams.chunks(40) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        agent.send_udp(&refs);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A label set as the truth writes it: every label but `__name__`, `job` and `instance`.
fn key(labels: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.sort_by(|a, b| {
        // `le` last, as the truth writes it.
        (a.starts_with("le="), a).cmp(&(b.starts_with("le="), b))
    });
    parts.join(",")
}

fn by_key(samples: Vec<Sample>) -> BTreeMap<String, f64> {
    samples.into_iter().map(|(labels, value)| (key(&labels), value)).collect()
}

/// Every query and the values it must give, against `server`, until they match (30 s at
/// most); panics with the first difference.
fn wait_exact(server: &dyn PromQl, truth: &Truth) {
    let (buckets, sums, counts) = truth.histogram_series();
    let checks: Vec<(&str, BTreeMap<String, f64>)> = vec![
        ("last_over_time(rw_req_total{job=\"sluice\",instance=\"rw-host\"}[1h])", truth.counters.clone()),
        ("last_over_time(rw_level{job=\"sluice\"}[1h])", truth.gauges.clone()),
        ("last_over_time(rw_lat_bucket{job=\"sluice\"}[1h])", buckets),
        ("last_over_time(rw_lat_sum{job=\"sluice\"}[1h])", sums),
        ("last_over_time(rw_lat_count{job=\"sluice\"}[1h])", counts),
        ("max_over_time(rw_users{job=\"sluice\"}[1h])", truth.sets.clone()),
        ("last_over_time(svc_hits_total{job=\"sluice\"}[1h])", truth.mapped.clone()),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    for (query, expected) in checks {
        loop {
            let got = server.query(query).map(by_key);
            if got.as_ref() == Some(&expected) {
                break;
            }
            if Instant::now() > deadline {
                let got = got.unwrap_or_default();
                let missing: Vec<_> = expected.iter().filter(|(k, v)| got.get(*k) != Some(v)).take(5).collect();
                panic!(
                    "{query}: {} series expected, {} read; first differences (expected): {missing:?}; read: {:?}",
                    expected.len(),
                    got.len(),
                    missing.iter().map(|(k, _)| got.get(*k)).collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn sink(url: &str, extra: &str) -> String {
    format!(
        "{AGGREGATOR_BUCKETS}\n\
         [sinks.rw]\ntype = \"prometheus_remote_write\"\nurl = \"{url}\"\nbuckets = {SINK_BUCKETS:?}\n\
         max_samples_per_request = 250\n{extra}\
         [sinks.rw.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n"
    )
}

/// `[agent]` keys: a fixed hostname (the `instance` label) and gauges that expire after 4
/// windows of silence.
const AGENT: &str = "hostname = \"rw-host\"\nexpire_after_windows = 4";

/// Thousands of lines over hundreds of series in 1 s windows reach Prometheus as exact
/// counter totals, histogram buckets, sums and counts, gauges and set sizes; mapping rules
/// rename and label 100 counters (exact totals under the new name) and keep 150 series out
/// entirely; once the gauges expire in the aggregator their stale markers end them at once
/// (an instant query no longer finds them, while their samples are still stored).
#[test]
fn statsd_traffic_reaches_prometheus_exactly_mapped_and_expired_gauges_go_stale() {
    let prometheus = Prometheus::start();
    let config = format!("{}{RULES}", sink(&prometheus.write_url(), ""));
    let agent = Setup { flush_interval: "1s", agent: AGENT, ..Setup::default() }.start(&config);
    let mut truth = Truth::default();
    let mut sent = 0;
    for burst in 0..3 {
        let lines = truth.traffic(burst, 2000);
        send(&agent, &lines);
        sent += lines.len();
        agent.wait_lines(sent as f64);
        agent.wait_flush();
    }
    agent.wait_flush();
    let sets = truth.sets(99);
    send(&agent, &sets);
    sent += sets.len();
    let mapped = truth.mapped(7);
    send(&agent, &mapped);
    sent += mapped.len();
    agent.wait_lines(sent as f64);
    assert_eq!(truth.counters.len(), (ROUTES * CODES) as usize, "every counter series was sent");
    assert_eq!(truth.mapped.len(), SERVICES as usize, "every mapped counter was sent");
    wait_exact(&prometheus, &truth);
    // The drop rule's names never reached Prometheus, under any name; the glob rule's
    // counters are there only under their new name.
    for query in
        ["count(last_over_time({__name__=~\".*debug.*\"}[1h]))", "count(last_over_time({__name__=~\"rw_svc.*\"}[1h]))"]
    {
        assert_eq!(prometheus.query(query), Some(Vec::new()), "{query}");
    }
    let names = prometheus.query("count by (__name__) (last_over_time({job=\"sluice\"}[1h]))").unwrap();
    let names: std::collections::BTreeSet<&str> = names.iter().map(|(l, _)| l["__name__"].as_str()).collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["rw_lat_bucket", "rw_lat_count", "rw_lat_sum", "rw_level", "rw_req_total", "rw_users", "svc_hits_total"]
    );
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"rw\""), 0.0);
    assert_eq!(
        agent.metric("sluice_backend_errors_total{backend=\"rw\",class=\"rejected\"}"),
        Some(0.0),
        "{}",
        prometheus.log()
    );

    // The gauges get no more lines: after 4 windows they expire and are marked stale.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live = prometheus.query("count(rw_level)").map(|v| v.first().map_or(0.0, |s| s.1));
        if live == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the expired gauges are still live: {live:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let stored = prometheus.query("count(last_over_time(rw_level[1h]))").unwrap();
    assert_eq!(stored[0].1, f64::from(GAUGES), "the gauges' samples are still stored");
    assert_eq!(prometheus.query("count(rw_req_total)").unwrap()[0].1, f64::from(ROUTES * CODES), "counters stay live");
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}

/// VictoriaMetrics gets the same exact values through an outage of several windows, a
/// SIGKILL of sluice during it (the disk buffer keeps the undelivered windows, the state file
/// the totals) and a restart of both: nothing is lost, nothing counted twice, no counter
/// ever goes down.
#[test]
fn victoria_metrics_gets_exact_totals_through_an_outage_and_a_sigkill_of_sluice() {
    let mut victoria = Victoria::start();
    let data_dir = tempfile::tempdir().unwrap();
    let setup = Setup { flush_interval: "1s", agent: AGENT, data_dir: Some(data_dir.path()), ..Setup::default() };
    let config = sink(&victoria.write_url(), "[sinks.rw.buffer]\ntype = \"disk\"\n");
    let mut truth = Truth::default();

    let mut first = setup.start(&config);
    let lines = truth.traffic(1, 2000);
    send(&first, &lines);
    first.wait_lines(lines.len() as f64);
    wait_exact(&victoria, &truth);

    // Outage: windows queue in the disk buffer while the receiver is down.
    victoria.stop();
    let mut sent = lines.len();
    for burst in 2..4 {
        first.wait_flush();
        let lines = truth.traffic(burst, 1500);
        send(&first, &lines);
        sent += lines.len();
        first.wait_lines(sent as f64);
    }
    first.wait_flush();
    first.wait_flush();
    first.wait_metric("sluice_backend_retries_total{backend=\"rw\"}", 1.0);
    first.wait_metric("sluice_backend_buffered_windows{backend=\"rw\"}", 2.0);
    // SIGKILL: no shutdown, no final save.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);

    truth.restarted = Some(std::collections::BTreeSet::new());
    let second = setup.start(&config);
    victoria.restart();
    let lines = truth.traffic(4, 1000);
    send(&second, &lines);
    second.wait_lines(lines.len() as f64);
    wait_exact(&victoria, &truth);
    assert_eq!(second.metric_sum("sluice_backend_dropped_series_total{backend=\"rw\""), 0.0);

    // No counter went down across the outage and the kill: every stored total is at least the
    // one before it (stale markers are no totals).
    let exported = victoria.export("rw_req_total").expect("VictoriaMetrics answers the export");
    assert_eq!(exported.len(), (ROUTES * CODES) as usize);
    for (labels, points) in &exported {
        let totals: Vec<f64> = points.iter().map(|p| p.1).filter(|v| !v.is_nan()).collect();
        assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{labels}: {totals:?}");
    }
    let (status, _) = second.stop();
    assert!(status.success(), "exit status {status}");
}

/// A disk-buffered sink rebuilt by a reload while VictoriaMetrics is down and windows wait in
/// the old sink's spool: the new sink takes over the spool and continues from the totals the
/// old one saved, so after the receiver returns every value is exact and no stored total ever
/// went down.
#[test]
fn a_reloaded_sink_takes_over_the_spool_and_the_totals_exactly() {
    let mut victoria = Victoria::start();
    // Gauges never expire here: the outage and the reload take more windows than `AGENT`
    // keeps an untouched gauge, after which a delta would start again from 0.
    let agent_keys = "hostname = \"rw-host\"\nexpire_after_windows = 600";
    let setup = Setup { flush_interval: "1s", agent: agent_keys, ..Setup::default() };
    let agent = setup.start(&sink(&victoria.write_url(), "[sinks.rw.buffer]\ntype = \"disk\"\n"));
    let mut truth = Truth::default();
    let lines = truth.traffic(11, 1500);
    send(&agent, &lines);
    let mut sent = lines.len();
    agent.wait_lines(sent as f64);
    wait_exact(&victoria, &truth);

    victoria.stop();
    for burst in 12..14 {
        agent.wait_flush();
        let lines = truth.traffic(burst, 1000);
        send(&agent, &lines);
        sent += lines.len();
        agent.wait_lines(sent as f64);
    }
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"rw\"}", 1.0);
    agent.reload_with(|c| c.replace("max_backoff = \"500ms\"", "max_backoff = \"400ms\""));
    // The rebuilt sink's counters start from zero.
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.metric("sluice_backend_retries_total{backend=\"rw\"}") != Some(0.0) {
        assert!(Instant::now() < deadline, "the sink was not rebuilt");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Into the new sink, while the old one's windows still wait for the receiver.
    let lines = truth.traffic(14, 1000);
    send(&agent, &lines);
    sent += lines.len();
    agent.wait_lines(sent as f64);
    victoria.restart();
    wait_exact(&victoria, &truth);
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"rw\""), 0.0);

    let exported = victoria.export("rw_req_total").expect("VictoriaMetrics answers the export");
    assert_eq!(exported.len(), (ROUTES * CODES) as usize);
    for (labels, points) in &exported {
        let totals: Vec<f64> = points.iter().map(|p| p.1).filter(|v| !v.is_nan()).collect();
        assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{labels}: {totals:?}");
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "{labels}: timestamps in order");
    }
    let replayed = agent.metric("sluice_backend_replayed_windows_total{backend=\"rw\"}").unwrap_or(0.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
    eprintln!("remote write reload: the new sink replayed {replayed} windows of the old sink's spool");
}

/// An `https://` receiver behind a private CA: the sink given that CA as `ca_file` writes
/// exact values through TLS, while a sink without it refuses the certificate (the shared client
/// trusts the system's roots only), retries and delivers nothing.
#[test]
fn tls_to_a_receiver_behind_a_private_ca_takes_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let mut prometheus = Prometheus::start_tls(&ca);
    let url = prometheus.write_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let config = format!(
        "{}[sinks.untrusted]\ntype = \"prometheus_remote_write\"\nurl = \"{url}\"\njob = \"untrusted\"\n\
         [sinks.untrusted.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"200ms\"\n",
        sink(&url, &format!("ca_file = {:?}\n", ca.ca.display().to_string()))
    );
    let agent = Setup { flush_interval: "1s", agent: "hostname = \"rw-host\"", ..Setup::default() }.start(&config);
    let mut truth = Truth::default();
    let lines = truth.traffic(21, 2000);
    send(&agent, &lines);
    agent.wait_lines(lines.len() as f64);
    agent.wait_metric("sluice_backend_retries_total{backend=\"untrusted\"}", 3.0);
    // Stopping flushes the last window; the untrusted sink still holds its windows.
    let (_, windows) = agent.stop();
    assert!(!windows.is_empty());
    assert!(prometheus.log().contains("TLS handshake error"), "{}", prometheus.log());

    prometheus.restart_plain();
    wait_exact(&prometheus, &truth);
    let jobs = prometheus.query("count by (job) (last_over_time(rw_req_total[1h]))").unwrap();
    assert_eq!(jobs.len(), 1, "only the trusted sink wrote: {jobs:?}");
    assert_eq!(jobs[0].0["job"], "sluice");
}
