//! A real `node_exporter` 1.5 for tests: `prometheus-node-exporter` on a free loopback port with
//! only the textfile collector (the others read the whole machine and are slow), reading
//! `*.prom` files from a directory the test owns; stopped by its PID on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};

use super::prometheus::{free_addr, spawn_ready, terminate};

/// A running `node_exporter`.
pub struct NodeExporter {
    addr: SocketAddr,
    child: Option<Child>,
    log: tempfile::TempDir,
}

impl NodeExporter {
    /// Starts `node_exporter` reading the textfile directory `dir` and waits until `/metrics`
    /// answers.
    pub fn start(dir: &Path) -> Self {
        let addr = free_addr();
        let log = tempfile::tempdir().unwrap();
        let mut command = Command::new("prometheus-node-exporter");
        command
            .arg(format!("--web.listen-address={addr}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!("--collector.textfile.directory={}", dir.display()));
        let child =
            spawn_ready(command, &log.path().join("node_exporter.log"), addr, "/metrics", "prometheus-node-exporter");
        Self { addr, child: Some(child), log }
    }

    /// `GET /metrics`: the textfile collector's series among `node_exporter`'s own.
    pub fn metrics(&self) -> String {
        let (status, body) = super::http_get(self.addr, "/metrics").expect("node_exporter answers");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `node_exporter`'s own log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path().join("node_exporter.log")).unwrap_or_default()
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        terminate(self.child.take());
    }
}
