//! Crashes and stops: `SIGKILL` with the backends down, between the requests of one window,
//! in the middle of a spool write; `SIGTERM` with the backend down; the Pushgateway's
//! cumulative totals across a crash.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::Setup;
use crate::common::capture::{Capture, Mode};
use crate::common::pushgateway::{Pushgateway, value};
use crate::support::{Influx, assert_in_order_once, disk_sink, metric, segments, send_counters, setup, sigkill};

/// Row 2. The agent is killed with `SIGKILL` while both backends are down and restarted; they come back:
/// the windows acknowledged before the crash are not sent again, the spooled ones are sent
/// once, and exactly the open window (sent after the last flush) is lost.
#[test]
fn sigkill_while_backends_are_down_then_restart_delivers_exact_totals_and_nothing_twice() {
    let data = tempfile::tempdir().unwrap();
    let mut influx = Influx::start();
    let capture = Capture::start(Mode::Store);
    let sinks = disk_sink("influx", &influx.influxd.url(), "") + &disk_sink("capture", &capture.url(), "");
    let agent = setup(Some(data.path())).start(&sinks);
    agent.send_udp(&["fault.kill:1|c"]);
    capture.wait_sum("fault.kill", 1.0, Duration::from_secs(10));
    influx.wait_sum("fault.kill", 1.0, Duration::from_secs(10));

    influx.influxd.stop();
    capture.set_mode(Mode::Fail(503));
    for n in 1..=3 {
        agent.wait_flush();
        agent.send_udp(&["fault.kill:10|c"]);
        agent.wait_lines(1.0 + f64::from(n));
    }
    agent.wait_flush();
    std::thread::sleep(Duration::from_millis(200));
    assert!(metric(&agent, "sluice_backend_spooled_windows", "capture") >= 3.0);
    // Lines of the open window: received, not yet flushed, so lost to SIGKILL by design.
    agent.send_udp(&["fault.kill:100|c"]);
    agent.wait_lines(5.0);
    sigkill(agent);

    let agent = setup(Some(data.path())).start(&sinks);
    influx.resume();
    capture.set_mode(Mode::Store);
    influx.wait_sum("fault.kill", 31.0, Duration::from_secs(20));
    capture.wait_sum("fault.kill", 31.0, Duration::from_secs(20));
    agent.wait_metric("sluice_backend_replayed_windows_total{backend=\"capture\"}", 3.0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(capture.sum("fault.kill"), 31.0, "nothing arrived twice");
    assert_in_order_once(&capture, "fault.kill");
    assert_eq!(influx.number("SELECT count(\"value\") FROM \"fault.kill\""), Some(4.0));
    assert_eq!(agent.backend_status("capture")["replay"]["pending"], 0);
    eprintln!("row 2: sent 131, delivered 31 once each, lost 100 = exactly the open window at SIGKILL");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 2b. The agent is killed with `SIGKILL` in the middle of a window sent in three
/// requests (12 000 series, 5 000 lines a request), after the first two were acknowledged and
/// while the third fails: after the restart only the third is sent, so every series arrives
/// exactly once.
#[test]
fn sigkill_between_the_requests_of_one_window_resumes_after_the_acknowledged_ones() {
    let data = tempfile::tempdir().unwrap();
    let capture = Capture::start(Mode::StoreThenFail { stored: 2, status: 503 });
    let sink = disk_sink("capture", &capture.url(), "");
    let agent = setup(Some(data.path())).start(&sink);
    agent.wait_flush();
    send_counters(&agent, "fault.batch", 12_000, 1);
    agent.wait_lines(12_000.0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !capture.requests().iter().any(|r| r.status == 503) {
        assert!(Instant::now() < deadline, "the third request never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(capture.stored().len(), 10_000, "two requests of 5 000 lines acknowledged");
    // The progress record follows the second acknowledgement by one small write.
    std::thread::sleep(Duration::from_millis(200));
    sigkill(agent);

    capture.set_mode(Mode::Store);
    let agent = setup(Some(data.path())).start(&sink);
    agent.wait_metric("sluice_backend_replayed_windows_total{backend=\"capture\"}", 1.0);
    let stored = capture.stored();
    let unique: HashSet<&str> = stored.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(stored.len(), 12_000, "each series stored once, none twice");
    assert_eq!(unique.len(), 12_000);
    let after_restart: Vec<usize> =
        capture.requests().iter().filter(|r| r.status == 204).map(|r| r.lines.len()).skip(2).collect();
    assert_eq!(after_restart, [2_000], "only the third request was sent again");
    eprintln!("row 2b: 12 000 series in 3 requests, SIGKILL after 2 acknowledged; the replay sent the last 2 000 only");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 3. A SIGKILL in the middle of a spool write, made by truncating the last segment: the
/// torn record is counted, every record before it replays.
#[test]
fn a_torn_record_at_the_spool_tail_is_counted_and_the_rest_replays() {
    let data = tempfile::tempdir().unwrap();
    let capture = Capture::start(Mode::Fail(503));
    let sinks = disk_sink("capture", &capture.url(), "");
    let setup = Setup { flush_interval: "2s", data_dir: Some(data.path()), ..Setup::default() };
    let agent = setup.start(&sinks);
    for (n, value) in [1, 2, 100].into_iter().enumerate() {
        agent.wait_flush();
        agent.send_udp(&[&format!("fault.torn:{value}|c")]);
        agent.wait_lines(n as f64 + 1.0);
    }
    agent.wait_flush();
    std::thread::sleep(Duration::from_millis(300));
    sigkill(agent);
    let last = segments(&data.path().join("spool/capture")).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 10).unwrap();

    capture.set_mode(Mode::Store);
    let agent = setup.start(&sinks);
    capture.wait_sum("fault.torn", 3.0, Duration::from_secs(10));
    assert_eq!(metric(&agent, "sluice_backend_spool_corrupt_records_total", "capture"), 1.0);
    assert_eq!(agent.backend_status("capture")["spool_corrupt_records"], 1);
    assert_in_order_once(&capture, "fault.torn");
    eprintln!("row 3: torn window (100) counted once, windows 1 and 2 replayed (sum 3)");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// SIGTERM while the backend is down: the open window is flushed into the spool and the
/// agent exits 0 after `shutdown_timeout`; the next start delivers every window exactly once.
#[test]
fn sigterm_with_the_backend_down_keeps_the_open_window_and_the_queue_for_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let capture = Capture::start(Mode::Fail(503));
    let sinks = disk_sink("capture", &capture.url(), "");
    let agent = setup(Some(data.path())).start(&sinks);
    agent.send_udp(&["fault.term:1|c"]);
    agent.wait_lines(1.0);
    agent.wait_flush();
    // The open window: flushed by the shutdown itself.
    agent.send_udp(&["fault.term:10|c"]);
    agent.wait_lines(2.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert!(capture.sum("fault.term") == 0.0);

    capture.set_mode(Mode::Store);
    let agent = setup(Some(data.path())).start(&sinks);
    capture.wait_sum("fault.term", 11.0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_in_order_once(&capture, "fault.term");
    assert_eq!(capture.sum("fault.term"), 11.0);
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// The Pushgateway's totals are cumulative: the agent is killed with `SIGKILL` while the
/// gateway is down and restarted, the gateway comes back, and the counter's total is exactly
/// what was flushed, its spooled windows added once.
#[test]
fn a_cumulative_pushgateway_total_is_exact_after_sigkill_and_replay() {
    let data = tempfile::tempdir().unwrap();
    let mut gateway = Pushgateway::start();
    let sink = format!(
        "[sinks.pgw]\ntype = \"pushgateway\"\nurl = \"{}\"\n\
         [sinks.pgw.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n\
         [sinks.pgw.buffer]\ntype = \"disk\"\n",
        gateway.url()
    );
    let group = [("instance", "fault-host"), ("job", "sluice")];
    let total = |gateway: &Pushgateway| value(&gateway.group(&group)?, "fault_pg_total", &group);
    let wait_total = |gateway: &Pushgateway, expected: f64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while total(gateway) != Some(expected) {
            assert!(Instant::now() < deadline, "fault_pg_total is {:?}, expected {expected}", total(gateway));
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let setup = Setup {
        flush_interval: "1s",
        agent: "hostname = \"fault-host\"",
        data_dir: Some(data.path()),
        ..Setup::default()
    };
    let agent = setup.start(&sink);
    agent.send_udp(&["fault.pg:1|c"]);
    wait_total(&gateway, 1.0);

    gateway.stop();
    for n in 1..=2 {
        agent.wait_flush();
        agent.send_udp(&["fault.pg:10|c"]);
        agent.wait_lines(1.0 + f64::from(n));
    }
    agent.wait_flush();
    std::thread::sleep(Duration::from_millis(200));
    sigkill(agent);

    gateway.restart();
    let agent = setup.start(&sink);
    wait_total(&gateway, 21.0);
    agent.wait_metric("sluice_backend_replayed_windows_total{backend=\"pgw\"}", 2.0);
    agent.send_udp(&["fault.pg:100|c"]);
    wait_total(&gateway, 121.0);
    eprintln!("row pgw: total 1 + 10 + 10 (replayed after SIGKILL) + 100 = 121, nothing counted twice");
    let (status, _) = agent.stop();
    assert!(status.success());
}
