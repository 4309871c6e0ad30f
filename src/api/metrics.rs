//! Renders [`Telemetry`] in the Prometheus text exposition format (version 0.0.4), through the
//! backends' one text writer (its escaper and number formatter).

use std::sync::atomic::Ordering::Relaxed;

use crate::sources::statsd::kernel::udp_drops;
use backends::delivery::{BackendStats, BufferMode};
use backends::prometheus::FamilyType::{self, Counter, Gauge};
use backends::prometheus::{Number, TextWriter};

use crate::telemetry::{ListenerStats, Telemetry};

/// The whole `/metrics` body.
pub fn render(t: &Telemetry) -> String {
    let mut w = Writer(TextWriter::with_capacity(4096));
    sources(&mut w, t);
    aggregation(&mut w, t);
    backends(&mut w, t);
    w.0.finish()
}

/// Accumulates families in the text format.
struct Writer(TextWriter);

impl Writer {
    /// A family with `# HELP` and `# TYPE`, and a sample per `(labels, value)`, the labels
    /// in the order given.
    fn family<'a, const N: usize, V: Into<Number>>(
        &mut self,
        name: &str,
        kind: FamilyType,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'a str, &'a str); N], V)>,
    ) {
        self.0.family(name, kind, Some(help));
        for (labels, value) in samples {
            self.0.sample(name, &labels, value);
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

fn sources(w: &mut Writer, t: &Telemetry) {
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
}

fn scrape(w: &mut Writer, t: &Telemetry) {
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

fn otlp(w: &mut Writer, t: &Telemetry) {
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

fn aggregation(w: &mut Writer, t: &Telemetry) {
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
}

fn backends(w: &mut Writer, t: &Telemetry) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use backends::pushgateway::{Context, Format, Pushgateway, PushgatewayConfig};
    use backends::{Backend as _, Series, SeriesKey, Value, Window};

    use super::{Counter, Writer};
    use backends::prometheus::TextWriter;

    /// A label value with a quote, a backslash and a newline.
    const AWKWARD: &str = "unix:/a\"b\\c\nd";
    /// [`AWKWARD`] escaped as the text format requires.
    const ESCAPED: &str = "listener=\"unix:/a\\\"b\\\\c\\nd\"";

    /// Label values with quotes, backslashes and newlines are escaped per the text format.
    #[test]
    fn label_values_are_escaped_for_the_text_format() {
        let mut w = Writer(TextWriter::default());
        w.family("sluice_received_lines_total", Counter, "Lines.", [([("listener", AWKWARD)], 3_u64)]);
        assert_eq!(
            w.0.finish(),
            format!(
                "# HELP sluice_received_lines_total Lines.\n# TYPE sluice_received_lines_total counter\n\
                 sluice_received_lines_total{{{ESCAPED}}} 3\n"
            )
        );
    }

    /// `/metrics` and a Pushgateway push render the same awkward label value the same way:
    /// both go through the one Prometheus text writer.
    #[test]
    fn metrics_and_the_pushgateway_share_one_escaper() {
        let mut w = Writer(TextWriter::default());
        w.family("sluice_received_lines_total", Counter, "Lines.", [([("listener", AWKWARD)], 3_u64)]);
        let ours = w.0.finish();

        let mut config = PushgatewayConfig::new("http://127.0.0.1:9");
        config.format = Format::Text;
        let context = Context {
            client: backends::delivery::http::client().unwrap(),
            // Never written: the state is saved only after a delivered window.
            data_dir: std::env::temp_dir().join(format!("sluice-metrics-escaper-{}", std::process::id())),
            hostname: "web-1".to_owned(),
            mappings: std::sync::Arc::default(),
        };
        let mut pushgateway = Pushgateway::new("pgw", &config, context).unwrap();
        let tag: Box<str> = format!("listener:{AWKWARD}").into();
        let key = Arc::new(SeriesKey { name: "temp".into(), tags: Box::new([tag]), hash: 0 });
        let window = Window {
            id: 1,
            start_ms: 0,
            end_ms: 10_000,
            hostname: "web-1".into(),
            tags: Arc::new([]),
            series: vec![Series { key, value: Value::Gauge { value: 3.0 } }],
            events: Vec::new(),
            service_checks: Vec::new(),
        };
        let pushed = String::from_utf8(pushgateway.encode(&window).unwrap().remove(0).payload.body).unwrap();

        assert!(ours.ends_with(&format!("{{{ESCAPED}}} 3\n")), "{ours}");
        assert_eq!(pushed, format!("# TYPE temp gauge\ntemp{{{ESCAPED}}} 3\n"));
    }
}
