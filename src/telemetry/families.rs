//! Every family `/metrics` shows, in one place: the API renders them as text, the internal
//! source (`[sources.internal]`) turns them into window series. Each reads the telemetry
//! through a [`Reader`], so the two can never disagree on a name, a label or a value.

use std::sync::atomic::Ordering::Relaxed;

use backends::delivery::{BackendStats, BufferMode};
use backends::prometheus::FamilyType::{self, Counter, Gauge};
use backends::prometheus::Number;

use super::{ListenerStats, ManagerStats, Telemetry};
use crate::sources::statsd::kernel::udp_drops;

/// What reads the telemetry, family by family.
pub trait Reader {
    /// A family begins: its samples follow.
    fn family(&mut self, name: &str, kind: FamilyType, help: &str);

    /// One sample of the family begun last, its labels in the order given.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Number);
}

/// Reads every family of `t` into `reader`, in `/metrics` order.
pub fn read(t: &Telemetry, reader: &mut dyn Reader) {
    let mut w = Writer(reader);
    sources(&mut w, t);
    aggregation(&mut w, t);
    backends(&mut w, t);
    alerts(&mut w, t);
}

/// Hands families to a [`Reader`].
struct Writer<'r>(&'r mut dyn Reader);

impl Writer<'_> {
    /// A family and a sample per `(labels, value)`.
    fn family<'a, const N: usize, V: Into<Number>>(
        &mut self,
        name: &str,
        kind: FamilyType,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'a str, &'a str); N], V)>,
    ) {
        self.0.family(name, kind, help);
        for (labels, value) in samples {
            self.0.sample(name, &labels, value.into());
        }
    }

    fn single(&mut self, name: &str, kind: FamilyType, help: &str, value: u64) {
        self.family(name, kind, help, std::iter::once(([], value)));
    }
}

/// A family with one sample per listener or per backend: name, type, help, value.
type Simple<T> = (&'static str, FamilyType, &'static str, fn(&T) -> u64);

/// The listener families that are one number per listener.
const PER_LISTENER: [Simple<ListenerStats>; 3] = [
    ("sluice_received_lines_total", Counter, "Lines read from a listener, valid or not.", |l| l.lines.load(Relaxed)),
    ("sluice_received_bytes_total", Counter, "Bytes read from a listener.", |l| l.bytes.load(Relaxed)),
    (
        "sluice_received_truncated_total",
        Counter,
        "Datagrams over 64 KiB or stream lines without a newline within 64 KiB; the cut line is skipped.",
        |l| l.truncated.load(Relaxed),
    ),
];

/// The backend families that are one number per backend.
const PER_BACKEND: [Simple<BackendStats>; 11] = [
    ("sluice_backend_sent_series_total", Counter, "Series acknowledged by the backend.", |b| {
        b.sent_series.load(Relaxed)
    }),
    ("sluice_backend_retries_total", Counter, "Retried requests.", |b| b.retries.load(Relaxed)),
    ("sluice_backend_buffered_windows", Gauge, "Windows waiting in memory or on disk.", |b| {
        b.buffered_windows.load(Relaxed)
    }),
    (
        "sluice_backend_buffered_bytes",
        Gauge,
        "Estimated bytes of the windows waiting in memory, and bytes of those on disk.",
        |b| b.buffered_bytes.load(Relaxed),
    ),
    ("sluice_backend_spooled_windows", Gauge, "Windows waiting in the disk spool.", |b| {
        b.spooled_windows.load(Relaxed)
    }),
    ("sluice_backend_spooled_bytes", Gauge, "Bytes of the records of the windows waiting in the disk spool.", |b| {
        b.spooled_bytes.load(Relaxed)
    }),
    (
        "sluice_backend_replay_pending_windows",
        Gauge,
        "Windows found in the spool at start and not yet replayed.",
        |b| b.replay_pending.load(Relaxed),
    ),
    (
        "sluice_backend_replayed_windows_total",
        Counter,
        "Windows found in the spool at start and since delivered or given up.",
        |b| b.replayed_windows.load(Relaxed),
    ),
    ("sluice_backend_spool_corrupt_records_total", Counter, "Torn or corrupt spool records skipped.", |b| {
        b.spool_corrupt_records.load(Relaxed)
    }),
    (
        "sluice_backend_spool_errors_total",
        Counter,
        "Spool writes and syncs that failed; meanwhile new windows wait in memory.",
        |b| b.spool_errors.load(Relaxed),
    ),
    (
        "sluice_backend_buffer_fallback",
        Gauge,
        "1 while a disk buffer cannot open or write its spool and buffers new windows in memory.",
        |b| u64::from(b.buffer() == BufferMode::MemoryFallback),
    ),
];

fn sources(w: &mut Writer<'_>, t: &Telemetry) {
    // Listeners a reload removed stay, with their final counts: counters never vanish mid-scrape.
    let listeners = t.listeners();
    for (name, kind, help, value) in PER_LISTENER {
        w.family(name, kind, help, listeners.iter().map(|l| ([("listener", l.name.as_str())], value(l))));
    }
    w.family(
        "sluice_kernel_drops_total",
        Counter,
        "Datagrams the kernel dropped before sluice read them (UDP listeners).",
        listeners.iter().filter_map(|l| {
            let inode = l.udp_inode.load(Relaxed);
            (inode != 0).then(|| ([("listener", l.name.as_str())], udp_drops(inode).unwrap_or(0)))
        }),
    );
    w.family(
        "sluice_parse_errors_total",
        Counter,
        "Malformed lines skipped, by reason.",
        t.parse_errors.iter().map(|(r, v)| ([("reason", r)], v)),
    );
    otlp(w, t);
    scrape(w, t);
    let probes = t.probes();
    w.family(
        "sluice_probe_runs_total",
        Counter,
        "Probe runs.",
        probes.iter().map(|p| ([("probe", p.name.as_str())], p.runs.load(Relaxed))),
    );
    w.family(
        "sluice_probe_failures_total",
        Counter,
        "Probe runs that failed.",
        probes.iter().map(|p| ([("probe", p.name.as_str())], p.failures.load(Relaxed))),
    );
}

fn scrape(w: &mut Writer<'_>, t: &Telemetry) {
    let all = t.scrape_sources();
    w.family(
        "sluice_scrapes_total",
        Counter,
        "Target reads of a scrape source that succeeded.",
        all.iter().map(|s| ([("source", s.source.as_str())], s.scrapes.load(Relaxed))),
    );
    w.family(
        "sluice_scrape_failures_total",
        Counter,
        "Target reads that failed (their target's up is 0), by reason.",
        all.iter().flat_map(|s| s.failures.iter().map(|(r, v)| ([("source", s.source.as_str()), ("reason", r)], v))),
    );
    w.family(
        "sluice_scrape_malformed_lines_total",
        Counter,
        "Lines of good reads skipped as malformed; the rest of the read is kept.",
        all.iter().map(|s| ([("source", s.source.as_str())], s.malformed.load(Relaxed))),
    );
    w.family(
        "sluice_scrape_baseline_series_total",
        Counter,
        "Counters, histograms and summaries whose read only set their baseline (first seen).",
        all.iter().map(|s| ([("source", s.source.as_str())], s.baselines.load(Relaxed))),
    );
    w.family(
        "sluice_scrape_skipped_series_total",
        Counter,
        "Series of good reads that gave no sample, by reason.",
        all.iter().flat_map(|s| s.skipped.iter().map(|(r, v)| ([("source", s.source.as_str()), ("reason", r)], v))),
    );
}

fn otlp(w: &mut Writer<'_>, t: &Telemetry) {
    let otlp = &t.otlp;
    w.single(
        "sluice_otlp_received_points_total",
        Counter,
        "OTLP data points in decoded requests.",
        otlp.points.load(Relaxed),
    );
    w.single(
        "sluice_otlp_baseline_points_total",
        Counter,
        "OTLP cumulative points that only set their series' baseline (first seen, started before the receiver).",
        otlp.baselines.load(Relaxed),
    );
    w.family(
        "sluice_otlp_rejected_points_total",
        Counter,
        "OTLP data points refused, by reason (told to the client in partial_success).",
        otlp.rejected.iter().map(|(r, v)| ([("reason", r)], v)),
    );
    w.family(
        "sluice_otlp_refused_requests_total",
        Counter,
        "OTLP requests refused whole, by reason (400, 413, 415, 429, 503).",
        otlp.refused.iter().map(|(r, v)| ([("reason", r)], v)),
    );
}

fn aggregation(w: &mut Writer<'_>, t: &Telemetry) {
    w.family(
        "sluice_dropped_samples_total",
        Counter,
        "Samples refused, by reason.",
        t.dropped_samples.iter().map(|(r, v)| ([("reason", r)], v)),
    );
    w.single("sluice_events_total", Counter, "DogStatsD events received.", t.events.load(Relaxed));
    w.single(
        "sluice_service_checks_total",
        Counter,
        "DogStatsD service checks received.",
        t.service_checks.load(Relaxed),
    );
    w.single(
        "sluice_histograms_rebucketed_total",
        Counter,
        "Explicit-bucket histograms whose bounds changed within a window (moved, none lost).",
        t.rebucketed.load(Relaxed),
    );
    w.single("sluice_series", Gauge, "Live series in the window state.", t.series.load(Relaxed));
    w.single("sluice_flushes_total", Counter, "Windows flushed.", t.flushes.load(Relaxed));
    w.family(
        "sluice_last_flush_duration_seconds",
        Gauge,
        "How long the last flush took to turn the window state into a window.",
        std::iter::once(([], t.last_flush_micros.load(Relaxed) as f64 / 1e6)),
    );
}

fn backends(w: &mut Writer<'_>, t: &Telemetry) {
    let backends = t.backends();
    for (name, kind, help, value) in PER_BACKEND {
        w.family(name, kind, help, backends.iter().map(|b| ([("backend", b.name.as_str())], value(b))));
    }
    w.family(
        "sluice_backend_errors_total",
        Counter,
        "Failed requests, by class.",
        backends.iter().flat_map(|b| {
            [("retriable", b.errors_retriable.load(Relaxed)), ("rejected", b.errors_rejected.load(Relaxed))]
                .map(|(class, v)| ([("backend", b.name.as_str()), ("class", class)], v))
        }),
    );
    w.family(
        "sluice_backend_dropped_series_total",
        Counter,
        "Series given up, by reason.",
        backends.iter().flat_map(|b| b.dropped().map(|(r, v)| ([("backend", b.name.as_str()), ("reason", r)], v))),
    );
    w.family(
        "sluice_backend_oldest_buffered_seconds",
        Gauge,
        "Age of the oldest waiting window, from its end (0 when none waits).",
        backends.iter().map(|b| ([("backend", b.name.as_str())], b.oldest_age_seconds().unwrap_or(0.0))),
    );
}

fn alerts(w: &mut Writer<'_>, t: &Telemetry) {
    let view = t.alerts.view();
    w.family(
        "sluice_alerts",
        Gauge,
        "Alerts of each rule, by state (pending or firing).",
        view.rules.iter().flat_map(|r| {
            [("pending", r.pending), ("firing", r.firing)]
                .map(|(state, n)| ([("rule", r.name.as_str()), ("state", state)], n as u64))
        }),
    );
    w.family(
        "sluice_rule_skipped_series_total",
        Counter,
        "Matching series a rule could not evaluate, by reason (kind: no such number; limit: too many alerts).",
        view.rules.iter().flat_map(|r| {
            [("kind", r.skipped_kind), ("limit", r.skipped_limit)]
                .map(|(reason, n)| ([("rule", r.name.as_str()), ("reason", reason)], n))
        }),
    );
    w.single(
        "sluice_rule_windows_skipped_total",
        Counter,
        "Windows the rules did not evaluate because they were behind.",
        t.alerts.windows_skipped.load(Relaxed),
    );
    let managers = t.alerts.managers();
    for (name, kind, help, value) in PER_ALERTMANAGER {
        w.family(name, kind, help, managers.iter().map(|m| ([("alertmanager", m.url.as_str())], value(m))));
    }
}

/// The Alertmanager families that are one number per Alertmanager.
const PER_ALERTMANAGER: [Simple<ManagerStats>; 5] = [
    ("sluice_alertmanager_sent_alerts_total", Counter, "Alerts the Alertmanager acknowledged.", |m| {
        m.sent.load(Relaxed)
    }),
    (
        "sluice_alertmanager_failed_requests_total",
        Counter,
        "Requests that failed and were retried (5xx, timeout, no connection).",
        |m| m.failed.load(Relaxed),
    ),
    (
        "sluice_alertmanager_rejected_alerts_total",
        Counter,
        "Alerts the Alertmanager refused (4xx), not retried.",
        |m| m.rejected.load(Relaxed),
    ),
    ("sluice_alertmanager_dropped_alerts_total", Counter, "Alerts dropped from a full queue.", |m| {
        m.dropped.load(Relaxed)
    }),
    ("sluice_alertmanager_queued_alerts", Gauge, "Alerts waiting to be delivered.", |m| m.queued.load(Relaxed)),
];
