//! The internal source through the binary: the agent's own counters reach the windows as
//! `sluice.*` series whose increases add up exactly to what `/metrics` counted, across a
//! reload that replaces the source.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::common;

use common::{Agent, Setup, counter_total, last_gauge, series};

const NAMES: usize = 50;
const PER_DATAGRAM: usize = 100;

/// Sends `datagrams` datagrams of counter lines and `malformed` bad lines.
fn send(agent: &Agent, datagrams: usize, malformed: usize) {
    let mut texts = Vec::new();
    for d in 0..datagrams {
        let mut text = String::new();
        for l in 0..PER_DATAGRAM {
            writeln!(text, "internal.test.{}:1|c", (d * PER_DATAGRAM + l) % NAMES).unwrap();
        }
        texts.push(text);
    }
    let mut all: Vec<&str> = texts.iter().map(String::as_str).collect();
    all.extend(std::iter::repeat_n("not a metric line", malformed));
    agent.send_udp(&all);
}

/// Lines sent and counted over UDP arrive as `sluice.received_lines` of that listener, and
/// malformed ones as `sluice.parse_errors`, with window sums adding up to exactly what was
/// sent — also when a reload replaced the source halfway (its readings continue, nothing is
/// sent twice); gauges such as `sluice.series` arrive as values.
#[test]
fn the_agents_own_counters_reach_the_windows_exactly_across_a_reload() {
    let setup = Setup { flush_interval: "1s", capture_log: true, ..Setup::default() };
    let agent = setup.start("[sources.internal]\ninterval = \"1s\"\n");

    send(&agent, 20, 3);
    agent.wait_lines((20 * PER_DATAGRAM + 3) as f64);
    // A reading after the lines, and a flush after it.
    agent.wait_flush();
    agent.wait_flush();
    agent.reload_with(|config| config.replace("interval = \"1s\"", "interval = \"2s\""));
    let log = agent.path("sluice.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("Configuration reloaded.") {
        assert!(Instant::now() < deadline, "the reload was not applied");
        std::thread::sleep(Duration::from_millis(50));
    }

    send(&agent, 10, 4);
    let lines = (30 * PER_DATAGRAM + 7) as f64;
    agent.wait_lines(lines);
    let counted_errors = agent.metric_sum("sluice_parse_errors_total");
    for _ in 0..3 {
        agent.wait_flush();
    }
    let udp = format!("listener:udp:{}", agent.udp);
    let (status, windows) = agent.stop();
    assert!(status.success());

    assert_eq!(counter_total(&windows, "sluice.received_lines", &[udp.as_str()]), lines);
    let errors: f64 = series(&windows)
        .filter(|(n, _, _)| n == "sluice.parse_errors")
        .map(|(_, _, v)| v["sum"].as_f64().unwrap())
        .sum();
    assert_eq!((errors, counted_errors), (7.0, 7.0));
    let test: f64 = (0..NAMES).map(|i| counter_total(&windows, &format!("internal.test.{i}"), &[])).sum();
    assert_eq!(test, (30 * PER_DATAGRAM) as f64);
    assert!(last_gauge(&windows, "sluice.series").unwrap() >= NAMES as f64);
    assert!(
        series(&windows).any(|(n, tags, _)| n == "sluice.backend_sent_series" && tags == ["backend:file"]),
        "the file sink's own counter is in the windows"
    );
}
