//! Shutdown: SIGTERM drains the sockets, flushes the open window and exits 0.

use crate::common;

use common::{Agent, counter_total};

/// With an hour-long window, SIGTERM still delivers everything received, in one last window.
#[test]
fn sigterm_flushes_the_open_window_and_exits_zero() {
    let agent = Agent::start("");
    let lines: Vec<String> = (0..500).map(|i| format!("burst:{}|c", i % 7)).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    agent.send_udp(&refs);
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    assert_eq!(windows.len(), 1, "one window: the open one, flushed at shutdown");
    let expected: f64 = (0..500).map(|i| f64::from(i % 7)).sum();
    assert_eq!(counter_total(&windows, "burst", &[]), expected);
}

/// Windows are flushed on the interval while running, not only at shutdown.
#[test]
fn windows_are_flushed_every_interval_while_running() {
    let agent = Agent::start_with("1s", "", std::process::Stdio::null());
    agent.send_udp(&["tick:1|c"]);
    agent.wait_metric("sluice_flushes_total", 2.0);
    // A flush is counted when the window is queued; the file sink writes it a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let written = loop {
        let written = common::read_windows(&agent.path("windows.jsonl"));
        if written.len() >= 2 || std::time::Instant::now() > deadline {
            break written;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(written.len() >= 2, "{} windows written while running", written.len());
    assert_eq!(counter_total(&written, "tick", &[]), 1.0);
    let (status, _) = agent.stop();
    assert!(status.success());
}
