//! Running under systemd, driven the way systemd drives the binary: readiness and watchdog
//! notifications on `$NOTIFY_SOCKET`, sockets inherited through socket activation, and a
//! config reload on SIGHUP.

use crate::common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{Agent, Setup, counter_total, free_udp, read_windows, series};

/// Every notification received within `within`.
fn notifications(socket: &UnixDatagram, within: Duration) -> Vec<String> {
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    out
}

/// READY=1 arrives once the listeners are bound, then WATCHDOG=1 every half of
/// `WATCHDOG_USEC`, and STOPPING=1 on SIGTERM.
#[test]
fn notifies_ready_pings_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let notify = path.to_str().unwrap();
    let env = [("NOTIFY_SOCKET", notify), ("WATCHDOG_USEC", "200000")];
    let agent = Setup { env: &env, ..Setup::default() }.start("");
    agent.send_udp(&["after_ready:1|c"]);
    let received = notifications(&socket, Duration::from_millis(1500));
    assert_eq!(received.iter().filter(|m| *m == "READY=1").count(), 1, "{received:?}");
    let pings = received.iter().filter(|m| *m == "WATCHDOG=1").count();
    // Every 100 ms for 1.5 s (more while starting): far more than a watchdog of 200 ms needs.
    assert!(pings >= 8, "{pings} pings in 1.5 s: {received:?}");
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(counter_total(&windows, "after_ready", &[]), 1.0);
    let after = notifications(&socket, Duration::from_millis(200));
    assert!(after.contains(&"STOPPING=1".to_owned()), "{after:?}");
}

/// Sockets handed over at fds 3 and 4 are adopted by the listeners configured for their
/// address and path: datagrams that waited in the kernel before sluice started are
/// received, and the Unix socket file, the service manager's, is left in place at exit.
#[test]
fn inherited_sockets_are_adopted_and_keep_what_was_queued() {
    let sockets = tempfile::tempdir().unwrap();
    let unix_path = sockets.path().join("statsd.sock");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let unix = UnixDatagram::bind(&unix_path).unwrap();
    let addr = udp.local_addr().unwrap();
    // Sent while no sluice runs: only the kernel holds these.
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        client.send_to(b"queued_udp:1|c", addr).unwrap();
    }
    UnixDatagram::unbound().unwrap().send_to(b"queued_unix:2|c", &unix_path).unwrap();

    let fds = [udp.as_raw_fd(), unix.as_raw_fd()];
    let extra = format!("unix = [\"{}\"]\n", unix_path.display());
    // Binding either address again would fail while this process holds it: adoption is the
    // only way the agent can start.
    let agent = Setup { udp: Some(addr), inherit: &fds, ..Setup::default() }.start(&extra);
    agent.send_udp(&["live_udp:5|c"]);
    agent.wait_lines(4.0);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(counter_total(&windows, "queued_udp", &[]), 3.0);
    assert_eq!(counter_total(&windows, "queued_unix", &[]), 2.0);
    assert_eq!(counter_total(&windows, "live_udp", &[]), 5.0);
    assert!(unix_path.exists(), "the inherited socket's file belongs to the service manager");
}

/// SIGHUP applies a new config without losing the open window: new percentiles and a new
/// sink take effect, samples from before and after the reload land in one window, and an
/// invalid file is refused while the running config carries on.
#[test]
fn sighup_reloads_settings_and_sinks_and_keeps_the_open_window() {
    let agent = Agent::start("percentiles = [50]\n");
    agent.send_udp(&["req:1|c", "lat:10|ms", "lat:20|ms"]);
    agent.wait_lines(3.0);

    let config_path = agent.path("sluice.toml");
    let original = std::fs::read_to_string(&config_path).unwrap();
    // Outside the agent's temp dir, which goes when the agent stops.
    let elsewhere = tempfile::tempdir().unwrap();
    let second = elsewhere.path().join("second.jsonl");
    let reloaded = original.replace("percentiles = [50]", "percentiles = [99]")
        + &format!("[sinks.second]\ntype = \"file\"\npath = \"{}\"\n", second.display());
    std::fs::write(&config_path, reloaded).unwrap();
    agent.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.metric("sluice_backend_buffered_windows{backend=\"second\"}").is_none() {
        assert!(Instant::now() < deadline, "the reload did not add the sink");
        std::thread::sleep(Duration::from_millis(20));
    }

    // An invalid file is refused; the agent keeps running with what it has.
    std::fs::write(&config_path, "[agent]\nflush_interval = \"never\"\n").unwrap();
    agent.hangup();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(agent.get("/health").0, 200);

    agent.send_udp(&["req:2|c", "lat:30|ms"]);
    agent.wait_lines(5.0);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(windows.len(), 1, "one window, kept open across both reloads");
    assert_eq!(counter_total(&windows, "req", &[]), 3.0);
    let (_, _, lat) = series(&windows).find(|(n, _, _)| n == "lat").unwrap();
    assert_eq!(lat["count"].as_f64(), Some(3.0));
    assert_eq!(lat["percentiles"][0][0].as_f64(), Some(99.0), "{lat}");
    let at_second = read_windows(&second);
    assert_eq!(counter_total(&at_second, "req", &[]), 3.0, "the new sink receives the window");
}

/// Waits until `/metrics` has a sample starting with `sample`, or panics after 10 seconds.
fn wait_present(agent: &Agent, sample: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.metric(sample).is_none() {
        assert!(Instant::now() < deadline, "{sample} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every listener `/status` lists, and whether it runs.
fn running_listeners(agent: &Agent) -> Vec<(String, bool)> {
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    let listeners = status["listeners"].as_array().unwrap().iter();
    listeners.map(|l| (l["listener"].as_str().unwrap().to_owned(), l["running"].as_bool().unwrap())).collect()
}

/// A reload that moves the UDP listener to a new port starts receiving there and closes the
/// old port, while the open window keeps what the old listener received; the old listener's
/// final count stays in `/metrics`.
#[test]
fn sighup_moves_the_udp_listener_and_keeps_the_open_window() {
    let agent = Agent::start("");
    agent.send_udp(&["before:1|c", "before:1|c", "before:1|c"]);
    agent.wait_lines(3.0);

    let (old, new) = (agent.udp, free_udp());
    agent.reload_with(|c| c.replace(&format!("udp = [\"{old}\"]"), &format!("udp = [\"{new}\"]")));
    wait_present(&agent, &format!("sluice_received_lines_total{{listener=\"udp:{new}\"}}"));

    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"after:2|c\nafter:2|c", new).unwrap();
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{new}\"}}"), 2.0);
    // The old listener stops after the new one started: wait for it to say so.
    let expected = [(format!("udp:{old}"), false), (format!("udp:{new}"), true)];
    let deadline = Instant::now() + Duration::from_secs(10);
    while running_listeners(&agent) != expected {
        assert!(Instant::now() < deadline, "{:?}", running_listeners(&agent));
        std::thread::sleep(Duration::from_millis(20));
    }
    // The old port is free again: the agent no longer holds it.
    drop(std::net::UdpSocket::bind(old).expect("the old listener's port is closed"));
    assert_eq!(agent.metric(&format!("sluice_received_lines_total{{listener=\"udp:{old}\"}}")), Some(3.0));

    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(windows.len(), 1, "one window, kept open across the reload");
    assert_eq!(counter_total(&windows, "before", &[]), 3.0);
    assert_eq!(counter_total(&windows, "after", &[]), 4.0);
}

/// A reload whose new listener cannot bind (its port is taken) is refused as a whole: the
/// sink it also adds is not built, and the old listener keeps receiving into the open window.
#[test]
fn sighup_with_a_listener_that_cannot_bind_changes_nothing() {
    let agent = Agent::start("");
    agent.send_udp(&["kept:1|c"]);
    agent.wait_lines(1.0);

    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let old = agent.udp;
    let elsewhere = tempfile::tempdir().unwrap();
    let second = elsewhere.path().join("second.jsonl");
    agent.reload_with(|c| {
        c.replace(&format!("udp = [\"{old}\"]"), &format!("udp = [\"{busy}\"]"))
            + &format!("[sinks.second]\ntype = \"file\"\npath = \"{}\"\n", second.display())
    });
    std::thread::sleep(Duration::from_millis(500));

    agent.send_udp(&["kept:2|c"]);
    agent.wait_lines(2.0);
    assert_eq!(agent.metric(&format!("sluice_received_lines_total{{listener=\"udp:{busy}\"}}")), None);
    assert_eq!(agent.metric("sluice_backend_buffered_windows{backend=\"second\"}"), None, "no sink was added");
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(windows.len(), 1);
    assert_eq!(counter_total(&windows, "kept", &[]), 3.0);
    assert!(!second.exists(), "the refused reload's sink never ran");
    drop(taken);
}

/// A reload that shortens `[sources.host] interval` restarts the sampler with it: from one
/// sample an hour to one a second.
#[test]
fn sighup_applies_a_new_host_interval() {
    let agent = Agent::start("[sources.host]\ninterval = \"1h\"\n");
    let samples = "sluice_received_lines_total{listener=\"host\"}";
    let first = agent.wait_metric(samples, 1.0);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(agent.metric(samples), Some(first), "one sample an hour");

    agent.reload_with(|c| c.replace("\ninterval = \"1h\"", "\ninterval = \"1s\""));
    // The restarted sampler samples at once, then every second.
    let second = agent.wait_metric(samples, first + 1.0);
    agent.wait_metric(samples, second + 1.0);
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// A reload that changes only a listener's options rebinds it at the same port: what was
/// received before and after lands in the open window, and its counters carry on.
#[test]
fn sighup_rebinds_a_listener_whose_options_changed() {
    let agent = Agent::start("receive_buffer = \"8MiB\"\n");
    agent.send_udp(&["same:1|c", "same:1|c"]);
    agent.wait_lines(2.0);

    agent.reload_with(|c| c.replace("receive_buffer = \"8MiB\"", "receive_buffer = \"1MiB\""));
    // Datagrams sent while the port is rebound may be refused: send until one is counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0.0;
    while agent.metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp)) < Some(3.0) {
        assert!(Instant::now() < deadline, "the rebound listener receives nothing");
        agent.send_udp(&["after:1|c"]);
        sent += 1.0;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(running_listeners(&agent), [(format!("udp:{}", agent.udp), true)]);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(windows.len(), 1);
    assert_eq!(counter_total(&windows, "same", &[]), 2.0);
    let after = counter_total(&windows, "after", &[]);
    assert!((1.0..=sent).contains(&after), "{after} of {sent}");
}

/// A reload that would rebind a socket handed over by the service manager is refused (the
/// manager still holds the address, so it cannot be bound again): the adopted socket keeps
/// receiving.
#[test]
fn sighup_does_not_rebind_an_inherited_socket() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let fds = [udp.as_raw_fd()];
    let agent = Setup { udp: Some(addr), inherit: &fds, ..Setup::default() }.start("receive_buffer = \"8MiB\"\n");
    agent.send_udp(&["adopted:1|c"]);
    agent.wait_lines(1.0);

    agent.reload_with(|c| c.replace("receive_buffer = \"8MiB\"", "receive_buffer = \"1MiB\""));
    std::thread::sleep(Duration::from_millis(500));
    agent.send_udp(&["adopted:2|c"]);
    agent.wait_lines(2.0);
    assert_eq!(running_listeners(&agent), [(format!("udp:{addr}"), true)]);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(counter_total(&windows, "adopted", &[]), 3.0);
}
