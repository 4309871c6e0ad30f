//! A real Prometheus 2.42 for tests: `prometheus` with the remote write receiver on a free
//! loopback port, its TSDB in a temp dir, stopped by its PID on drop; and the instant-query
//! reader every remote write receiver here shares ([`PromQl`]).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The binary the Debian package `prometheus` installs.
const BINARY: &str = "prometheus";
/// How long Prometheus may take to answer `GET /-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One series of an instant query's answer: its labels and its value.
pub type Sample = (BTreeMap<String, String>, f64);

/// A server that answers the Prometheus query API (`/api/v1/query`).
pub trait PromQl {
    /// The address the query API listens on.
    fn addr(&self) -> SocketAddr;

    /// `GET /api/v1/query?query=<promql>` evaluated now: every series of the vector, or
    /// `None` while the server does not answer or refuses the query.
    fn query(&self, promql: &str) -> Option<Vec<Sample>> {
        let path = format!("/api/v1/query?query={}&nocache=1", utf8_percent_encode(promql, NON_ALPHANUMERIC));
        let (status, body) = super::http_get(self.addr(), &path)?;
        if status != 200 {
            return None;
        }
        parse_vector(&body)
    }
}

/// The series of a `{"status":"success","data":{"resultType":"vector",...}}` answer.
pub fn parse_vector(body: &str) -> Option<Vec<Sample>> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    if json["status"] != "success" || json["data"]["resultType"] != "vector" {
        return None;
    }
    json["data"]["result"]
        .as_array()?
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect::<Option<BTreeMap<_, _>>>()?;
            let value = r["value"][1].as_str()?.parse().ok()?;
            Some((labels, value))
        })
        .collect()
}

/// Starts `command` (its output into `log`), then waits until `GET ready` on `addr` answers
/// 200; panics naming the Debian `package` when the binary is missing.
pub(crate) fn spawn_ready(
    mut command: Command,
    log: &std::path::Path,
    addr: SocketAddr,
    ready: &str,
    package: &str,
) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?} (install the Debian package {package}): {e}"));
    let started = Instant::now();
    loop {
        if super::http_get(addr, ready).is_some_and(|(status, _)| status == 200) {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{command:?} exited with {status} before it was ready");
        }
        assert!(started.elapsed() < READY_TIMEOUT, "{command:?} was not ready in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `child`: SIGTERM to its PID (a clean shutdown flushes what the server holds), then
/// SIGKILL if it has not exited in 10 s.
pub(crate) fn terminate(child: Option<Child>) {
    let Some(mut child) = child else { return };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: `pid` is our own child, not yet reaped, so it names no other process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free loopback TCP address.
pub(crate) fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A running Prometheus on `127.0.0.1:port`, accepting remote write.
pub struct Prometheus {
    addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
    tls: bool,
}

impl Prometheus {
    /// Starts Prometheus (no scrape targets) on a free port and waits until it is ready.
    pub fn start() -> Self {
        let mut prometheus = Self { addr: free_addr(), child: None, dir: tempfile::tempdir().unwrap(), tls: false };
        prometheus.spawn(None);
        prometheus
    }

    /// Starts Prometheus serving HTTPS only, with the server certificate of `ca`, and waits
    /// until its log says it is ready (the query helpers speak plain HTTP: read back after
    /// [`Prometheus::restart_plain`]).
    pub fn start_tls(ca: &super::tls::TestCa) -> Self {
        let mut prometheus = Self { addr: free_addr(), child: None, dir: tempfile::tempdir().unwrap(), tls: true };
        let web = prometheus.dir.path().join("web.yml");
        let config =
            format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", ca.cert.display(), ca.key.display());
        std::fs::write(&web, config).unwrap();
        prometheus.spawn(Some(&web));
        prometheus
    }

    /// Stops Prometheus and starts it again on the same port and TSDB (it replays what it
    /// stored from its write-ahead log), serving plain HTTP.
    pub fn restart_plain(&mut self) {
        terminate(self.child.take());
        self.tls = false;
        self.spawn(None);
    }

    fn spawn(&mut self, web_config: Option<&std::path::Path>) {
        let dir = self.dir.path();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let mut command = Command::new(BINARY);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={}", self.addr))
            .arg("--web.enable-remote-write-receiver")
            .current_dir(dir);
        let log = dir.join("prometheus.log");
        self.child = Some(match web_config {
            None => spawn_ready(command, &log, self.addr, "/-/ready", "prometheus"),
            Some(web) => {
                command.arg(format!("--web.config.file={}", web.display()));
                spawn_logged_ready(command, &log, "Server is ready to receive web requests.")
            }
        });
    }

    /// The remote write endpoint to configure a sink with (`https://` when serving TLS).
    pub fn write_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/api/v1/write", self.addr)
    }

    /// Prometheus' own log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// Starts `command` (its output into `log`), then waits until `log` holds `ready`.
fn spawn_logged_ready(mut command: Command, log: &std::path::Path, ready: &str) -> Child {
    let file = std::fs::File::create(log).unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?} (install the Debian package prometheus): {e}"));
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(log).is_ok_and(|text| text.contains(ready)) {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{command:?} exited with {status} before it was ready: {}", std::fs::read_to_string(log).unwrap());
        }
        assert!(started.elapsed() < READY_TIMEOUT, "{command:?} was not ready in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl PromQl for Prometheus {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        terminate(self.child.take());
    }
}
