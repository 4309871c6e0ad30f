//! Applications instrumented with the real Prometheus client libraries, for the scrape
//! source: `tests/scrape_app.js` with npm `prom-client` (from `.test-servers/node_modules`)
//! and `tests/scrape_app.py` with `prometheus_client` from `PyPI` (in the `.test-servers/otel`
//! virtual environment), both installed by `scripts/test`. Each serves `/metrics` on a given
//! loopback port and records a numbered round of known events when told; the formulas of
//! those events are mirrored here, so tests compare what a backend received with what the
//! application recorded.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The scripts' constants (see their docstrings).
pub const COUNTERS: u64 = 120;
pub const HISTOGRAMS: u64 = 20;
pub const GAUGES: u64 = 40;
pub const BOUNDS: [f64; 4] = [0.25, 1.0, 4.0, 16.0];

/// Which client library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// npm `prom-client`: the Prometheus text format.
    PromClient,
    /// `prometheus_client` from `PyPI`: OpenMetrics when asked for it.
    PythonClient,
}

/// The workspace root, whichever crate's tests include this file.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().find(|dir| dir.join("Cargo.lock").exists()).unwrap_or(manifest).to_owned()
}

/// A running application.
pub struct App {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl App {
    /// Starts the application of `library` on `addr` and waits until it serves.
    pub fn start(library: Library, addr: SocketAddr) -> Self {
        let root = root();
        let mut command = match library {
            Library::PromClient => {
                let module = root.join(".test-servers/node_modules/prom-client");
                assert!(
                    module.is_dir(),
                    "prom-client is missing at {}: run scripts/test (npm install --prefix .test-servers prom-client)",
                    module.display()
                );
                let mut command = Command::new("node");
                command.arg(root.join("tests/scrape_app.js")).env("NODE_PATH", root.join(".test-servers/node_modules"));
                command
            }
            Library::PythonClient => {
                let python = root.join(".test-servers/otel/bin/python");
                assert!(
                    python.is_file(),
                    "prometheus_client is missing at {}: run scripts/test (it creates .test-servers/otel)",
                    python.display()
                );
                let mut command = Command::new(python);
                command.arg(root.join("tests/scrape_app.py"));
                command
            }
        };
        let mut child = command
            .arg(addr.port().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut app = Self { child, stdin, stdout };
        app.expect("listening");
        app
    }

    /// Records round `r`'s events and waits until the application says it did.
    pub fn round(&mut self, r: u64) {
        writeln!(self.stdin, "round {r}").unwrap();
        self.expect(&format!("done {r}"));
    }

    fn expect(&mut self, wanted: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the application exited before {wanted:?}");
            if line.trim() == wanted {
                return;
            }
        }
    }

    /// Kills the application (its counters are gone with it) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `app_requests_total{route="r{i}"}` after `rounds`.
pub fn requests(i: u64, rounds: &[u64]) -> f64 {
    rounds.iter().map(|r| (i % 5 + r) as f64).sum()
}

/// `app_errors_total` after `rounds`.
pub fn errors(rounds: &[u64]) -> f64 {
    rounds.iter().sum::<u64>() as f64
}

/// `app_latency_seconds`' observations per bucket (the last above 16) and their sum, after
/// `rounds` rounds: each observes 0.125, 0.25, 0.5, 2, 4, 8 and 32, whose sum a float holds
/// exactly.
pub fn latency(rounds: u64) -> (Vec<u64>, f64) {
    ([2, 1, 2, 1, 1].iter().map(|n| n * rounds).collect(), 46.875 * rounds as f64)
}

/// `app_queue_depth{queue="q{k}"}` after round `r`.
pub fn queue(k: u64, r: u64) -> f64 {
    (k * 10 + r) as f64
}

/// `app_payload_bytes`' count and sum after `rounds` rounds (100, 200 and 300 each).
pub fn payload(rounds: u64) -> (f64, f64) {
    (3.0 * rounds as f64, 600.0 * rounds as f64)
}

/// A target that serves `body` with `status` to every request, on its own thread, until the
/// test ends. Hand-written HTTP/1.0: the test needs one fixed answer, not a server library.
pub fn fixed_target(status: &'static str, body: &'static str) -> SocketAddr {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}
