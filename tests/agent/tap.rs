//! `GET /tap` and `sluice tap`: every window as the agent flushes it.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{Agent, Setup, free_tcp, read_windows};
use serde_json::Value;

/// A running `sluice tap`, its output read line by line in the background.
struct Tap {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Tap {
    /// Starts `sluice tap --api ADDR` with `args` and waits until it says it is tapping.
    fn start(api: SocketAddr, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["tap", "--api", &api.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tap = Self {
            stdout: lines_of(child.stdout.take().unwrap()),
            stderr: lines_of(child.stderr.take().unwrap()),
            child,
        };
        let said = tap.stderr.recv_timeout(Duration::from_secs(10)).expect("sluice tap says it is tapping");
        assert!(said.starts_with(&format!("sluice: tapping {api} (from --api)")), "{said}");
        tap
    }

    /// The next line of output, within 10 seconds.
    fn line(&self) -> String {
        self.stdout.recv_timeout(Duration::from_secs(10)).expect("a line from sluice tap within 10 s")
    }

    /// The first window (`--json`) that has any series.
    fn window_with_series(&self) -> Value {
        loop {
            let window: Value = serde_json::from_str(&self.line()).unwrap();
            if !window["series"].as_array().unwrap().is_empty() {
                return window;
            }
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line `from` produces, sent on a channel by a thread of its own.
fn lines_of(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// `(name, tags, value)` of every series of a `--json` window, sorted.
fn series_of(window: &Value) -> Vec<(String, Vec<String>, Value)> {
    let mut series: Vec<_> = common::series(std::slice::from_ref(window)).map(|(n, t, v)| (n, t, v.clone())).collect();
    series.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    series
}

/// Two taps at once, one `--json` and one for a terminal: both show the lines sent, with
/// exact values, in the window that flushed them; when the agent stops, both end with 0.
#[test]
fn tap_prints_each_window_with_the_exact_series_sent() {
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start("");
    let json = Tap::start(agent.api, &["--json"]);
    let human = Tap::start(agent.api, &[]);
    agent.send_udp(&[
        "tap.hits:2|c|#route:home\ntap.hits:3|c|#route:home\ntap.temp:21.5|g\ntap.users:a|s\ntap.users:b|s",
    ]);

    let window = json.window_with_series();
    let series = series_of(&window);
    let names: Vec<(&str, &[String])> = series.iter().map(|(n, t, _)| (n.as_str(), t.as_slice())).collect();
    assert_eq!(names, [("tap.hits", &["route:home".to_owned()][..]), ("tap.temp", &[]), ("tap.users", &[])]);
    assert_eq!(series[0].2["type"], "counter");
    assert_eq!(series[0].2["sum"], 5.0);
    assert_eq!(series[1].2, serde_json::json!({ "type": "gauge", "value": 21.5 }));
    assert_eq!(series[2].2, serde_json::json!({ "type": "set", "count": 2 }));

    let id = window["id"].as_u64().unwrap();
    let header = loop {
        let line = human.line();
        if line.starts_with(&format!("window {id} ")) {
            break line;
        }
    };
    assert!(header.ends_with(" series=3"), "{header}");
    let body: Vec<String> = (0..3).map(|_| human.line()).collect();
    assert!(body[0].starts_with("  tap.hits{route:home} counter sum=5 rate="), "{body:?}");
    assert_eq!(body[1..], ["  tap.temp gauge value=21.5", "  tap.users set count=2"]);

    let (exit, _) = agent.stop();
    assert!(exit.success());
    for mut tap in [json, human] {
        assert!(tap.child.wait().unwrap().success());
        let said = tap.stderr.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(said, "sluice: the agent ended the tap (it is stopping).");
    }
}

/// `--match` keeps the series whose name contains the substring, wherever it appears in it.
#[test]
fn tap_match_shows_only_series_whose_name_contains_the_substring() {
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start("");
    let tap = Tap::start(agent.api, &["--json", "--match", "checkout."]);
    agent.send_udp(&["checkout.total:1|c\napp.checkout.latency:40|ms\nlogin.total:1|c\ncheckout:9|g"]);
    let window = tap.window_with_series();
    let names: Vec<String> = series_of(&window).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["app.checkout.latency", "checkout.total"]);
}

/// Nothing listening: exit 2, and the message names the address and the cause.
#[test]
fn tap_exits_two_naming_the_address_when_no_agent_answers() {
    let closed = free_tcp();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice")).args(["tap", "--api", &closed.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("sluice: cannot reach the agent's API at {closed} (from --api): cannot connect: ")),
        "{err}"
    );
}

/// Opens `GET /tap` with a receive buffer of `receive_buffer` bytes and reads the answer's head.
fn open_tap(api: SocketAddr, receive_buffer: usize) -> BufReader<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(receive_buffer).unwrap();
    socket.connect(&api.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /tap HTTP/1.0\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.0 200"), "{line}");
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    reader
}

/// Waits until `/metrics` shows `sluice_flushes_total` ≥ `flushes`, at most `within`.
fn wait_flushes(agent: &Agent, flushes: f64, within: Duration) {
    let deadline = Instant::now() + within;
    while agent.metric("sluice_flushes_total").unwrap_or(0.0) < flushes {
        assert!(Instant::now() < deadline, "fewer than {flushes} flushes within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Gauges kept in every window, so each window is large without sending anything more.
const GAUGES: usize = 20_000;

/// A tap client that stops reading neither slows the aggregator nor costs the file sink a
/// window: flushes keep their pace, the file receives every window whole, and when the client
/// reads again it is told how many windows it missed, then gets the next ones; stalled, it
/// does not hold the agent's exit either.
#[test]
fn a_tap_that_never_reads_does_not_hold_back_the_file_sink() {
    let agent = Setup { flush_interval: "1s", agent: "expire_after_windows = 1000", ..Setup::default() }.start("");
    let lines: Vec<String> = (0..GAUGES).map(|i| format!("tap.stall.{i:05}:{i}|g")).collect();
    let datagrams: Vec<String> = lines.chunks(50).map(|c| c.join("\n")).collect();
    agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
    agent.wait_lines(GAUGES as f64);
    agent.wait_flush();

    // Enough windows to fill the kernel's largest send buffer, the tap's ring of four, and a
    // few more held by the client's buffer and the server's writer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let window_bytes = loop {
        assert!(Instant::now() < deadline, "no window with every gauge in the file");
        let text = std::fs::read_to_string(agent.path("windows.jsonl")).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(&format!("tap.stall.{:05}", GAUGES - 1))) {
            break line.len();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stall = (send_buffer_max() / window_bytes + 8) as f64;

    let mut tap = open_tap(agent.api, 4096);
    let from = agent.metric("sluice_flushes_total").unwrap();
    let started = Instant::now();
    wait_flushes(&agent, from + stall, Duration::from_mins(1));
    // The flush tick kept its pace of one a second while the tap stalled.
    assert!(started.elapsed().as_secs_f64() < stall * 1.5, "{stall} flushes took {:?}", started.elapsed());

    let flushed = agent.metric("sluice_flushes_total").unwrap() as usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    let windows = loop {
        let windows = read_windows(&agent.path("windows.jsonl"));
        if windows.len() >= flushed {
            break windows;
        }
        assert!(Instant::now() < deadline, "the file sink has {} of {flushed} windows", windows.len());
        std::thread::sleep(Duration::from_millis(100));
    };
    let ids: Vec<u64> = windows.iter().map(|w| w["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "every window, in order");
    let full = windows.iter().filter(|w| w["series"].as_array().unwrap().len() == GAUGES).count();
    assert!(full as f64 >= stall, "{full} windows carried every gauge");

    // Reading again: windows, then how many were missed, then the windows after them.
    let mut last_id = 0;
    let missed = loop {
        let line = read_line(&mut tap);
        if let Some(missed) = line["missed"].as_u64() {
            break missed;
        }
        assert_eq!(line["series"].as_array().unwrap().len(), GAUGES);
        last_id = line["id"].as_u64().unwrap();
    };
    assert!(missed >= 1);
    let next = read_line(&mut tap);
    assert_eq!(next["id"].as_u64().unwrap(), last_id + missed + 1, "the missed count accounts for the gap");

    // Stalled again, the tap does not hold the agent's exit.
    let stopping = Instant::now();
    let (exit, _) = agent.stop();
    assert!(exit.success());
    assert!(stopping.elapsed() < Duration::from_secs(8), "stopping took {:?}", stopping.elapsed());
}

/// One JSON line of the tap.
fn read_line(tap: &mut BufReader<TcpStream>) -> Value {
    let mut line = Vec::new();
    tap.by_ref().take(64 << 20).read_until(b'\n', &mut line).unwrap();
    serde_json::from_slice(&line)
        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {}", String::from_utf8_lossy(&line)))
}

/// The most a TCP socket's send buffer can grow to (`net.ipv4.tcp_wmem`), 4 MiB if unknown.
fn send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}
