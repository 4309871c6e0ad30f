//! A real Pushgateway for tests: `prometheus-pushgateway` on a free loopback port, without
//! persistence, stopped by its PID on drop; it can be stopped and started again on the same
//! port to simulate an outage.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary the Debian package `prometheus-pushgateway` installs.
const BINARY: &str = "prometheus-pushgateway";
/// How long the gateway may take to answer `GET /-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running (or stopped) Pushgateway on `127.0.0.1:port`.
pub struct Pushgateway {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Pushgateway {
    /// Starts a gateway on a free port and waits until it is ready.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut gateway = Self { port, child: None, dir: tempfile::tempdir().unwrap() };
        gateway.restart();
        gateway
    }

    /// The base URL to configure a sink with.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the gateway again on the same port (empty: it keeps nothing across restarts).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the gateway is running");
        let log = std::fs::File::create(self.dir.path().join("pushgateway.log")).unwrap();
        let child = Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--persistence.file=")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {BINARY} (install the Debian package prometheus-pushgateway): {e}")
            });
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.get("/-/ready").is_some_and(|(status, _)| status == 200) {
                return;
            }
            assert!(started.elapsed() < READY_TIMEOUT, "the Pushgateway was not ready in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the gateway: SIGTERM to its PID, then SIGKILL if it has not exited in 5 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: `pid` is our own child, not yet reaped, so it names no other process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `GET path` over HTTP/1.0: the status and the body, or `None` when nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        self.request("GET", path, "")
    }

    /// `method path` with a text-format `body`: the status and the response body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        request(self.port, method, path, body)
    }

    /// A view of the gateway's groups that another thread can read while this one stops and
    /// restarts the gateway.
    pub fn view(&self) -> View {
        View { port: self.port }
    }

    /// `GET /api/v1/metrics`, parsed: every group the gateway holds.
    pub fn groups(&self) -> Vec<serde_json::Value> {
        let (status, body) = self.get("/api/v1/metrics").expect("the Pushgateway answers");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["data"].as_array().cloned().unwrap_or_default()
    }

    /// The group whose grouping labels are exactly `labels`, if the gateway holds it.
    pub fn group(&self, labels: &[(&str, &str)]) -> Option<serde_json::Value> {
        find_group(self.groups(), labels)
    }
}

/// Reads a gateway's groups; see [`Pushgateway::view`].
#[derive(Debug, Clone, Copy)]
pub struct View {
    port: u16,
}

impl View {
    /// The group whose grouping labels are exactly `labels`; `None` also while the gateway
    /// does not answer.
    pub fn group(self, labels: &[(&str, &str)]) -> Option<serde_json::Value> {
        let (status, body) = request(self.port, "GET", "/api/v1/metrics", "")?;
        let json: serde_json::Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
        find_group(json["data"].as_array().cloned().unwrap_or_default(), labels)
    }
}

fn find_group(groups: Vec<serde_json::Value>, labels: &[(&str, &str)]) -> Option<serde_json::Value> {
    let want: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
    groups.into_iter().find(|g| g["labels"].as_object() == Some(&want))
}

/// `method path` with a text-format `body` to the gateway on `port`.
fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Some((status, body))
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The value of metric `name` with exactly the `labels` (grouping labels included) in `group`,
/// as a number: a counter's or gauge's value.
pub fn value(group: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metric(group, name, labels).and_then(|m| m["value"].as_str()?.parse().ok())
}

/// A histogram as read back: `(count, sum, [(le, cumulative count)])`, buckets in `le` order.
pub type Histogram = (f64, f64, Vec<(f64, f64)>);

/// A histogram of `group`, if it holds one with exactly `labels`.
pub fn histogram(group: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> Option<Histogram> {
    let m = metric(group, name, labels)?;
    let count = m["count"].as_str()?.parse().ok()?;
    let sum = m["sum"].as_str()?.parse().ok()?;
    let mut buckets: Vec<(f64, f64)> = m["buckets"]
        .as_object()?
        .iter()
        .map(|(le, c)| (le.parse::<f64>().unwrap(), c.as_str().unwrap().parse::<f64>().unwrap()))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some((count, sum, buckets))
}

fn metric<'a>(group: &'a serde_json::Value, name: &str, labels: &[(&str, &str)]) -> Option<&'a serde_json::Value> {
    let want: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
    group[name]["metrics"].as_array()?.iter().find(|m| m["labels"].as_object() == Some(&want))
}
