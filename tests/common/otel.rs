//! An application instrumented with the real OpenTelemetry Python SDK (`opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http`, from a virtual environment under `.test-servers/`
//! that `scripts/test` creates): `tests/otlp_client.py` records known values and exports them
//! over OTLP/HTTP. The formulas of its values are mirrored here, so tests compare what a
//! backend received with what the application recorded.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The script's constants (see its docstring).
pub const ROUNDS: u64 = 12;
pub const COUNTERS: u64 = 150;
pub const HISTOGRAMS: u64 = 40;
pub const EXPONENTIALS: u64 = 10;
pub const GAUGES: u64 = 60;
pub const UP_DOWNS: u64 = 30;
pub const BOUNDS: [f64; 5] = [1.0, 5.0, 10.0, 50.0, 100.0];
pub const LATENCIES: [f64; 8] = [0.5, 3.0, 7.0, 20.0, 75.0, 250.0, 5.0, 1.0];

/// How long one run of the script may take (it records for about 1.5 s).
const RUN_TIMEOUT: Duration = Duration::from_mins(1);

/// The workspace root, whichever crate's tests include this file.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().find(|dir| dir.join("Cargo.lock").exists()).unwrap_or(manifest).to_owned()
}

/// The virtual environment's Python, which has the SDK.
fn python() -> PathBuf {
    let python = root().join(".test-servers/otel/bin/python");
    assert!(
        python.is_file(),
        "the OpenTelemetry SDK is missing at {}: run scripts/test (it creates .test-servers/otel with \
         opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http)",
        python.display()
    );
    python
}

/// One run of the script, exporting to an OTLP receiver.
pub struct Client {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Client {
    /// Starts the script: `temporality` is `"delta"` or `"cumulative"`, `service` its
    /// `service.name`, `gzip` whether its exporter compresses.
    pub fn start(receiver: SocketAddr, temporality: &str, service: &str, gzip: bool) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(python())
            .arg(root().join("tests/otlp_client.py"))
            .arg(format!("http://{receiver}/v1/metrics"))
            .args([temporality, service, if gzip { "gzip" } else { "none" }])
            // Only what the script sets: no collector endpoint or resource from the environment.
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// Waits for the script to exit and panics unless every export succeeded. Returns how many
    /// exports it made.
    pub fn finish(mut self) -> u64 {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < RUN_TIMEOUT, "the OTLP client did not finish: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.log();
        assert!(status.success(), "the OTLP client failed ({status}): {log}");
        log.lines().find_map(|l| l.strip_suffix(" exports")?.parse().ok()).expect("the client says how many exports")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `otel.requests{route=r<i>}` after every round.
pub fn requests(i: u64) -> f64 {
    (0..ROUNDS).map(|r| (i % 7 + 1 + r % 3) as f64).sum()
}

/// `otel.bytes{route=r<i>}` after every round.
pub fn bytes(i: u64) -> f64 {
    ROUNDS as f64 * 0.5 * (i % 4 + 1) as f64
}

/// `otel.latency{route=r<j>}`: observations per bucket of [`BOUNDS`] (the last above them all)
/// and their sum.
pub fn latency(j: u64) -> (Vec<u64>, f64) {
    let mut values = LATENCIES.to_vec();
    values.extend(std::iter::repeat_n(20.0, (j % 3) as usize));
    let mut counts = vec![0; BOUNDS.len() + 1];
    for v in &values {
        // A bucket holds the values above the bound before it, up to and including its own.
        counts[BOUNDS.partition_point(|b| b < v)] += ROUNDS;
    }
    (counts, ROUNDS as f64 * values.iter().sum::<f64>())
}

/// `otel.size{shard=s<s>}`: count, sum, smallest and largest value.
pub fn size(s: u64) -> (f64, f64, f64, f64) {
    let base = (s + 1) as f64;
    ((5 * ROUNDS) as f64, ROUNDS as f64 * base * 15.0, base, base * 5.0)
}

/// `otel.temperature{zone=z<g>}` after the last round.
pub fn temperature(g: u64) -> f64 {
    1.5 * g as f64 + (ROUNDS - 1) as f64
}

/// `otel.queue{queue=q<u>}` after the last round.
pub fn queue(u: u64) -> f64 {
    (u + 2 * ROUNDS) as f64
}

/// A minimal HTTP/1.1 POST to `/v1/metrics`: `(status, headers and body)` of the answer; status
/// 0 when nothing listens.
pub fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request =
        format!("POST /v1/metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // A refused body may be answered before it is read whole: the rest may then not be sent.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}
