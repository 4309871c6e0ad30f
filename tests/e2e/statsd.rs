//! End to end through the binary: StatsD lines into sluice, forwarded to a real Etsy StatsD
//! 0.9, whose flushes add up exactly to what sluice received — also across an outage.

use crate::common;

use std::time::Duration;

use common::etsy::{Etsy, Totals};
use common::{Agent, Setup, counter_total};

/// How long Etsy may take to show what sluice forwarded.
const ARRIVAL: Duration = Duration::from_secs(10);

/// Starts sluice with windows of one second and a sink `upstream` forwarding to `etsy`.
fn start(etsy: &Etsy) -> Agent {
    let sink = format!(
        "[sinks.upstream]\ntype = \"statsd\"\naddress = \"{}\"\n\
         [sinks.upstream.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"1s\"\n",
        etsy.addr
    );
    Setup { flush_interval: "1s", ..Setup::default() }.start(&sink)
}

fn counter(totals: &Totals, key: &str) -> Option<f64> {
    totals.counters.get(key).copied()
}

/// Counters with sample rates, gauge deltas (ending below zero), sampled timers, repeated
/// set members and tags sent over two windows add up in Etsy's flushes exactly: counter sums,
/// the last gauge, timer counts and bounds, unsampled timer sums and distinct set members.
#[test]
fn statsd_traffic_over_two_windows_adds_up_exactly_upstream() {
    let etsy = Etsy::start();
    let agent = start(&etsy);
    agent.wait_flush();
    agent.send_udp(&[
        "st.hits:1|c|#route:home\nst.hits:2|c|#route:home",
        "st.hits:1|c|@0.1|#route:home",
        "st.hits:4|c|#route:away",
        "st.level:10|g\nst.level:+5|g\nst.level:-3|g",
        "st.lat:125|ms\nst.lat:250|ms|@0.5\nst.lat:2000|ms",
        "st.db:10|ms\nst.db:20|ms",
        "st.users:alice|s\nst.users:bob|s",
    ]);
    agent.wait_lines(14.0);
    agent.wait_flush();
    agent.send_udp(&[
        "st.hits:5|c|@0.5|#route:home",
        "st.level:-20|g",
        "st.lat:500|ms\nst.lat:1000|ms",
        "st.db:30|ms",
        "st.users:alice|s\nst.users:carol|s\nst.users:alice|s\nst.users:dave|s",
    ]);
    agent.wait_lines(23.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "st.hits", &["route:home"]), 23.0, "what sluice flushed");

    let totals = etsy.wait_for(ARRIVAL, |t| counter(t, "st.hits;route=home") == Some(23.0));
    assert_eq!(counter(&totals, "st.hits;route=home"), Some(23.0));
    assert_eq!(counter(&totals, "st.hits;route=away"), Some(4.0));
    assert_eq!(totals.gauges.get("st.level"), Some(&-8.0));
    assert_eq!(totals.timer_counts.get("st.lat"), Some(&6.0));
    assert_eq!(totals.timer_bounds.get("st.lat"), Some(&(125.0, 2000.0)));
    assert_eq!(totals.timer_counts.get("st.db"), Some(&3.0));
    assert_eq!(totals.timer_sums.get("st.db"), Some(&60.0));
    assert_eq!(totals.sets.get("st.users").map(std::collections::BTreeSet::len), Some(4), "alice, bob, carol, dave");
}

/// Windows flushed while Etsy is down are refused by the kernel ("connection refused"),
/// retried, and arrive after its restart on the same port: the totals are exact, retries
/// were counted and no series was dropped.
#[test]
fn an_etsy_outage_over_several_windows_loses_no_counts() {
    let mut etsy = Etsy::start();
    let agent = start(&etsy);
    agent.send_udp(&["st.hits:10|c|#route:home"]);
    agent.wait_lines(1.0);
    let before = etsy.wait_for(ARRIVAL, |t| counter(t, "st.hits;route=home") == Some(10.0));
    assert_eq!(counter(&before, "st.hits;route=home"), Some(10.0));

    etsy.stop();
    agent.wait_flush();
    agent.send_udp(&["st.hits:10|c|#route:home\nst.lat:250|ms"]);
    agent.wait_lines(3.0);
    agent.wait_flush();
    agent.send_udp(&["st.hits:5|c|@0.5|#route:home\nst.lat:125|ms|@0.5"]);
    agent.wait_lines(5.0);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"upstream\"}", 1.0);

    etsy.restart();
    let during = etsy.wait_for(ARRIVAL, |t| counter(t, "st.hits;route=home") == Some(30.0));
    assert_eq!(counter(&during, "st.hits;route=home"), Some(30.0));
    assert!(agent.metric("sluice_backend_retries_total{backend=\"upstream\"}").unwrap() > 0.0);
    assert!(agent.metric("sluice_backend_errors_total{backend=\"upstream\",class=\"retriable\"}").unwrap() > 0.0);
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"upstream\",class=\"rejected\"}"), Some(0.0));
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"upstream\""), 0.0);
    agent.send_udp(&["st.hits:10|c|#route:home"]);
    agent.wait_lines(6.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "st.hits", &["route:home"]), 40.0, "what sluice flushed");

    let after = etsy.wait_for(ARRIVAL, |t| counter(t, "st.hits;route=home") == Some(40.0));
    assert_eq!(counter(&after, "st.hits;route=home"), Some(40.0));
    assert_eq!(after.timer_counts.get("st.lat"), Some(&3.0));
    assert_eq!(after.timer_bounds.get("st.lat"), Some(&(125.0, 250.0)));
}
