//! Row 1: a two-minute outage of both backends under steady traffic.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::common::capture::{Capture, Mode};
use crate::support::{Influx, assert_in_order_once, disk_sink, metric, setup};

/// How long the backends are down in row 1: the two minutes the fault matrix names. The other
/// rows run beside it, so it costs the matrix about a minute and a half.
const OUTAGE: Duration = Duration::from_mins(2);

/// Row 1. A two-minute outage of both backends under steady traffic (10 lines every 100 ms):
/// every window is spooled, then delivered in order once each, and the totals are exact in
/// the real InfluxDB and at the recording endpoint.
#[test]
fn a_two_minute_outage_under_steady_traffic_delivers_every_window_in_order_with_exact_totals() {
    let mut influx = Influx::start();
    let capture = Capture::start(Mode::Store);
    let sinks = disk_sink("influx", &influx.influxd.url(), "") + &disk_sink("capture", &capture.url(), "");
    let agent = setup(None).start(&sinks);
    let target = agent.udp;
    let traffic = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let datagram = "fault.steady:1|c\n".repeat(10);
        let started = Instant::now();
        let mut sent = 0.0;
        while started.elapsed() < OUTAGE + Duration::from_secs(5) {
            socket.send_to(datagram.as_bytes(), target).unwrap();
            sent += 10.0;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    });
    std::thread::sleep(Duration::from_secs(2));
    influx.influxd.stop();
    capture.set_mode(Mode::Fail(503));
    let down = Instant::now();
    let mut most_spooled: f64 = 0.0;
    while down.elapsed() < OUTAGE {
        most_spooled = most_spooled.max(metric(&agent, "sluice_backend_spooled_windows", "capture"));
        std::thread::sleep(Duration::from_millis(200));
    }
    // What an operator sees in the middle of the outage.
    let status = agent.backend_status("capture");
    assert_eq!(status["buffer"], "disk");
    assert_eq!(status["state"], "failing");
    assert!(status["spooled_bytes"].as_u64().unwrap() > 0, "{status}");
    let oldest = status["oldest_age_seconds"].as_f64().unwrap();
    let outage = OUTAGE.as_secs_f64();
    assert!(oldest >= outage - 2.0, "the oldest window waited through the outage: {status}");
    influx.resume();
    capture.set_mode(Mode::Store);
    let sent = traffic.join().unwrap();
    agent.wait_lines(sent);
    agent.wait_flush();
    influx.wait_sum("fault.steady", sent, Duration::from_secs(20));
    capture.wait_sum("fault.steady", sent, Duration::from_secs(20));
    assert!(most_spooled >= outage - 2.0, "the outage's windows waited in the spool: {most_spooled}");
    assert_in_order_once(&capture, "fault.steady");
    let points = capture.points("fault.steady").len() as f64;
    assert_eq!(influx.number("SELECT count(\"value\") FROM \"fault.steady\""), Some(points));
    for backend in ["influx", "capture"] {
        assert_eq!(agent.metric_sum(&format!("sluice_backend_dropped_series_total{{backend=\"{backend}\"")), 0.0);
    }
    assert!(metric(&agent, "sluice_backend_retries_total", "capture") > 0.0);
    eprintln!(
        "row 1: {sent} lines in {points} windows, at most {most_spooled} windows spooled (oldest {oldest:.1} s), all delivered"
    );
    let (status, _) = agent.stop();
    assert!(status.success());
}
