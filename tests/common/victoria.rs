//! A real VictoriaMetrics 1.79 for tests: `victoria-metrics` on a free loopback port with its
//! storage in a temp dir, query caching and latency offset off (so a query sees what was just
//! written), stopped by its PID on drop; it can be stopped and started again on the same port
//! and data dir to simulate an outage.

use std::net::SocketAddr;
use std::process::{Child, Command};

use super::prometheus::{PromQl, free_addr, spawn_ready, terminate};

/// The binary the Debian package `victoria-metrics` installs.
const BINARY: &str = "victoria-metrics";

/// Raw samples of one series as the export API gives them: its labels and every
/// `(timestamp ms, value)`.
pub type Exported = (serde_json::Value, Vec<(i64, f64)>);

/// A running (or stopped) VictoriaMetrics on `127.0.0.1:port`.
pub struct Victoria {
    addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Victoria {
    /// Starts VictoriaMetrics on a free port and waits until it is healthy.
    pub fn start() -> Self {
        let mut victoria = Self { addr: free_addr(), child: None, dir: tempfile::tempdir().unwrap() };
        victoria.restart();
        victoria
    }

    /// The remote write endpoint to configure a sink with.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// Starts VictoriaMetrics again on the same port and data dir (it keeps what it stored).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "VictoriaMetrics is running");
        let mut command = Command::new(BINARY);
        command
            .arg(format!("-httpListenAddr={}", self.addr))
            .arg(format!("-storageDataPath={}", self.dir.path().join("data").display()))
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-retentionPeriod=100y")
            .current_dir(self.dir.path());
        let log = self.dir.path().join(format!("victoria-{}.log", std::process::id()));
        self.child = Some(spawn_ready(command, &log, self.addr, "/health", "victoria-metrics"));
    }

    /// Stops VictoriaMetrics cleanly (SIGTERM: it flushes what it holds to its data dir).
    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// `GET /api/v1/export?match[]=<selector>`: every raw sample of each matching series, as
    /// `(labels, [(timestamp ms, value)])`, or `None` while it does not answer.
    pub fn export(&self, selector: &str) -> Option<Vec<Exported>> {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let path = format!("/api/v1/export?match[]={}", utf8_percent_encode(selector, NON_ALPHANUMERIC));
        let (status, body) = super::http_get(self.addr, &path)?;
        if status != 200 {
            return None;
        }
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).ok()?;
                let values = json["values"].as_array()?;
                let stamps = json["timestamps"].as_array()?;
                let points = stamps
                    .iter()
                    .zip(values)
                    .map(|(t, v)| Some((t.as_i64()?, v.as_f64().unwrap_or(f64::NAN))))
                    .collect::<Option<Vec<_>>>()?;
                Some((json["metric"].clone(), points))
            })
            .collect()
    }
}

impl PromQl for Victoria {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Victoria {
    fn drop(&mut self) {
        self.stop();
    }
}
