//! The fault matrix of the disk buffer, through the sluice binary: outages, crashes, a torn
//! spool, server errors, a full spool, an unwritable data directory, a disk that fills up and a
//! huge window.
//! Totals are read back from a real InfluxDB 1.6 or from an in-process write endpoint that
//! records arrival order (so order and duplicates are checked exactly). Windows are 1 s; the
//! outage row lasts two minutes and the other rows run beside it.

mod common;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::capture::{Capture, Mode};
use common::influxdb::Influxd;
use common::pushgateway::{Pushgateway, value};
use common::{Agent, Setup};
use tokio::runtime::Runtime;

const DB: &str = "sluice";

/// A real `influxd` with database [`DB`], and the runtime its client runs on.
struct Influx {
    rt: Runtime,
    influxd: Influxd,
}

impl Influx {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let influxd = rt.block_on(Influxd::start());
        rt.block_on(influxd.create_database(DB));
        Self { rt, influxd }
    }

    fn resume(&mut self) {
        self.rt.block_on(self.influxd.resume());
    }

    /// The only value of a one-row aggregate `query`, if any point matched.
    fn number(&self, query: &str) -> Option<f64> {
        let rows = self.rt.block_on(self.influxd.rows(DB, query));
        rows.first().map(|row| row[1].as_f64().unwrap())
    }

    /// Waits until `SELECT sum("value") FROM measurement` is `expected`.
    fn wait_sum(&self, measurement: &str, expected: f64, within: Duration) {
        let query = format!("SELECT sum(\"value\") FROM \"{measurement}\"");
        let deadline = Instant::now() + within;
        loop {
            let got = self.number(&query);
            if got == Some(expected) {
                return;
            }
            assert!(Instant::now() < deadline, "{query} answered {got:?}, expected {expected}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An InfluxDB sink `name` writing to `url` through a disk buffer (plus `buffer` keys), with
/// quick retries.
fn disk_sink(name: &str, url: &str, buffer: &str) -> String {
    format!(
        "[sinks.{name}]\ntype = \"influxdb\"\nurl = \"{url}\"\ndatabase = \"{DB}\"\n\
         [sinks.{name}.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n\
         [sinks.{name}.buffer]\ntype = \"disk\"\n{buffer}\n"
    )
}

/// One-second windows, state in `data_dir` when given.
fn setup(data_dir: Option<&Path>) -> Setup<'_> {
    Setup { flush_interval: "1s", data_dir, ..Setup::default() }
}

/// Kills the agent with SIGKILL: nothing of its shutdown runs.
fn sigkill(mut agent: Agent) {
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
}

/// Every stored point of `measurement` came once and in window order.
fn assert_in_order_once(capture: &Capture, measurement: &str) {
    let stamps: Vec<u64> = capture.points(measurement).iter().map(|(ts, _)| *ts).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{measurement} out of order or twice: {stamps:?}");
}

fn status_of(agent: &Agent, backend: &str) -> serde_json::Value {
    let (_, body) = agent.get("/status");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    status["backends"].as_array().unwrap().iter().find(|b| b["name"] == backend).unwrap().clone()
}

fn metric(agent: &Agent, family: &str, backend: &str) -> f64 {
    agent.metric(&format!("{family}{{backend=\"{backend}\"}}")).unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

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
    let status = status_of(&agent, "capture");
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
    assert_eq!(status_of(&agent, "capture")["replay"]["pending"], 0);
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
    let datagrams: Vec<String> = (0..120)
        .map(|chunk| {
            let mut d = String::new();
            for i in 0..100 {
                writeln!(d, "fault.batch.{}:1|c", chunk * 100 + i).unwrap();
            }
            d
        })
        .collect();
    agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
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
    assert_eq!(status_of(&agent, "capture")["spool_corrupt_records"], 1);
    assert_in_order_once(&capture, "fault.torn");
    eprintln!("row 3: torn window (100) counted once, windows 1 and 2 replayed (sum 3)");
    let (status, _) = agent.stop();
    assert!(status.success());
}

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
    assert_eq!(status_of(&agent, "capture")["dropped"]["rejected"], 2);
    eprintln!("row 6: window 2 (2 series) refused once and counted; windows 1 and 3 stored (sum 5)");
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// Row 7. The spool reaches `max_bytes` while the backend is down: the oldest windows are
/// dropped and counted, the agent stays healthy, the newest are delivered, and the series
/// delivered plus those dropped are every series flushed.
#[test]
fn a_full_spool_drops_the_oldest_windows_counts_them_and_delivers_the_newest() {
    let capture = Capture::start(Mode::Fail(503));
    let agent = setup(None).start(&disk_sink("capture", &capture.url(), "max_bytes = \"32KiB\""));
    for window in 1..=6 {
        agent.wait_flush();
        let mut datagrams = Vec::new();
        for chunk in 0..4 {
            let mut d = String::new();
            for i in 0..50 {
                writeln!(d, "fault.full.{}:{window}|c", chunk * 50 + i).unwrap();
            }
            datagrams.push(d);
        }
        agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
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

/// Row 8. The data directory is a regular file, so no spool can be made there: the sink
/// falls back to memory, `/status` and `/metrics` say so, and delivery goes on exactly.
#[test]
fn an_unwritable_data_dir_falls_back_to_memory_reports_it_and_keeps_delivering() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let capture = Capture::start(Mode::Store);
    let agent = setup(Some(&file)).start(&disk_sink("capture", &capture.url(), ""));
    agent.send_udp(&["fault.ro:3|c"]);
    capture.wait_sum("fault.ro", 3.0, Duration::from_secs(10));
    let status = status_of(&agent, "capture");
    assert_eq!(status["buffer"], "memory_fallback");
    assert!(status["buffer_error"].as_str().unwrap().contains("cannot open the spool"), "{status}");
    assert_eq!(metric(&agent, "sluice_backend_buffer_fallback", "capture"), 1.0);
    eprintln!("row 8: fallback reported ({}), sum 3 of 3 delivered", status["buffer_error"]);
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
    let setup = Setup { flush_interval: "1s", tmpfs: Some("256k"), ..Setup::default() };
    let agent = setup.start(&disk_sink("capture", &capture.url(), "max_bytes = \"64MiB\""));
    // 1 000 series a window: about 30 KB each in the spool.
    let send_window = |window: u32| {
        agent.wait_flush();
        let datagrams: Vec<String> = (0..20)
            .map(|chunk| {
                let mut d = String::new();
                for i in 0..50 {
                    writeln!(d, "fault.disk.{}:1|c", chunk * 50 + i).unwrap();
                }
                d
            })
            .collect();
        agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
        agent.send_udp(&[&format!("fault.disk:{window}|c")]);
        agent.wait_lines(f64::from(window) * 1001.0);
    };
    let mut window = 0;
    while status_of(&agent, "capture")["buffer"] != "memory_fallback" {
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
    let status = status_of(&agent, "capture");
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
    while status_of(&agent, "capture")["buffer"] != "disk"
        || metric(&agent, "sluice_backend_spooled_windows", "capture") > 0.0
    {
        assert!(Instant::now() < deadline, "the spool never took windows again: {}", status_of(&agent, "capture"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = f64::from(window * (window + 1) / 2);
    capture.wait_sum("fault.disk", total, Duration::from_secs(10));
    assert_in_order_once(&capture, "fault.disk");
    assert_eq!(capture.sum("fault.disk.999"), f64::from(window), "every window's 1 000 series arrived once");
    assert_eq!(agent.metric_sum("sluice_backend_dropped_series_total{backend=\"capture\""), 0.0);
    assert!(status_of(&agent, "capture")["buffer_error"].is_null());
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
