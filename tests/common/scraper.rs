//! A real Prometheus 2.42 that scrapes one target every second: the binary and helpers of
//! [`super::prometheus`] (shared with the remote write tests, kept as it is there) with a
//! scrape config of its own, read back through the same query API.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::prometheus::{PromQl, Sample, free_addr, spawn_ready, terminate};

/// A running Prometheus on a free loopback port, scraping one target as job `sluice`.
pub struct Scraper {
    addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Scraper {
    /// Starts Prometheus scraping `http://<target>/metrics` every second (its own Accept
    /// header, which prefers OpenMetrics) and waits until it is ready.
    pub fn start(target: SocketAddr) -> Self {
        Self::start_jobs(&[("sluice", target)])
    }

    /// Like [`Scraper::start`], scraping each `(job, target)`.
    pub fn start_jobs(jobs: &[(&str, SocketAddr)]) -> Self {
        let addr = free_addr();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let mut yaml = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                        scrape_configs:\n"
            .to_owned();
        for (job, target) in jobs {
            writeln!(yaml, "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']").unwrap();
        }
        std::fs::write(&config, yaml).unwrap();
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .current_dir(dir.path());
        let child = spawn_ready(command, &dir.path().join("prometheus.log"), addr, "/-/ready", "prometheus");
        Self { addr, child: Some(child), dir }
    }

    /// Prometheus' own log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The scrape target's `(health, lastError)` from `/api/v1/targets`.
    pub fn target(&self) -> Option<(String, String)> {
        let (_, body) = super::http_get(self.addr, "/api/v1/targets?state=active")?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let target = json["data"]["activeTargets"].as_array()?.first()?.clone();
        Some((target["health"].as_str()?.to_owned(), target["lastError"].as_str()?.to_owned()))
    }

    /// Queries `promql` until `done` accepts the answer; panics after `timeout` with the last
    /// answer, the target's health and Prometheus' log.
    pub fn wait_for(&self, promql: &str, timeout: Duration, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.query(promql);
            if let Some(samples) = answer.as_deref()
                && done(samples)
            {
                return answer.unwrap_or_default();
            }
            assert!(
                Instant::now() < deadline,
                "{promql} answered {answer:?}; target {:?}\n{}",
                self.target(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl PromQl for Scraper {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        terminate(self.child.take());
    }
}
