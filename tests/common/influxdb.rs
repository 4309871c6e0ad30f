//! A real InfluxDB 1.x server for tests: `influxd run -config F` on loopback ports chosen per
//! test, with its data in a temporary directory. It can be stopped and started again on the
//! same ports with the same data, and is stopped (by its PID) when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long `influxd` may take to answer `/ping`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or stopped) `influxd`.
pub struct Influxd {
    dir: tempfile::TempDir,
    http_port: u16,
    child: Option<Child>,
    client: reqwest::Client,
}

impl Influxd {
    /// Starts `influxd` with a fresh data directory and waits until `/ping` answers 204.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let http_port = free_port();
        let rpc_port = free_port();
        std::fs::write(dir.path().join("influxdb.conf"), config(dir.path(), rpc_port, http_port)).unwrap();
        let client = backends::delivery::http::client().unwrap();
        let mut server = Self { dir, http_port, child: None, client };
        server.resume().await;
        server
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `path` on this server with `query` as its query string.
    fn endpoint(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.url())).unwrap();
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// Stops the server (SIGTERM, then waits for it to exit); its data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) with a PID this test started and has not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts the stopped server again, on the same ports with the same data.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "influxd is running already");
        let log = std::fs::File::create(self.dir.path().join("influxd.log")).unwrap();
        let child = Command::new("influxd")
            .arg("run")
            .arg("-config")
            .arg(self.dir.path().join("influxdb.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("influxd runs (the Debian package `influxdb`)");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(r) = self.client.get(format!("{}/ping", self.url())).send().await
                && r.status().as_u16() == 204
            {
                return;
            }
            assert!(started.elapsed() < START_TIMEOUT, "influxd did not answer /ping: {}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the server logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }

    /// Creates database `db`.
    pub async fn create_database(&self, db: &str) {
        let response = self
            .client
            .post(self.endpoint("/query", &[("q", &format!("CREATE DATABASE \"{db}\""))]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }

    /// Writes raw line protocol (ms precision), returning the status and the body.
    pub async fn write_raw(&self, db: &str, lines: &str) -> (u16, String) {
        let response = self
            .client
            .post(self.endpoint("/write", &[("db", db), ("precision", "ms")]))
            .body(lines.to_owned())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Runs a query (`InfluxQL`) on `db` with millisecond timestamps; returns the rows of the
    /// first series (empty when nothing matched).
    pub async fn rows(&self, db: &str, query: &str) -> Vec<Vec<Value>> {
        let response = self
            .client
            .get(self.endpoint("/query", &[("db", db), ("epoch", "ms"), ("q", query)]))
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let result = &body["results"][0];
        assert!(result.get("error").is_none(), "{query}: {result}");
        result["series"][0]["values"]
            .as_array()
            .map(|rows| rows.iter().map(|r| r.as_array().unwrap().clone()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A configuration with everything but the HTTP API switched off, all state under `dir`.
fn config(dir: &Path, rpc_port: u16, http_port: u16) -> String {
    let dir = dir.display();
    format!(
        r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{dir}/meta"

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[logging]
  level = "warn"

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"#
    )
}
