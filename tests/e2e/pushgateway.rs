//! End to end through the binary: StatsD lines into sluice, exact cumulative totals read back
//! from a real Pushgateway 1.5 — across windows, a gateway outage and a restart of sluice.

use crate::common;

use std::time::{Duration, Instant};

use common::pushgateway::{Pushgateway, histogram, value};
use common::{Agent, Setup, counter_total};

/// `[agent]` keys of every agent here: a fixed hostname, so the group's `instance` is known.
const AGENT: &str = "hostname = \"e2e-host\"";
const GROUP: [(&str, &str); 2] = [("instance", "e2e-host"), ("job", "sluice")];
const PLAIN: [(&str, &str); 2] = GROUP;
const HOME: [(&str, &str); 3] = [("instance", "e2e-host"), ("job", "sluice"), ("route", "home")];
const AWAY: [(&str, &str); 3] = [("instance", "e2e-host"), ("job", "sluice"), ("route", "away")];

/// Timer buckets counted by the aggregator (ms) and pushed by the sink (s) at the same
/// bounds, so the histogram buckets are exact.
fn sink(gateway: &Pushgateway) -> String {
    format!(
        "buckets = [125, 250, 500, 1000]\n\
         [sinks.pgw]\ntype = \"pushgateway\"\nurl = \"{}\"\nbuckets = [0.125, 0.25, 0.5, 1]\n\
         [sinks.pgw.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"1s\"\n",
        gateway.url()
    )
}

fn start(gateway: &Pushgateway) -> Agent {
    Setup { flush_interval: "1s", agent: AGENT, ..Setup::default() }.start(&sink(gateway))
}

/// The value of `name` with `labels` in this agent's group, once the gateway holds it.
fn read(gateway: &Pushgateway, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value(&gateway.group(&GROUP)?, name, labels)
}

/// Waits until the gateway shows `name` at `expected` (10 s at most).
fn wait_value(gateway: &Pushgateway, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read(gateway, name, labels);
        if got == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} stayed at {got:?}, expected {expected}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Counters with sample rates, gauge deltas, sampled timers, repeated set members and tags
/// sent over two windows reach the gateway as exact cumulative totals, last values and
/// exact histograms (seconds).
#[test]
fn statsd_traffic_over_two_windows_arrives_as_exact_cumulative_totals() {
    let gateway = Pushgateway::start();
    let agent = start(&gateway);
    agent.wait_flush();
    agent.send_udp(&[
        "pg.hits:1|c|#route:home\npg.hits:2|c|#route:home",
        "pg.hits:1|c|@0.1|#route:home",
        "pg.hits:4|c|#route:away",
        "pg.level:10|g\npg.level:+5|g\npg.level:-3|g",
        "pg.lat:125|ms\npg.lat:250|ms|@0.5\npg.lat:2000|ms",
        "pg.users:alice|s\npg.users:bob|s",
    ]);
    agent.wait_lines(12.0);
    agent.wait_flush();
    agent.send_udp(&[
        "pg.hits:5|c|@0.5|#route:home",
        "pg.level:-20|g",
        "pg.lat:500|ms\npg.lat:1000|ms",
        "pg.users:alice|s\npg.users:carol|s\npg.users:alice|s\npg.users:dave|s",
    ]);
    agent.wait_lines(20.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "pg.hits", &["route:home"]), 23.0, "what sluice flushed");

    let group = gateway.group(&GROUP).expect("the group exists");
    assert_eq!(group["pg_hits_total"]["type"], "COUNTER");
    assert_eq!(value(&group, "pg_hits_total", &HOME), Some(23.0));
    assert_eq!(value(&group, "pg_hits_total", &AWAY), Some(4.0));
    assert_eq!(value(&group, "pg_level", &PLAIN), Some(-8.0));
    assert_eq!(value(&group, "pg_users", &PLAIN), Some(3.0), "distinct members of the last window");
    let buckets = vec![(0.125, 1.0), (0.25, 3.0), (0.5, 4.0), (1.0, 5.0), (f64::INFINITY, 6.0)];
    assert_eq!(histogram(&group, "pg_lat", &PLAIN), Some((6.0, 4.125, buckets)));
    assert_eq!(group["last_push_successful"], true);
}

/// Windows flushed while the gateway is down are retried and delivered once it is back
/// (empty): the totals are exact, retries were counted and no series was dropped.
#[test]
fn a_gateway_outage_over_several_windows_loses_no_counts() {
    let mut gateway = Pushgateway::start();
    let agent = start(&gateway);
    agent.send_udp(&["pg.hits:10|c|#route:home"]);
    agent.wait_lines(1.0);
    wait_value(&gateway, "pg_hits_total", &HOME, 10.0);

    gateway.stop();
    agent.wait_flush();
    agent.send_udp(&["pg.hits:10|c|#route:home\npg.lat:250|ms"]);
    agent.wait_lines(3.0);
    agent.wait_flush();
    agent.send_udp(&["pg.hits:5|c|@0.5|#route:home\npg.lat:125|ms|@0.5"]);
    agent.wait_lines(5.0);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"pgw\"}", 1.0);

    gateway.restart();
    wait_value(&gateway, "pg_hits_total", &HOME, 30.0);
    assert!(agent.metric("sluice_backend_retries_total{backend=\"pgw\"}").unwrap() > 0.0);
    assert!(agent.metric("sluice_backend_errors_total{backend=\"pgw\",class=\"retriable\"}").unwrap() > 0.0);
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"pgw\",class=\"rejected\"}"), Some(0.0));
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"pgw\""), 0.0);
    agent.send_udp(&["pg.hits:10|c|#route:home"]);
    agent.wait_lines(6.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "pg.hits", &["route:home"]), 40.0, "what sluice flushed");

    let group = gateway.group(&GROUP).expect("the group exists");
    assert_eq!(value(&group, "pg_hits_total", &HOME), Some(40.0));
    let buckets = vec![(0.125, 2.0), (0.25, 3.0), (0.5, 3.0), (1.0, 3.0), (f64::INFINITY, 3.0)];
    assert_eq!(histogram(&group, "pg_lat", &PLAIN), Some((3.0, 0.5, buckets)));
}

/// A second sluice on the same `data_dir` continues the counters and histograms of the
/// first, even after the gateway itself restarted empty in between.
#[test]
fn counters_continue_from_data_dir_across_a_restart_of_sluice() {
    let mut gateway = Pushgateway::start();
    let data_dir = tempfile::tempdir().unwrap();
    let setup = Setup { flush_interval: "1s", agent: AGENT, data_dir: Some(data_dir.path()), ..Setup::default() };

    let first = setup.start(&sink(&gateway));
    first.send_udp(&["pg.hits:7|c|#route:home\npg.hits:1|c|@0.25|#route:home\npg.lat:500|ms"]);
    first.wait_lines(3.0);
    let (status, _) = first.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(read(&gateway, "pg_hits_total", &HOME), Some(11.0));

    gateway.stop();
    gateway.restart();
    assert!(gateway.group(&GROUP).is_none(), "the gateway keeps nothing");

    let second = setup.start(&sink(&gateway));
    second.send_udp(&["pg.hits:5|c|#route:home\npg.lat:1000|ms"]);
    second.wait_lines(2.0);
    let (status, _) = second.stop();
    assert!(status.success(), "exit status {status}");

    let group = gateway.group(&GROUP).expect("the group exists");
    assert_eq!(value(&group, "pg_hits_total", &HOME), Some(16.0));
    let buckets = vec![(0.125, 0.0), (0.25, 0.0), (0.5, 1.0), (1.0, 2.0), (f64::INFINITY, 2.0)];
    assert_eq!(histogram(&group, "pg_lat", &PLAIN), Some((2.0, 1.5, buckets)));
}

/// A push the gateway refuses (400: the counter is a gauge in another group) is not retried
/// and is counted as rejected; once the conflict is gone the next window delivers the exact
/// cumulative totals, the refused window's counts included.
#[test]
fn a_refused_push_is_not_retried_and_a_later_window_delivers_the_totals() {
    let gateway = Pushgateway::start();
    let (status, body) =
        gateway.request("PUT", "/metrics/job/other", "# TYPE pg_clash_total gauge\npg_clash_total 1\n").unwrap();
    assert_eq!(status, 200, "{body}");
    let agent = start(&gateway);
    // Right after a flush, so that the next window cannot be refused before the counts are read.
    agent.wait_flush();
    agent.send_udp(&["pg.clash:3|c\npg.hits:1|c|#route:home"]);
    agent.wait_lines(2.0);
    agent.wait_metric("sluice_backend_errors_total{backend=\"pgw\",class=\"rejected\"}", 1.0);
    assert_eq!(agent.metric("sluice_backend_dropped_series_total{backend=\"pgw\",reason=\"rejected\"}"), Some(2.0));
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"pgw\",class=\"retriable\"}"), Some(0.0));
    assert_eq!(agent.metric("sluice_backend_retries_total{backend=\"pgw\"}"), Some(0.0));
    assert_eq!(read(&gateway, "pg_hits_total", &HOME), None, "nothing of the group was stored");

    let (status, body) = gateway.request("DELETE", "/metrics/job/other", "").unwrap();
    assert_eq!(status, 202, "{body}");
    agent.send_udp(&["pg.hits:2|c|#route:home"]);
    agent.wait_lines(3.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");

    let group = gateway.group(&GROUP).expect("the group exists");
    assert_eq!(value(&group, "pg_hits_total", &HOME), Some(3.0));
    assert_eq!(value(&group, "pg_clash_total", &PLAIN), Some(3.0));
    assert_eq!(group["last_push_successful"], true);
}
