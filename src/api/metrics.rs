//! Renders [`Telemetry`] in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use crate::sources::statsd::kernel::udp_drops;
use backends::delivery::{BackendStats, BufferMode};

use crate::telemetry::{ListenerStats, Telemetry};

/// The whole `/metrics` body.
pub fn render(t: &Telemetry) -> String {
    let mut w = Writer(String::with_capacity(4096));
    sources(&mut w, t);
    aggregation(&mut w, t);
    backends(&mut w, t);
    w.0
}

/// Accumulates families in the text format.
struct Writer(String);

impl Writer {
    fn family<V: std::fmt::Display>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (String, V)>,
    ) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.0, "{name}{labels} {value}");
        }
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help, std::iter::once((String::new(), value)));
    }
}

/// A family with one sample per listener or per backend: name, type, help, value.
type Simple<T> = (&'static str, &'static str, &'static str, fn(&T) -> u64);

/// The listener families that are one number per listener.
const PER_LISTENER: [Simple<ListenerStats>; 3] = [
    ("sluice_received_lines_total", "counter", "Lines read from a listener, valid or not.", |l| l.lines.load(Relaxed)),
    ("sluice_received_bytes_total", "counter", "Bytes read from a listener.", |l| l.bytes.load(Relaxed)),
    (
        "sluice_received_truncated_total",
        "counter",
        "Datagrams over 64 KiB or stream lines without a newline within 64 KiB; the cut line is skipped.",
        |l| l.truncated.load(Relaxed),
    ),
];

/// The backend families that are one number per backend.
const PER_BACKEND: [Simple<BackendStats>; 11] = [
    ("sluice_backend_sent_series_total", "counter", "Series acknowledged by the backend.", |b| {
        b.sent_series.load(Relaxed)
    }),
    ("sluice_backend_retries_total", "counter", "Retried requests.", |b| b.retries.load(Relaxed)),
    ("sluice_backend_buffered_windows", "gauge", "Windows waiting in memory or on disk.", |b| {
        b.buffered_windows.load(Relaxed)
    }),
    (
        "sluice_backend_buffered_bytes",
        "gauge",
        "Estimated bytes of the windows waiting in memory, and bytes of those on disk.",
        |b| b.buffered_bytes.load(Relaxed),
    ),
    ("sluice_backend_spooled_windows", "gauge", "Windows waiting in the disk spool.", |b| {
        b.spooled_windows.load(Relaxed)
    }),
    ("sluice_backend_spooled_bytes", "gauge", "Bytes of the records of the windows waiting in the disk spool.", |b| {
        b.spooled_bytes.load(Relaxed)
    }),
    (
        "sluice_backend_replay_pending_windows",
        "gauge",
        "Windows found in the spool at start and not yet replayed.",
        |b| b.replay_pending.load(Relaxed),
    ),
    (
        "sluice_backend_replayed_windows_total",
        "counter",
        "Windows found in the spool at start and since delivered or given up.",
        |b| b.replayed_windows.load(Relaxed),
    ),
    ("sluice_backend_spool_corrupt_records_total", "counter", "Torn or corrupt spool records skipped.", |b| {
        b.spool_corrupt_records.load(Relaxed)
    }),
    (
        "sluice_backend_spool_errors_total",
        "counter",
        "Spool writes and syncs that failed; meanwhile new windows wait in memory.",
        |b| b.spool_errors.load(Relaxed),
    ),
    (
        "sluice_backend_buffer_fallback",
        "gauge",
        "1 while a disk buffer cannot open or write its spool and buffers new windows in memory.",
        |b| u64::from(b.buffer() == BufferMode::MemoryFallback),
    ),
];

fn sources(w: &mut Writer, t: &Telemetry) {
    // Listeners a reload removed stay, with their final counts: counters never vanish mid-scrape.
    let listeners = t.listeners();
    for (name, kind, help, value) in PER_LISTENER {
        w.family(name, kind, help, listeners.iter().map(|l| (labels(&[("listener", &l.name)]), value(l))));
    }
    w.family(
        "sluice_kernel_drops_total",
        "counter",
        "Datagrams the kernel dropped before sluice read them (UDP listeners).",
        listeners.iter().filter_map(|l| {
            let inode = l.udp_inode.load(Relaxed);
            (inode != 0).then(|| (labels(&[("listener", &l.name)]), udp_drops(inode).unwrap_or(0)))
        }),
    );
    w.family(
        "sluice_parse_errors_total",
        "counter",
        "Malformed lines skipped, by reason.",
        t.parse_errors.iter().map(|(r, v)| (labels(&[("reason", r)]), v)),
    );
}

fn aggregation(w: &mut Writer, t: &Telemetry) {
    w.family(
        "sluice_dropped_samples_total",
        "counter",
        "Samples refused, by reason.",
        t.dropped_samples.iter().map(|(r, v)| (labels(&[("reason", r)]), v)),
    );
    w.single("sluice_events_total", "counter", "DogStatsD events received.", t.events.load(Relaxed));
    w.single(
        "sluice_service_checks_total",
        "counter",
        "DogStatsD service checks received.",
        t.service_checks.load(Relaxed),
    );
    w.single("sluice_series", "gauge", "Live series in the window state.", t.series.load(Relaxed));
    w.single("sluice_flushes_total", "counter", "Windows flushed.", t.flushes.load(Relaxed));
}

fn backends(w: &mut Writer, t: &Telemetry) {
    let backends = t.backends();
    for (name, kind, help, value) in PER_BACKEND {
        w.family(name, kind, help, backends.iter().map(|b| (labels(&[("backend", &b.name)]), value(b))));
    }
    w.family(
        "sluice_backend_errors_total",
        "counter",
        "Failed requests, by class.",
        backends.iter().flat_map(|b| {
            [("retriable", b.errors_retriable.load(Relaxed)), ("rejected", b.errors_rejected.load(Relaxed))]
                .map(|(class, v)| (labels(&[("backend", &b.name), ("class", class)]), v))
        }),
    );
    w.family(
        "sluice_backend_dropped_series_total",
        "counter",
        "Series given up, by reason.",
        backends.iter().flat_map(|b| b.dropped().map(|(r, v)| (labels(&[("backend", &b.name), ("reason", r)]), v))),
    );
    w.family(
        "sluice_backend_oldest_buffered_seconds",
        "gauge",
        "Age of the oldest waiting window, from its end (0 when none waits).",
        backends.iter().map(|b| (labels(&[("backend", &b.name)]), b.oldest_age_seconds().unwrap_or(0.0))),
    );
}

/// `{k="v",…}` with the values escaped as the text format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::labels;

    /// Label values with quotes, backslashes and newlines are escaped per the text format.
    #[test]
    fn label_values_are_escaped_for_the_text_format() {
        assert_eq!(labels(&[("listener", "unix:/a\"b\\c\nd")]), "{listener=\"unix:/a\\\"b\\\\c\\nd\"}");
    }
}
