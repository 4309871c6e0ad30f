//! Server answers: 500 for a while, 429 with `Retry-After`, 400 to one window.

use std::time::{Duration, Instant};

use crate::common::capture::{Capture, Mode};
use crate::support::{assert_in_order_once, disk_sink, metric, setup};

/// Row 4. The backend answers 500 for three seconds, then 200: retried with backoff, every
/// window delivered once, in order, exact totals.
#[test]
fn a_backend_answering_500_for_a_while_is_retried_with_backoff_and_totals_are_exact() {
    let capture = Capture::start(Mode::Fail(500));
    let agent = setup(None).start(&disk_sink("capture", &capture.url(), ""));
    let started = Instant::now();
    for (n, value) in [1, 2, 4].into_iter().enumerate() {
        agent.wait_flush();
        agent.send_udp(&[&format!("fault.e500:{value}|c")]);
        agent.wait_lines(n as f64 + 1.0);
    }
    agent.wait_flush();
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    capture.set_mode(Mode::Store);
    capture.wait_sum("fault.e500", 7.0, Duration::from_secs(10));
    let failed = capture.requests().iter().filter(|r| r.status == 500).count();
    let retries = metric(&agent, "sluice_backend_retries_total", "capture");
    assert!(failed >= 3, "{failed} failed attempts");
    assert!(failed <= 40, "backoff bounds the attempts: {failed} in about 3 s");
    assert!(retries >= failed as f64 - 1.0, "{retries} retries for {failed} failures");
    assert_in_order_once(&capture, "fault.e500");
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"capture\""), 0.0);
    eprintln!("row 4: {failed} answers 500, {retries} retries, sum 7 of 7 delivered once");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 5. The backend answers 429 with `Retry-After: 2`: the next attempt waits two seconds
/// (the configured backoff would retry after 100 ms), and the total is exact.
#[test]
fn a_429_with_retry_after_is_waited_as_told_and_totals_are_exact() {
    let capture = Capture::start(Mode::TooManyOnce(2));
    let agent = setup(None).start(&disk_sink("capture", &capture.url(), ""));
    agent.send_udp(&["fault.e429:5|c"]);
    capture.wait_sum("fault.e429", 5.0, Duration::from_secs(10));
    let requests = capture.requests();
    let first = requests.iter().position(|r| r.status == 429).unwrap();
    let waited = requests[first + 1].at - requests[first].at;
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_millis(3500), "waited {waited:?}");
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 1);
    assert_eq!(capture.points("fault.e429").len(), 1);
    eprintln!("row 5: 429 Retry-After 2 s, next attempt after {waited:?}, sum 5 of 5");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 6. The backend refuses one window with a 400: that window is dropped and counted as
/// rejected without a retry, and the later windows are delivered.
#[test]
fn a_window_refused_with_400_is_dropped_and_counted_and_later_windows_are_delivered() {
    let capture = Capture::start(Mode::RejectContaining("fault.poison".into()));
    let agent = setup(None).start(&disk_sink("capture", &capture.url(), ""));
    let windows = ["fault.ok:1|c", "fault.ok:2|c\nfault.poison:1|c", "fault.ok:4|c"];
    let mut lines = 0.0;
    for datagram in windows {
        agent.wait_flush();
        agent.send_udp(&[datagram]);
        lines += datagram.lines().count() as f64;
        agent.wait_lines(lines);
    }
    capture.wait_sum("fault.ok", 5.0, Duration::from_secs(10));
    agent.wait_metric("sluice_backend_dropped_series_total{backend=\"capture\",reason=\"rejected\"}", 2.0);
    assert_eq!(agent.metric("sluice_backend_dropped_series_total{backend=\"capture\",reason=\"rejected\"}"), Some(2.0));
    assert_eq!(agent.metric("sluice_backend_errors_total{backend=\"capture\",class=\"rejected\"}"), Some(1.0));
    assert_eq!(metric(&agent, "sluice_backend_retries_total", "capture"), 0.0);
    assert_eq!(capture.requests().iter().filter(|r| r.status == 400).count(), 1, "never retried");
    assert_eq!(agent.backend_status("capture")["dropped"]["rejected"], 2);
    eprintln!("row 6: window 2 (2 series) refused once and counted; windows 1 and 3 stored (sum 5)");
    let (status, _) = agent.stop();
    assert!(status.success());
}
