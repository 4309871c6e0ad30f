//! `GET /tap` and `sluice tap`: every window as the agent flushes it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Agent, Setup, read_windows};
use serde_json::Value;

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
