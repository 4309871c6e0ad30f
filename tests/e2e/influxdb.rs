//! End to end through the binary: StatsD lines into sluice, exact sums read back from a real
//! InfluxDB 1.6 — across windows, an outage of the server, and a partial write it refuses.

use crate::common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::influxdb::Influxd;
use common::{Agent, Setup, counter_total};
use serde_json::Value;
use tokio::runtime::Runtime;

const DB: &str = "sluice";

/// A real `influxd` with database [`DB`], and the runtime its client runs on.
struct Server {
    rt: Runtime,
    influxd: Influxd,
}

impl Server {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let influxd = rt.block_on(Influxd::start());
        rt.block_on(influxd.create_database(DB));
        Self { rt, influxd }
    }

    /// Starts sluice with windows of one second and a sink `influx` writing to [`DB`].
    fn agent(&self) -> Agent {
        let sink = format!(
            "[sinks.influx]\ntype = \"influxdb\"\nurl = \"{}\"\ndatabase = \"{DB}\"\n\
             [sinks.influx.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"1s\"\n",
            self.influxd.url()
        );
        Setup { flush_interval: "1s", agent: "hostname = \"e2e-host\"", ..Setup::default() }.start(&sink)
    }

    /// The rows of `query` (`InfluxQL` on [`DB`]), each value as a number or a string.
    fn rows(&self, query: &str) -> Vec<Vec<Value>> {
        self.rt.block_on(self.influxd.rows(DB, query))
    }

    /// The numbers of the first row of `query` (an aggregate), time left out.
    fn numbers(&self, query: &str) -> Vec<f64> {
        let rows = self.rows(query);
        rows.first().map(|row| row[1..].iter().map(|v| v.as_f64().unwrap()).collect()).unwrap_or_default()
    }

    /// The only value of a one-row aggregate `query`, if any point matched.
    fn number(&self, query: &str) -> Option<f64> {
        let rows = self.rows(query);
        assert!(rows.len() <= 1, "{query}: {rows:?}");
        rows.first().map(|row| row[1].as_f64().unwrap())
    }

    /// Waits until `query` answers `expected` (10 s at most).
    fn wait_number(&self, query: &str, expected: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.number(query);
            if got == Some(expected) {
                return;
            }
            assert!(Instant::now() < deadline, "{query} answered {got:?}, expected {expected}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const HOME_HITS: &str = "SELECT sum(\"value\") FROM \"ix.hits\" WHERE \"route\" = 'home'";

/// Counters with sample rates, gauge deltas, sampled timers, repeated set members and tags
/// sent over two windows are stored exactly: counter sums, the last gauge, timer counts and
/// sums, and each window's distinct set members.
#[test]
fn statsd_traffic_over_two_windows_is_stored_with_exact_values() {
    let server = Server::start();
    let agent = server.agent();
    agent.wait_flush();
    agent.send_udp(&[
        "ix.hits:1|c|#route:home\nix.hits:2|c|#route:home",
        "ix.hits:1|c|@0.1|#route:home",
        "ix.hits:4|c|#route:away",
        "ix.level:10|g\nix.level:+5|g\nix.level:-3|g",
        "ix.lat:125|ms\nix.lat:250|ms|@0.5\nix.lat:2000|ms",
        "ix.users:alice|s\nix.users:bob|s",
    ]);
    agent.wait_lines(12.0);
    agent.wait_flush();
    agent.send_udp(&[
        "ix.hits:5|c|@0.5|#route:home",
        "ix.level:-20|g",
        "ix.lat:500|ms\nix.lat:1000|ms",
        "ix.users:alice|s\nix.users:carol|s\nix.users:alice|s\nix.users:dave|s",
    ]);
    agent.wait_lines(20.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "ix.hits", &["route:home"]), 23.0, "what sluice flushed");

    assert_eq!(server.number(HOME_HITS), Some(23.0));
    assert_eq!(server.number("SELECT sum(\"value\") FROM \"ix.hits\" WHERE \"route\" = 'away'"), Some(4.0));
    assert_eq!(server.number("SELECT last(\"value\") FROM \"ix.level\" WHERE \"host\" = 'e2e-host'"), Some(-8.0));
    let timer = server.numbers("SELECT sum(\"count\"), sum(\"sum\"), min(\"min\"), max(\"max\") FROM \"ix.lat\"");
    assert_eq!(timer, [6.0, 4125.0, 125.0, 2000.0]);
    let sets: Vec<f64> =
        server.rows("SELECT \"value\" FROM \"ix.users\"").iter().map(|r| r[1].as_f64().unwrap()).collect();
    assert_eq!(sets, [2.0, 3.0], "distinct members per window");
}

/// Windows flushed while InfluxDB is down are retried and stored once it is back with the
/// same data: the sums are exact, retries were counted and no series was dropped.
#[test]
fn an_influxdb_outage_over_several_windows_loses_no_counts() {
    let mut server = Server::start();
    let agent = server.agent();
    agent.send_udp(&["ix.hits:10|c|#route:home"]);
    agent.wait_lines(1.0);
    server.wait_number(HOME_HITS, 10.0);

    server.influxd.stop();
    agent.wait_flush();
    agent.send_udp(&["ix.hits:10|c|#route:home\nix.lat:250|ms"]);
    agent.wait_lines(3.0);
    agent.wait_flush();
    agent.send_udp(&["ix.hits:5|c|@0.5|#route:home\nix.lat:125|ms|@0.5"]);
    agent.wait_lines(5.0);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"influx\"}", 1.0);

    server.rt.block_on(server.influxd.resume());
    server.wait_number(HOME_HITS, 30.0);
    assert!(agent.metric("sluice_backend_retries_total{backend=\"influx\"}").unwrap() > 0.0);
    assert!(agent.metric("sluice_backend_errors_total{backend=\"influx\",class=\"retriable\"}").unwrap() > 0.0);
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"influx\",class=\"rejected\"}"), Some(0.0));
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"influx\""), 0.0);
    agent.send_udp(&["ix.hits:10|c|#route:home"]);
    agent.wait_lines(6.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(counter_total(&windows, "ix.hits", &["route:home"]), 40.0, "what sluice flushed");

    assert_eq!(server.number(HOME_HITS), Some(40.0));
    let points = "SELECT count(\"value\") FROM \"ix.hits\"";
    assert_eq!(server.number(points), Some(4.0), "one point per window with hits");
    assert_eq!(server.numbers("SELECT sum(\"count\"), sum(\"sum\") FROM \"ix.lat\""), [3.0, 500.0]);
}

/// A window InfluxDB partly refuses (a field type conflict: a "partial write") is not
/// retried; the refused series is counted as rejected, the good lines of that window are
/// stored once, and later windows are delivered.
#[test]
fn a_partial_write_is_counted_as_rejected_and_later_windows_are_delivered() {
    let server = Server::start();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let (status, body) = server.rt.block_on(server.influxd.write_raw(DB, &format!("ix.clash value=\"text\" {now_ms}")));
    assert_eq!(status, 204, "{body}");
    let agent = server.agent();
    agent.wait_flush();
    agent.send_udp(&["ix.clash:3|c\nix.ok:1|c|#route:home"]);
    agent.wait_lines(2.0);
    agent.wait_metric("sluice_backend_errors_total{backend=\"influx\",class=\"rejected\"}", 1.0);
    agent.send_udp(&["ix.ok:2|c|#route:home"]);
    agent.wait_lines(3.0);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_sent_series_total{backend=\"influx\"}", 2.0);
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"influx\",class=\"rejected\"}"), Some(1.0));
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"influx\",class=\"retriable\"}"), Some(0.0));
    assert_eq!(agent.metric("sluice_backend_retries_total{backend=\"influx\"}"), Some(0.0));
    assert_eq!(agent.metric("sluice_backend_dropped_series_total{backend=\"influx\",reason=\"rejected\"}"), Some(1.0));
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");

    assert_eq!(server.number("SELECT sum(\"value\") FROM \"ix.ok\""), Some(3.0));
    assert_eq!(server.number("SELECT count(\"value\") FROM \"ix.ok\""), Some(2.0), "one point per window");
    let clash = server.rows("SELECT \"value\" FROM \"ix.clash\"");
    assert_eq!(clash.len(), 1, "only the string written before: {clash:?}");
    assert_eq!(clash[0][1], "text");
}
