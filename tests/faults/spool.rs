//! The spool's limits: `max_bytes` reached, an unwritable `data_dir`, a disk that fills up
//! mid-run, and a window of 100 000 series to a slow backend.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::common::Setup;
use crate::common::capture::{Capture, Mode};
use crate::support::{assert_in_order_once, disk_sink, metric, send_counters, setup};

/// Row 7. The spool reaches `max_bytes` while the backend is down: the oldest windows are
/// dropped and counted, the agent stays healthy, the newest are delivered, and the series
/// delivered plus those dropped are every series flushed.
#[test]
fn a_full_spool_drops_the_oldest_windows_counts_them_and_delivers_the_newest() {
    let capture = Capture::start(Mode::Fail(503));
    let agent = setup(None).start(&disk_sink("capture", &capture.url(), "max_bytes = \"32KiB\""));
    for window in 1..=6 {
        agent.wait_flush();
        send_counters(&agent, "fault.full", 200, window);
        agent.wait_lines(f64::from(window) * 200.0);
    }
    agent.wait_flush();
    std::thread::sleep(Duration::from_millis(300));
    let dropped =
        agent.metric("sluice_backend_dropped_series_total{backend=\"capture\",reason=\"buffer_full\"}").unwrap();
    let spooled = metric(&agent, "sluice_backend_spooled_bytes", "capture");
    assert!(dropped >= 200.0, "the oldest windows were dropped and counted: {dropped}");
    assert!(spooled <= 32.0 * 1024.0, "{spooled} bytes spooled");
    assert_eq!(agent.get("/health").0, 200);
    capture.set_mode(Mode::Store);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&agent, "sluice_backend_buffered_windows", "capture") > 0.0 {
        assert!(Instant::now() < deadline, "the spool drained");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stored: Vec<String> = capture.stored().into_iter().filter(|l| l.starts_with("fault.full.")).collect();
    let values: HashSet<u64> = capture.points("fault.full.0").iter().map(|(_, v)| *v as u64).collect();
    assert!(values.contains(&6), "the newest window was delivered: {values:?}");
    assert!(!values.contains(&1), "the oldest window was dropped: {values:?}");
    assert_eq!(stored.len() as f64 + dropped, 1200.0, "every series delivered or counted");
    eprintln!(
        "row 7: 1200 series flushed, {} delivered, {dropped} dropped (buffer_full), windows kept {values:?}",
        stored.len()
    );
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 8. The data directory is on a read-only file system, so no spool can be made there:
/// the sink falls back to memory, `/status` and `/metrics` say so, and delivery goes on
/// exactly.
#[test]
fn a_read_only_data_dir_falls_back_to_memory_reports_it_and_keeps_delivering() {
    let capture = Capture::start(Mode::Store);
    let setup = Setup { flush_interval: "1s", tmpfs: Some("size=64k,ro"), ..Setup::default() };
    let agent = setup.start(&disk_sink("capture", &capture.url(), ""));
    agent.send_udp(&["fault.ro:3|c"]);
    capture.wait_sum("fault.ro", 3.0, Duration::from_secs(10));
    let status = agent.backend_status("capture");
    assert_eq!(status["buffer"], "memory_fallback");
    let reason = status["buffer_error"].as_str().unwrap();
    assert!(reason.contains("cannot open the spool") && reason.contains("Read-only file system"), "{status}");
    assert_eq!(metric(&agent, "sluice_backend_buffer_fallback", "capture"), 1.0);
    eprintln!("row 8: fallback reported ({reason}), sum 3 of 3 delivered");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 8b. The disk under the spool fills up in the middle of a run (a 256 KiB tmpfs, the
/// backend down): new windows wait in memory, `/status` and `/metrics` say so; once the
/// backend is back, the spool frees its segments and windows go to the disk again. Every
/// series arrives once, in order.
#[test]
fn a_disk_that_fills_mid_run_buffers_in_memory_then_spools_again_once_there_is_room() {
    let capture = Capture::start(Mode::Fail(503));
    let setup = Setup { flush_interval: "1s", tmpfs: Some("size=256k"), ..Setup::default() };
    let agent = setup.start(&disk_sink("capture", &capture.url(), "max_bytes = \"64MiB\""));
    // 1 000 series a window: about 30 KB each in the spool.
    let send_window = |window: u32| {
        agent.wait_flush();
        send_counters(&agent, "fault.disk", 1000, 1);
        agent.send_udp(&[&format!("fault.disk:{window}|c")]);
        agent.wait_lines(f64::from(window) * 1001.0);
    };
    let mut window = 0;
    while agent.backend_status("capture")["buffer"] != "memory_fallback" {
        window += 1;
        assert!(window <= 20, "20 windows of 30 KB never filled a 256 KiB disk");
        send_window(window);
    }
    let full_at = window;
    for _ in 0..2 {
        window += 1;
        send_window(window);
    }
    agent.wait_flush();
    let status = agent.backend_status("capture");
    assert_eq!(status["buffer"], "memory_fallback", "{status}");
    let reason = status["buffer_error"].as_str().unwrap().to_owned();
    assert!(reason.contains("No space left on device"), "{status}");
    let errors = metric(&agent, "sluice_backend_spool_errors_total", "capture");
    assert!(errors >= 2.0, "each window while full tried the disk again: {errors}");
    assert_eq!(metric(&agent, "sluice_backend_buffer_fallback", "capture"), 1.0);
    let in_memory = status["queue_depth"].as_u64().unwrap() - status["spooled_windows"].as_u64().unwrap();
    assert!(in_memory >= 2, "the windows after the disk filled wait in memory: {status}");

    capture.set_mode(Mode::Store);
    let total = f64::from(window * (window + 1) / 2);
    capture.wait_sum("fault.disk", total, Duration::from_secs(20));
    window += 1;
    send_window(window);
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.backend_status("capture")["buffer"] != "disk"
        || metric(&agent, "sluice_backend_spooled_windows", "capture") > 0.0
    {
        assert!(Instant::now() < deadline, "the spool never took windows again: {}", agent.backend_status("capture"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = f64::from(window * (window + 1) / 2);
    capture.wait_sum("fault.disk", total, Duration::from_secs(10));
    assert_in_order_once(&capture, "fault.disk");
    assert_eq!(capture.sum("fault.disk.999"), f64::from(window), "every window's 1 000 series arrived once");
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"capture\""), 0.0);
    assert!(agent.backend_status("capture")["buffer_error"].is_null());
    eprintln!(
        "row 8b: disk full after {full_at} windows ({reason}); {errors} failed writes, {in_memory} windows in memory; \
         all {window} windows delivered once in order, spooling again after"
    );
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 9. 100 000 distinct series in one window and a slow backend (300 ms per request):
/// ingestion is unaffected (no kernel drop), the window is spooled and delivered whole.
#[test]
fn a_window_of_100k_series_to_a_slow_backend_does_not_disturb_ingestion() {
    let capture = Capture::start(Mode::Slow(Duration::from_millis(300)));
    let setup = Setup { flush_interval: "2s", ..Setup::default() };
    let agent = setup.start(&disk_sink("capture", &capture.url(), "max_bytes = \"256MiB\""));
    agent.wait_flush();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for chunk in 0..1000 {
        let mut d = String::new();
        for i in 0..100 {
            writeln!(d, "fault.wide.{}:1|c", chunk * 100 + i).unwrap();
        }
        socket.send_to(d.as_bytes(), agent.udp).unwrap();
        if chunk % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    agent.wait_lines(100_000.0);
    assert_eq!(agent.metric(&format!("sluice_kernel_drops_total{{listener=\"udp:{}\"}}", agent.udp)), Some(0.0));
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut most_spooled: f64 = 0.0;
    loop {
        most_spooled = most_spooled.max(metric(&agent, "sluice_backend_spooled_bytes", "capture"));
        let stored = capture.stored().iter().filter(|l| l.starts_with("fault.wide.")).count();
        if stored == 100_000 {
            break;
        }
        assert!(Instant::now() < deadline, "{stored} of 100000 series stored");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(agent.metric(&format!("sluice_kernel_drops_total{{listener=\"udp:{}\"}}", agent.udp)), Some(0.0));
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"capture\""), 0.0);
    eprintln!("row 9: 100000 lines received, 0 kernel drops, {most_spooled} bytes spooled at most, all stored");
    let (status, _) = agent.stop();
    assert!(status.success());
}
