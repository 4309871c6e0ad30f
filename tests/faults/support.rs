//! What the rows share: a real InfluxDB with its client runtime, the disk-buffered sink, the
//! agent's setup, and checks of order and telemetry.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::common::capture::Capture;
use crate::common::influxdb::Influxd;
use crate::common::{Agent, Setup};

pub const DB: &str = "sluice";

/// A real `influxd` with database [`DB`], and the runtime its client runs on.
pub struct Influx {
    pub rt: Runtime,
    pub influxd: Influxd,
}

impl Influx {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let influxd = rt.block_on(Influxd::start());
        rt.block_on(influxd.create_database(DB));
        Self { rt, influxd }
    }

    pub fn resume(&mut self) {
        self.rt.block_on(self.influxd.resume());
    }

    /// The only value of a one-row aggregate `query`, if any point matched.
    pub fn number(&self, query: &str) -> Option<f64> {
        let rows = self.rt.block_on(self.influxd.rows(DB, query));
        rows.first().map(|row| row[1].as_f64().unwrap())
    }

    /// Waits until `SELECT sum("value") FROM measurement` is `expected`.
    pub fn wait_sum(&self, measurement: &str, expected: f64, within: Duration) {
        let query = format!("SELECT sum(\"value\") FROM \"{measurement}\"");
        let deadline = Instant::now() + within;
        loop {
            let got = self.number(&query);
            if got == Some(expected) {
                return;
            }
            assert!(Instant::now() < deadline, "{query} answered {got:?}, expected {expected}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An InfluxDB sink `name` writing to `url` through a disk buffer (plus `buffer` keys), with
/// quick retries.
pub fn disk_sink(name: &str, url: &str, buffer: &str) -> String {
    format!(
        "[sinks.{name}]\ntype = \"influxdb\"\nurl = \"{url}\"\ndatabase = \"{DB}\"\n\
         [sinks.{name}.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n\
         [sinks.{name}.buffer]\ntype = \"disk\"\n{buffer}\n"
    )
}

/// One-second windows, state in `data_dir` when given.
pub fn setup(data_dir: Option<&Path>) -> Setup<'_> {
    Setup { flush_interval: "1s", data_dir, ..Setup::default() }
}

/// Kills the agent with SIGKILL: nothing of its shutdown runs.
pub fn sigkill(mut agent: Agent) {
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
}

/// Every stored point of `measurement` came once and in window order.
pub fn assert_in_order_once(capture: &Capture, measurement: &str) {
    let stamps: Vec<u64> = capture.points(measurement).iter().map(|(ts, _)| *ts).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{measurement} out of order or twice: {stamps:?}");
}

pub fn metric(agent: &Agent, family: &str, backend: &str) -> f64 {
    agent.metric(&format!("{family}{{backend=\"{backend}\"}}")).unwrap()
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// Sends `series` counters `PREFIX.0` … `PREFIX.{series - 1}`, each of `value`, 50 lines to a
/// datagram.
pub fn send_counters(agent: &Agent, prefix: &str, series: u32, value: u32) {
    let datagrams: Vec<String> = (0..series)
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|chunk| chunk.iter().fold(String::new(), |d, i| d + &format!("{prefix}.{i}:{value}|c\n")))
        .collect();
    agent.send_udp(&datagrams.iter().map(String::as_str).collect::<Vec<_>>());
}
