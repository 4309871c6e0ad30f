//! Reloads that rebuild a sink, through the binary: the new sink starts only once the one it
//! replaces has stopped, so it takes over the disk spool (replaying what the old one left,
//! then the windows flushed meanwhile) and the Pushgateway totals the old one saved last.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::capture::{Capture, Mode};
use common::pushgateway::{Pushgateway, value};
use common::{Agent, Setup};

/// One-second windows, so a test sees several of them.
const SETUP: Setup<'static> = Setup {
    flush_interval: "1s",
    agent: "hostname = \"reload-host\"",
    data_dir: None,
    env: &[],
    udp: None,
    inherit: &[],
    tmpfs: None,
    capture_log: false,
};

/// An InfluxDB sink `capture` writing to `url` through a disk buffer, retrying quickly.
fn disk_sink(url: &str, initial_backoff: &str) -> String {
    format!(
        "[sinks.capture]\ntype = \"influxdb\"\nurl = \"{url}\"\ndatabase = \"sluice\"\n\
         [sinks.capture.retry]\ninitial_backoff = \"{initial_backoff}\"\nmax_backoff = \"500ms\"\n\
         [sinks.capture.buffer]\ntype = \"disk\"\n"
    )
}

/// Waits until `sample` is in `/metrics` at exactly `expected` (10 s at most).
fn wait_exact(agent: &Agent, sample: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.metric(sample) != Some(expected) {
        assert!(Instant::now() < deadline, "{sample} is {:?}, expected {expected}", agent.metric(sample));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends each value as `name:VALUE|c` in a window of its own, counting the lines received.
fn send_windows(agent: &Agent, name: &str, values: &[u32], lines: &mut f64) {
    for v in values {
        agent.wait_flush();
        agent.send_udp(&[&format!("{name}:{v}|c")]);
        *lines += 1.0;
        agent.wait_lines(*lines);
    }
}

/// A disk-buffered InfluxDB sink whose endpoint fails holds its windows in the spool; a
/// reload points it at another endpoint. The new sink opens the spool once the old one has
/// given up on it (no memory fallback), sends what the old one left first, then the window
/// flushed while it waited, then the later ones: each window once, in order, exact total.
#[test]
fn a_reloaded_disk_sink_takes_over_the_spool_and_delivers_every_window_once_in_order() {
    let failing = Capture::start(Mode::Fail(503));
    let storing = Capture::start(Mode::Store);
    let sink = |url: &str| disk_sink(url, "100ms");
    let agent = SETUP.start(&sink(&failing.url()));
    let mut lines = 0.0;
    send_windows(&agent, "reload.disk", &[1, 2, 4], &mut lines);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_spooled_windows{backend=\"capture\"}", 3.0);
    assert!(agent.metric("sluice_backend_retries_total{backend=\"capture\"}").unwrap() > 0.0);

    agent.reload_with(|c| c.replace(&sink(&failing.url()), &sink(&storing.url())));
    // The new sink's counters start over: it is in place, waiting for the old one to stop.
    wait_exact(&agent, "sluice_backend_retries_total{backend=\"capture\"}", 0.0);
    send_windows(&agent, "reload.disk", &[8], &mut lines);
    storing.wait_sum("reload.disk", 15.0, Duration::from_secs(10));
    send_windows(&agent, "reload.disk", &[16], &mut lines);
    storing.wait_sum("reload.disk", 31.0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));

    let points = storing.points("reload.disk");
    assert_eq!(points.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1.0, 2.0, 4.0, 8.0, 16.0], "{points:?}");
    assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "in window order: {points:?}");
    assert_eq!(failing.sum("reload.disk"), 0.0);
    let status = agent.backend_status("capture");
    assert_eq!(status["buffer"], "disk", "{status}");
    assert_eq!(status["buffer_error"], serde_json::Value::Null, "{status}");
    assert!(status["replay"]["done"].as_u64().unwrap() >= 3, "the old sink's windows replayed: {status}");
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"capture\""), 0.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}

/// SIGTERM right after a reload, while the rebuilt disk sink still waits for the old one (its
/// endpoint fails): the agent exits within one `shutdown_timeout` (2 s here), and the next
/// start delivers every window, the old sink's and the new one's, once and in order.
#[test]
fn a_shutdown_while_a_rebuilt_sink_waits_exits_in_time_and_keeps_every_window() {
    let data = tempfile::tempdir().unwrap();
    let capture = Capture::start(Mode::Fail(503));
    let setup = Setup { data_dir: Some(data.path()), ..SETUP };
    let agent = setup.start(&disk_sink(&capture.url(), "100ms"));
    let mut lines = 0.0;
    send_windows(&agent, "reload.term", &[1, 2], &mut lines);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"capture\"}", 1.0);
    agent.reload_with(|c| c.replace(&disk_sink(&capture.url(), "100ms"), &disk_sink(&capture.url(), "150ms")));
    wait_exact(&agent, "sluice_backend_retries_total{backend=\"capture\"}", 0.0);
    // The open window, flushed by the shutdown into the waiting sink's buffer.
    agent.send_udp(&["reload.term:4|c"]);
    agent.wait_lines(lines + 1.0);
    let stopping = Instant::now();
    let (status, _) = agent.stop();
    let took = stopping.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_millis(3500), "shutdown took {took:?} with shutdown_timeout = 2s");
    assert_eq!(capture.sum("reload.term"), 0.0);

    capture.set_mode(Mode::Store);
    let agent = setup.start(&disk_sink(&capture.url(), "150ms"));
    capture.wait_sum("reload.term", 7.0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let points = capture.points("reload.term");
    assert_eq!(points.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1.0, 2.0, 4.0], "{points:?}");
    assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "in window order: {points:?}");
    eprintln!("shutdown during the hand-over took {took:?}; windows 1, 2, 4 delivered after the restart");
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
}

/// A reload that rebuilds a disk sink but is refused (its new UDP port is taken) leaves the
/// running sink alone: it keeps its disk buffer and delivers, and the agent still stops.
#[test]
fn a_refused_reload_leaves_the_running_disk_sink_its_spool() {
    let capture = Capture::start(Mode::Store);
    let agent = SETUP.start(&disk_sink(&capture.url(), "100ms"));
    agent.send_udp(&["reload.refused:1|c"]);
    capture.wait_sum("reload.refused", 1.0, Duration::from_secs(10));

    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let udp = agent.udp;
    agent.reload_with(|c| {
        c.replace(&format!("udp = [\"{udp}\"]"), &format!("udp = [\"{busy}\"]"))
            .replace(&disk_sink(&capture.url(), "100ms"), &disk_sink(&capture.url(), "150ms"))
    });
    std::thread::sleep(Duration::from_millis(500));
    agent.send_udp(&["reload.refused:2|c"]);
    capture.wait_sum("reload.refused", 3.0, Duration::from_secs(10));
    let status = agent.backend_status("capture");
    assert_eq!(status["buffer"], "disk", "{status}");
    assert_eq!(status["buffer_error"], serde_json::Value::Null, "{status}");
    assert!(agent.metric("sluice_backend_sent_series_total{backend=\"capture\"}").unwrap() >= 2.0, "the same sink");
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");
    drop(taken);
}

/// A Pushgateway sink rebuilt by a reload while the old one still has windows to push (the
/// gateway was down and comes back as the reload happens): the counter's total at the gateway
/// never goes backwards and ends exact, the new sink continuing from the old one's last totals.
#[test]
fn a_reloaded_pushgateway_sink_continues_the_totals_and_never_goes_backwards() {
    let mut gateway = Pushgateway::start();
    let url = gateway.url();
    let sink = |initial_backoff: &str| {
        format!(
            "[sinks.pgw]\ntype = \"pushgateway\"\nurl = \"{url}\"\n\
             [sinks.pgw.retry]\ninitial_backoff = \"{initial_backoff}\"\nmax_backoff = \"200ms\"\n\
             [sinks.pgw.buffer]\ntype = \"disk\"\n"
        )
    };
    let group = [("instance", "reload-host"), ("job", "sluice")];
    let total = move |gateway: &Pushgateway| value(&gateway.group(&group)?, "reload_pg_total", &group);
    let agent = SETUP.start(&sink("100ms"));
    agent.send_udp(&["reload.pg:1|c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while total(&gateway) != Some(1.0) {
        assert!(Instant::now() < deadline, "the first push never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Every total the gateway shows from here on, in order.
    let seen = Arc::new(Mutex::new(vec![1.0]));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, done, view) = (Arc::clone(&seen), Arc::clone(&done), gateway.view());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                if let Some(v) = view.group(&group).and_then(|g| value(&g, "reload_pg_total", &group)) {
                    seen.lock().unwrap().push(v);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    gateway.stop();
    let mut lines = 1.0;
    send_windows(&agent, "reload.pg", &[10, 10], &mut lines);
    agent.wait_flush();
    agent.wait_metric("sluice_backend_retries_total{backend=\"pgw\"}", 1.0);
    agent.reload_with(|c| c.replace(&sink("100ms"), &sink("150ms")));
    wait_exact(&agent, "sluice_backend_retries_total{backend=\"pgw\"}", 0.0);
    // Into the new sink's buffer, while the old one still holds two windows to push.
    agent.send_udp(&["reload.pg:100|c"]);
    gateway.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while total(&gateway) != Some(121.0) {
        assert!(Instant::now() < deadline, "reload_pg_total is {:?}, expected 121", total(&gateway));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    done.store(true, Relaxed);
    watcher.join().unwrap();
    let replayed = agent.metric("sluice_backend_replayed_windows_total{backend=\"pgw\"}").unwrap_or(0.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "exit status {status}");

    assert_eq!(total(&gateway), Some(121.0), "nothing counted twice or lost");
    let seen = seen.lock().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "the total went backwards: {seen:?}");
    eprintln!("pgw reload: totals seen {:?}; the new sink replayed {replayed} of the old sink's windows", dedup(&seen));
}

/// `values` without consecutive repeats.
fn dedup(values: &[f64]) -> Vec<f64> {
    let mut out = values.to_vec();
    out.dedup();
    out
}

/// Every configured secret (InfluxDB password and token, Pushgateway bearer token, Datadog
/// API key; inline and from `${ENV}`) stays out of a debug-level log of a start, a reload
/// and requests the servers refuse, and out of `/status`: the log shows `***` instead.
#[test]
fn no_secret_appears_in_a_debug_log_of_a_start_a_reload_and_failing_requests() {
    const SECRETS: [&str; 4] = ["pw-3f9a1c", "tok-77b2e0", "bearer-5d41aa", "ddkey-0c9e42"];
    let failing = Capture::start(Mode::Fail(500));
    let url = failing.url();
    let sinks = format!(
        "[sinks.v1]\ntype = \"influxdb\"\nurl = \"{url}\"\ndatabase = \"d\"\nusername = \"u\"\npassword = \"${{INFLUX_PASSWORD}}\"\n\
         [sinks.v1.retry]\ninitial_backoff = \"50ms\"\nmax_backoff = \"100ms\"\n\
         [sinks.v2]\ntype = \"influxdb\"\nurl = \"{url}\"\norg = \"o\"\nbucket = \"b\"\ntoken = \"{}\"\n\
         [sinks.pgw]\ntype = \"pushgateway\"\nurl = \"{url}\"\nbearer_token = \"{}\"\n\
         [sinks.dd]\ntype = \"datadog\"\nendpoint = \"{url}\"\napi_key = \"${{DD_API_KEY}}\"\n",
        SECRETS[1], SECRETS[2],
    );
    let env = [("INFLUX_PASSWORD", SECRETS[0]), ("DD_API_KEY", SECRETS[3]), ("RUST_LOG", "debug")];
    let agent = Setup { flush_interval: "1s", env: &env, capture_log: true, ..SETUP }.start(&sinks);
    agent.send_udp(&["secret.test:1|c"]);
    agent.wait_metric("sluice_backend_errors_total{backend=\"v1\",class=\"retriable\"}", 1.0);
    agent.reload_with(|config| config.replace("database = \"d\"", "database = \"d2\""));
    let log_path = agent.path("sluice.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log_path).unwrap().contains("Configuration reloaded.") {
        assert!(Instant::now() < deadline, "the reload was not applied");
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.send_udp(&["secret.test:2|c"]);
    for sink in ["v1", "v2", "pgw", "dd"] {
        let errors = format!("sluice_backend_errors_total{{backend=\"{sink}\"");
        while agent.metric_sum(&errors) < 1.0 {
            assert!(Instant::now() < deadline + Duration::from_secs(10), "{sink} never failed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let status = agent.get("/status").1;
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("Configuration in effect.") && log.contains("Configuration to apply."), "{log}");
    assert!(log.contains("Secret(\"***\")"), "the debug log shows the redacted config:\n{log}");
    assert!(log.contains("Delivery failed; will retry.") && log.contains("Batch refused; dropped."), "{log}");
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
        assert!(!status.contains(secret), "{secret} is in /status: {status}");
    }
}
