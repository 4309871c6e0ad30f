//! Probes through the binary: HTTP, TCP and file probes report exactly in the windows, a
//! timeout fails a probe, and a critical HTTP probe that starts failing turns `GET /checks`
//! from 200 to 503.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

use common::{Setup, http_get, series};

/// An HTTP server answering every request with the status `status` holds.
fn http_server(status: Arc<AtomicU16>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0; 2048];
            let _ = stream.read(&mut buf);
            let code = status.load(Relaxed);
            let _ = write!(stream, "HTTP/1.0 {code} X\r\nContent-Length: 7\r\n\r\nhealthy");
        }
    });
    format!("http://{addr}/health")
}

/// A TCP server that answers `+PONG` to `PING`, and one that accepts and never answers.
fn tcp_servers() -> (String, String) {
    let pong = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = (pong.local_addr().unwrap().to_string(), silent.local_addr().unwrap().to_string());
    std::thread::spawn(move || {
        for stream in pong.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0; 64];
            if stream.read(&mut buf).is_ok() {
                let _ = stream.write_all(b"+PONG\r\n");
            }
        }
    });
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    addrs
}

fn checks(api: std::net::SocketAddr) -> (u16, Value) {
    let (status, body) = http_get(api, "/checks").unwrap();
    (status, serde_json::from_str(&body).unwrap())
}

/// The last value of gauge `name` tagged `probe:<probe>` in `windows`.
fn last(windows: &[Value], name: &str, probe: &str) -> Option<f64> {
    let tag = format!("probe:{probe}");
    series(windows)
        .filter(|(n, tags, _)| n == name && tags.contains(&tag))
        .last()
        .map(|(_, _, v)| v["value"].as_f64().unwrap())
}

/// Every probe type reports in the windows; the silent TCP server times its probe out; the
/// critical HTTP probe decides `/checks`, which turns 503 with the probe's error once the
/// server answers 500.
#[test]
fn probes_report_in_the_windows_and_a_failing_critical_probe_turns_checks_to_503() {
    let status = Arc::new(AtomicU16::new(200));
    let url = http_server(Arc::clone(&status));
    let (pong, silent) = tcp_servers();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.dump");
    std::fs::write(&backup, vec![7; 12_345]).unwrap();
    let probes = format!(
        "[sources.probe.api]\ntype = \"http\"\nurl = \"{url}\"\nbody_contains = \"healthy\"\ninterval = \"1s\"\ntimeout = \"1s\"\ncritical = true\n\
         [sources.probe.cache]\ntype = \"tcp\"\naddress = \"{pong}\"\nsend = \"PING\\r\\n\"\nexpect = \"+PONG\"\ninterval = \"1s\"\n\
         [sources.probe.stuck]\ntype = \"tcp\"\naddress = \"{silent}\"\nexpect = \"+OK\"\ninterval = \"1s\"\ntimeout = \"300ms\"\n\
         [sources.probe.backup]\ntype = \"file\"\npath = \"{}\"\nmin_size = \"10KiB\"\ninterval = \"1s\"\n",
        backup.display()
    );
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&probes);

    let deadline = Instant::now() + Duration::from_secs(10);
    // Passing, and every probe run at least once.
    let passing = loop {
        let (code, body) = checks(agent.api);
        let all_run = body["checks"].as_array().unwrap().iter().all(|c| c["error"] != "not run yet");
        if code == 200 && all_run {
            break body;
        }
        assert!(Instant::now() < deadline, "/checks never passed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(passing["status"], "pass");
    let stuck = passing["checks"].as_array().unwrap().iter().find(|c| c["probe"] == "stuck").unwrap();
    assert_eq!(stuck["ok"], false, "{passing}");
    assert!(stuck["error"].as_str().unwrap().starts_with("no result within the timeout of 0.3s"), "{stuck}");

    status.store(500, Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    let failing = loop {
        let (code, body) = checks(agent.api);
        if code == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "/checks never failed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(failing["status"], "fail");
    let api = failing["checks"].as_array().unwrap().iter().find(|c| c["probe"] == "api").unwrap();
    assert_eq!(api["error"], format!("{url} answered 500"));
    let status_json: Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    assert_eq!(status_json["probes"].as_array().unwrap().len(), 4, "{status_json}");
    assert!(agent.metric("sluice_probe_failures_total{probe=\"api\"}").unwrap() >= 1.0);
    agent.wait_flush();
    agent.wait_flush();
    let (exit, windows) = agent.stop();
    assert!(exit.success());

    assert_eq!(last(&windows, "probe.success", "api"), Some(0.0));
    assert_eq!(last(&windows, "probe.http.status_code", "api"), Some(500.0));
    assert_eq!(last(&windows, "probe.success", "cache"), Some(1.0));
    assert_eq!(last(&windows, "probe.success", "stuck"), Some(0.0));
    assert_eq!(last(&windows, "probe.success", "backup"), Some(1.0));
    assert_eq!(last(&windows, "probe.file.size_bytes", "backup"), Some(12_345.0));
    let took = last(&windows, "probe.duration_seconds", "stuck").unwrap();
    assert!((0.3..1.0).contains(&took), "the timed-out probe took {took}s");
}
