use super::report::Report;
use super::summary::{age, bytes, summary};

/// Unix milliseconds the tests call now.
const NOW_MS: u64 = 1_763_823_610_000;

/// `/status` of an agent with a healthy file sink, an InfluxDB sink in an outage with its disk
/// spool filling, and a Datadog sink whose disk buffer fell back to memory.
const TROUBLED: &str = r#"{
  "version": "0.1.0", "uptime_seconds": 7385, "ready": true, "series": 1200, "flushes": 742,
  "listeners": [
    {"listener": "udp:127.0.0.1:8125", "running": true, "lines": 35110, "bytes": 1258291, "truncated": 0, "kernel_drops": 4},
    {"listener": "unix:/run/sluice/statsd.sock", "running": false, "lines": 12, "bytes": 300, "truncated": 1, "kernel_drops": null}
  ],
  "parse_errors": {"bad_value": 3},
  "dropped_samples": {},
  "backends": [
    {"name": "file", "state": "healthy", "last_success_ms": 1763823606000, "last_error": null,
     "queue_depth": 0, "buffered_bytes": 0, "buffer": "memory", "buffer_error": null,
     "spooled_windows": 0, "spooled_bytes": 0, "oldest_age_seconds": null,
     "replay": {"pending": 0, "done": 0}, "spool_corrupt_records": 0, "spool_errors": 0,
     "sent_series": 881200, "dropped_series": 0, "dropped": {}},
    {"name": "influx", "state": "failing", "last_success_ms": null,
     "last_error": "cannot connect to 127.0.0.1:8086: connection refused",
     "queue_depth": 12, "buffered_bytes": 1363148, "buffer": "disk", "buffer_error": null,
     "spooled_windows": 12, "spooled_bytes": 1363148, "oldest_age_seconds": 123.4,
     "replay": {"pending": 3, "done": 10}, "spool_corrupt_records": 0, "spool_errors": 0,
     "sent_series": 0, "dropped_series": 30, "dropped": {"retry_exhausted": 30}},
    {"name": "dd", "state": "healthy", "last_success_ms": 1763823609000,
     "last_error": "timed out", "queue_depth": 1, "buffered_bytes": 2048,
     "buffer": "memory_fallback", "buffer_error": "cannot write the spool: No space left on device (os error 28)",
     "spooled_windows": 0, "spooled_bytes": 0, "oldest_age_seconds": 2.0,
     "replay": {"pending": 0, "done": 0}, "spool_corrupt_records": 0, "spool_errors": 2,
     "sent_series": 5000, "dropped_series": 0, "dropped": {}}
  ]
}"#;

fn report(json: &str) -> Report {
    serde_json::from_str(json).unwrap()
}

/// The summary shows every listener and backend, each thing that needs reading on its own
/// line under the backend, and a verdict naming the backends in trouble and why.
#[test]
fn the_summary_shows_every_listener_and_backend_and_what_needs_attention() {
    let text = summary(&report(TROUBLED), "127.0.0.1:9102".parse().unwrap(), NOW_MS);
    assert_eq!(
        text,
        "sluice 0.1.0 at 127.0.0.1:9102: up 2h03m, ready\n\
         window: 1200 live series, 742 flushes\n\
         parse errors: bad_value=3\n\
         \n\
         listeners\n\
         \x20 udp:127.0.0.1:8125            lines=35110 bytes=1.2 MiB truncated=0 kernel_drops=4\n\
         \x20 unix:/run/sluice/statsd.sock  lines=12 bytes=300 B truncated=1 (stopped)\n\
         \n\
         backends\n\
         \x20 file    healthy  buffer=memory queue=0 sent=881200 series, last success 4s ago\n\
         \x20 influx  failing  buffer=disk queue=12 (oldest 2m03s) sent=0 series, last success never\n\
         \x20         spool: 12 windows, 1.3 MiB\n\
         \x20         replay: 3 pending, 10 done\n\
         \x20         dropped series: retry_exhausted=30\n\
         \x20         last error: cannot connect to 127.0.0.1:8086: connection refused\n\
         \x20 dd      healthy  buffer=memory_fallback queue=1 (oldest 2s) sent=5000 series, last success 1s ago\n\
         \x20         memory fallback: the disk buffer cannot be used (cannot write the spool: No space left on device (os error 28)); new windows wait in memory\n\
         \x20         spool: 0 windows, 0 B\n\
         \x20         spool trouble: 0 corrupt records skipped, 2 failed writes\n\
         \x20         last error (recovered since): timed out\n\
         \n\
         2 of 3 backends need attention: influx (failing), dd (memory_fallback)\n"
    );
}

/// Healthy and starting backends pass; failing, stopped and `memory_fallback` (even while
/// sending) do not — that is the exit status of `sluice status`.
#[test]
fn only_healthy_or_starting_backends_on_their_configured_buffer_pass() {
    let with = |state: &str, buffer: &str| {
        report(&format!(r#"{{"backends": [{{"name": "x", "state": "{state}", "buffer": "{buffer}"}}]}}"#))
    };
    assert!(with("healthy", "memory").problems().is_empty());
    assert!(with("starting", "disk").problems().is_empty());
    assert_eq!(with("failing", "memory").problems(), [("x", "failing")]);
    assert_eq!(with("stopped", "memory").problems(), [("x", "stopped")]);
    assert_eq!(with("healthy", "memory_fallback").problems(), [("x", "memory_fallback")]);
}

/// A status without the fields newer agents add (version, uptime, per-listener drops) still
/// gives a summary, and a healthy agent ends with a plain verdict.
#[test]
fn a_status_from_an_older_agent_still_gives_a_summary() {
    let old = r#"{"ready": true, "series": 2, "flushes": 1,
        "listeners": [{"listener": "udp:127.0.0.1:8125", "running": true, "lines": 2, "bytes": 11}],
        "backends": [{"name": "file", "state": "starting", "buffer": "memory"}]}"#;
    let text = summary(&report(old), "127.0.0.1:9102".parse().unwrap(), NOW_MS);
    assert!(text.starts_with("sluice (version unknown) at 127.0.0.1:9102: ready\n"), "{text}");
    assert!(text.contains("  udp:127.0.0.1:8125  lines=2 bytes=11 B truncated=0\n"), "{text}");
    assert!(text.ends_with("\n1 backend healthy or starting\n"), "{text}");
}

/// Sizes and ages read at a glance: binary units with one decimal, two time units at most.
#[test]
fn sizes_and_ages_are_short() {
    assert_eq!(bytes(0), "0 B");
    assert_eq!(bytes(1023), "1023 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    assert_eq!(age(0.4), "0s");
    assert_eq!(age(59.6), "1m00s");
    assert_eq!(age(123.0), "2m03s");
    assert_eq!(age(7385.0), "2h03m");
    assert_eq!(age(190_000.0), "2d04h");
}

/// Firing alerts and failing probes get sections of their own; pending alerts and passing
/// probes are left out.
#[test]
fn the_summary_lists_firing_alerts_and_failing_probes() {
    let json = r#"{
      "version": "0.1.0", "ready": true, "backends": [],
      "probes": [
        {"name": "db", "critical": true, "ok": false, "error": "connection refused"},
        {"name": "web", "critical": false, "ok": true, "error": null}
      ],
      "alerts": [
        {"name": "api_errors", "state": "firing", "labels": {"alertname": "api_errors", "service": "api", "severity": "error"},
         "value": 0.12, "fired_at": "2026-12-03T10:00:00.000Z"},
        {"name": "slow", "state": "pending", "labels": {"alertname": "slow"}, "value": 3.0}
      ]
    }"#;
    let text = summary(&report(json), "127.0.0.1:9102".parse().unwrap(), NOW_MS);
    assert!(
        text.contains(
            "\nalerts firing\n  api_errors {service=api,severity=error} value=0.12 since 2026-12-03T10:00:00.000Z\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nprobes failing\n  db (critical): connection refused\n"), "{text}");
    assert!(!text.contains("slow") && !text.contains("web"), "{text}");
}
