//! The agent's own telemetry: counters written by sources and the aggregator, read by the
//! HTTP API's `/metrics` and `/status` and by the internal source.
//!
//! - This file: the counters and gauges, as the parts that count hold them.
//! - [`families`]: every family `/metrics` shows, read through one [`families::Reader`].
//! - [`alerts`]: the rules' alerts and the Alertmanager deliveries.

pub mod alerts;
pub mod families;

pub use alerts::{AlertStats, ManagerStats};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use backends::delivery::BackendStats;

use crate::sources::internal::Readings;
use crate::sources::otlp::{Refusal, RejectReason};
use crate::sources::scrape::{FailReason, Skip};

/// Counters of one listener (`listener` label: `udp:127.0.0.1:8125`, `unix:/run/…`).
#[derive(Debug)]
pub struct ListenerStats {
    /// The `listener` label.
    pub name: String,
    /// Lines accepted (parsed, valid or not) from this listener.
    pub lines: AtomicU64,
    /// Bytes read.
    pub bytes: AtomicU64,
    /// Inode of the UDP socket, to find its kernel drop counter in `/proc/net/udp`; 0 for
    /// sockets whose drops the kernel does not report.
    pub udp_inode: AtomicU64,
    /// Input cut or discarded for being too large: datagrams over the listener's maximum
    /// (their complete lines are kept) and stream lines over the maximum line length.
    pub truncated: AtomicU64,
    /// False once a reload removed the listener; its counters keep their final values.
    pub running: AtomicBool,
}

impl ListenerStats {
    /// Fresh counters for the listener `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            lines: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            udp_inode: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            running: AtomicBool::new(true),
        }
    }
}

/// The `as_str()` label of each value of `$all` (an array of `$count` enum values), in order,
/// built at compile time: the label list a [`CounterFamily`] of reasons is made from.
macro_rules! labels {
    ($all:expr, $count:expr) => {{
        let mut labels = [""; $count];
        let mut i = 0;
        while i < $count {
            labels[i] = $all[i].as_str();
            i += 1;
        }
        labels
    }};
}
pub(crate) use labels;

/// A counter per label value, the values fixed when built (parse error reasons, drop reasons).
#[derive(Debug)]
pub struct CounterFamily {
    labels: &'static [&'static str],
    values: Box<[AtomicU64]>,
}

impl CounterFamily {
    /// One counter per label value.
    pub fn new(labels: &'static [&'static str]) -> Self {
        Self { labels, values: labels.iter().map(|_| AtomicU64::new(0)).collect() }
    }

    /// Adds `n` to the counter at `index` (the position of its label).
    pub fn add(&self, index: usize, n: u64) {
        if n > 0 {
            self.values[index].fetch_add(n, Relaxed);
        }
    }

    /// `(label, value)` for every counter.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.labels.iter().zip(self.values.iter()).map(|(l, v)| (*l, v.load(Relaxed)))
    }

    /// The value of the counter labelled `label`, 0 if there is none.
    pub fn get(&self, label: &str) -> u64 {
        self.iter().find(|(l, _)| *l == label).map_or(0, |(_, v)| v)
    }
}

/// One probe's counts and last result (`[sources.probe.NAME]`), for `/checks`, `/status` and
/// `sluice_probe_*`.
#[derive(Debug)]
pub struct ProbeStats {
    /// The probe's name.
    pub name: String,
    /// `http`, `tcp` or `file`.
    pub kind: RwLock<&'static str>,
    /// Whether `/checks` depends on it.
    pub critical: AtomicBool,
    /// Runs so far.
    pub runs: AtomicU64,
    /// Runs that failed.
    pub failures: AtomicU64,
    /// False once a reload removed the probe.
    pub running: AtomicBool,
    last: Mutex<Option<ProbeResult>>,
}

/// What a probe's last run found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeResult {
    /// Whether every check passed.
    pub ok: bool,
    /// What failed, when something did.
    pub error: Option<String>,
    /// How long the run took.
    pub duration_seconds: f64,
    /// When it ended, Unix milliseconds.
    pub at_ms: u64,
}

impl ProbeStats {
    /// The last result, `None` before the first run ends.
    pub fn last(&self) -> Option<ProbeResult> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Records a run's result.
    pub fn record(&self, result: ProbeResult) {
        self.runs.fetch_add(1, Relaxed);
        if !result.ok {
            self.failures.fetch_add(1, Relaxed);
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    }
}

/// Counters of the OTLP receiver (`sluice_otlp_*`), shared by every instance it has had.
#[derive(Debug)]
pub struct OtlpStats {
    /// `sluice_otlp_received_points_total`: data points in decoded requests.
    pub points: AtomicU64,
    /// `sluice_otlp_baseline_points_total`: cumulative points that only set their series'
    /// baseline.
    pub baselines: AtomicU64,
    /// `sluice_otlp_rejected_points_total{reason}`, by [`RejectReason::LABELS`].
    pub rejected: CounterFamily,
    /// `sluice_otlp_refused_requests_total{reason}`, by [`Refusal::LABELS`].
    pub refused: CounterFamily,
}

impl Default for OtlpStats {
    fn default() -> Self {
        Self {
            points: AtomicU64::new(0),
            baselines: AtomicU64::new(0),
            rejected: CounterFamily::new(&RejectReason::LABELS),
            refused: CounterFamily::new(&Refusal::LABELS),
        }
    }
}

/// Counters of one `[sources.scrape.NAME]` (`sluice_scrape_*{source}`), kept across reloads.
#[derive(Debug)]
pub struct ScrapeStats {
    /// The `source` label: the table's name.
    pub source: String,
    /// `sluice_scrapes_total`: target reads that succeeded.
    pub scrapes: AtomicU64,
    /// `sluice_scrape_failures_total{reason}`, by [`FailReason::LABELS`].
    pub failures: CounterFamily,
    /// `sluice_scrape_malformed_lines_total`: lines skipped in good reads.
    pub malformed: AtomicU64,
    /// `sluice_scrape_baseline_series_total`: cumulative series whose read only set a baseline.
    pub baselines: AtomicU64,
    /// `sluice_scrape_skipped_series_total{reason}`, by [`Skip::LABELS`].
    pub skipped: CounterFamily,
}

impl ScrapeStats {
    fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            scrapes: AtomicU64::new(0),
            failures: CounterFamily::new(&FailReason::LABELS),
            malformed: AtomicU64::new(0),
            baselines: AtomicU64::new(0),
            skipped: CounterFamily::new(&Skip::LABELS),
        }
    }
}

/// Everything `/metrics` and `/status` report. Built once by the topology, then shared.
#[derive(Debug)]
pub struct Telemetry {
    /// One entry per listener label ever run, indexed by
    /// [`crate::aggregator::input::Batch::listener`]. Only ever appended to, so an index
    /// stays valid across reloads; see [`Telemetry::listener`].
    pub listeners: RwLock<Vec<Arc<ListenerStats>>>,
    /// `sluice_parse_errors_total{reason}`.
    pub parse_errors: CounterFamily,
    /// `sluice_dropped_samples_total{reason}`.
    pub dropped_samples: CounterFamily,
    /// Events received (`_e{…}`).
    pub events: AtomicU64,
    /// Service checks received (`_sc|…`).
    pub service_checks: AtomicU64,
    /// `sluice_histograms_rebucketed_total`: explicit-bucket histograms whose client changed
    /// the bounds within a window (observations moved to the new bounds, none lost).
    pub rebucketed: AtomicU64,
    /// `sluice_series`: live series in the window state.
    pub series: AtomicU64,
    /// `sluice_flushes_total`.
    pub flushes: AtomicU64,
    /// `sluice_last_flush_duration_seconds`, in microseconds: how long the last flush took
    /// to turn the window state into a window.
    pub last_flush_micros: AtomicU64,
    /// The OTLP receiver's counters.
    pub otlp: OtlpStats,
    /// What the internal source has sent of each counter: kept here, not in the source, so
    /// that a reload replacing the source continues its counts instead of sending them again.
    pub reported: Mutex<Readings>,
    /// Every probe ever run, in the order first started; see [`Telemetry::probe`].
    pub probes: RwLock<Vec<Arc<ProbeStats>>>,
    /// Each scrape source's counters, in the order first started; only ever appended to.
    pub scrape: RwLock<Vec<Arc<ScrapeStats>>>,
    /// The rules' alerts and their delivery to Alertmanager.
    pub alerts: AlertStats,
    /// Per-backend delivery telemetry; replaced when a config reload changes the sinks.
    pub backends: RwLock<Vec<Arc<BackendStats>>>,
    /// True once every listener is bound and every backend built.
    pub ready: AtomicBool,
    /// When the agent started, for the uptime `/status` reports.
    pub started: Instant,
}

impl Telemetry {
    /// Fresh telemetry of a starting agent: counters of `parse_errors` and `dropped` reasons,
    /// and `backends`' delivery stats.
    pub fn new(
        parse_errors: &'static [&'static str],
        dropped: &'static [&'static str],
        backends: Vec<Arc<BackendStats>>,
    ) -> Self {
        Self {
            listeners: RwLock::new(Vec::new()),
            parse_errors: CounterFamily::new(parse_errors),
            dropped_samples: CounterFamily::new(dropped),
            events: AtomicU64::new(0),
            service_checks: AtomicU64::new(0),
            rebucketed: AtomicU64::new(0),
            series: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            last_flush_micros: AtomicU64::new(0),
            otlp: OtlpStats::default(),
            reported: Mutex::default(),
            probes: RwLock::new(Vec::new()),
            scrape: RwLock::new(Vec::new()),
            alerts: AlertStats::default(),
            backends: RwLock::new(backends),
            ready: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// Every listener's telemetry, in the order first started; removed listeners included.
    pub fn listeners(&self) -> Vec<Arc<ListenerStats>> {
        self.listeners.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The index and counters of the listener labelled `label`, marked running. A label seen
    /// before (a listener a reload removed, or rebound with new options) gets its old entry
    /// back, so its counters never go backwards and `/metrics` never shows a label twice.
    pub fn listener(&self, label: &str) -> (usize, Arc<ListenerStats>) {
        let mut listeners = self.listeners.write().unwrap_or_else(PoisonError::into_inner);
        let index = listeners.iter().position(|l| l.name == label).unwrap_or_else(|| {
            listeners.push(Arc::new(ListenerStats::new(label)));
            listeners.len() - 1
        });
        let stats = Arc::clone(&listeners[index]);
        stats.running.store(true, Relaxed);
        (index, stats)
    }

    /// The counts of the probe `name`, marked running with its kind and criticality. A name
    /// seen before gets its old entry back, so its counters never go backwards.
    pub fn probe(&self, name: &str, kind: &'static str, critical: bool) -> Arc<ProbeStats> {
        let mut probes = self.probes.write().unwrap_or_else(PoisonError::into_inner);
        let stats = if let Some(stats) = probes.iter().find(|p| p.name == name) {
            Arc::clone(stats)
        } else {
            let stats = Arc::new(ProbeStats {
                name: name.to_owned(),
                kind: RwLock::new(kind),
                critical: AtomicBool::new(critical),
                runs: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                running: AtomicBool::new(true),
                last: Mutex::new(None),
            });
            probes.push(Arc::clone(&stats));
            stats
        };
        *stats.kind.write().unwrap_or_else(PoisonError::into_inner) = kind;
        stats.critical.store(critical, Relaxed);
        stats.running.store(true, Relaxed);
        stats
    }

    /// Every probe's counts, removed ones included.
    pub fn probes(&self) -> Vec<Arc<ProbeStats>> {
        self.probes.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The counters of the scrape source `name`: its old ones when it ran before.
    pub fn scrape_source(&self, name: &str) -> Arc<ScrapeStats> {
        let mut all = self.scrape.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(stats) = all.iter().find(|s| s.source == name) {
            return Arc::clone(stats);
        }
        all.push(Arc::new(ScrapeStats::new(name)));
        Arc::clone(&all[all.len() - 1])
    }

    /// Every scrape source's counters.
    pub fn scrape_sources(&self) -> Vec<Arc<ScrapeStats>> {
        self.scrape.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every backend's telemetry, in config order.
    pub fn backends(&self) -> Vec<Arc<BackendStats>> {
        self.backends.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the backends' telemetry after a reload.
    pub fn set_backends(&self, backends: Vec<Arc<BackendStats>>) {
        *self.backends.write().unwrap_or_else(PoisonError::into_inner) = backends;
    }
}

#[cfg(test)]
impl Telemetry {
    /// Fresh telemetry with no listener and no backend, for tests.
    pub(crate) fn for_tests() -> Self {
        Self::new(&[], &[], Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry() -> Telemetry {
        Telemetry::for_tests()
    }

    /// A label started again after it stopped gets its old index and counters back, running;
    /// a new label is appended, so earlier indexes stay valid.
    #[test]
    fn a_listener_label_started_again_keeps_its_index_and_counts() {
        let t = telemetry();
        let (udp, stats) = t.listener("udp:127.0.0.1:8125");
        stats.lines.store(7, Relaxed);
        stats.running.store(false, Relaxed);
        let (unix, _) = t.listener("unix:/run/sluice/statsd.sock");
        let (again, stats) = t.listener("udp:127.0.0.1:8125");
        assert_eq!((udp, unix, again), (0, 1, 0));
        assert_eq!(stats.lines.load(Relaxed), 7);
        assert!(stats.running.load(Relaxed));
        assert_eq!(t.listeners().len(), 2);
    }
}
