//! The HTTP API: health, readiness, status and the agent's own telemetry.

use crate::common;

use common::Agent;

/// `/health` and `/ready` answer 200 once the agent runs; `/status` reports the version,
/// uptime, each listener and backend; `/metrics` carries every `sluice_*` family the design names.
#[test]
fn api_reports_health_readiness_status_and_telemetry() {
    let agent = Agent::start("");
    agent.send_udp(&["a:1|c\nb:2|g"]);
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp), 2.0);
    assert_eq!(agent.get("/health").0, 200);
    assert_eq!(agent.get("/ready").0, 200);
    let (status, body) = agent.get("/status");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["ready"], true);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_seconds"].as_u64().is_some_and(|s| s < 60), "{json}");
    assert_eq!(json["listeners"][0]["lines"], 2);
    assert_eq!(json["listeners"][0]["truncated"], 0);
    assert_eq!(json["listeners"][0]["kernel_drops"], 0);
    assert_eq!(json["backends"][0]["name"], "file");
    assert_eq!(json["backends"][0]["state"], "starting");
    let (_, metrics) = agent.get("/metrics");
    for family in [
        "sluice_received_lines_total",
        "sluice_received_bytes_total",
        "sluice_parse_errors_total",
        "sluice_kernel_drops_total",
        "sluice_series",
        "sluice_dropped_samples_total",
        "sluice_flushes_total",
        "sluice_last_flush_duration_seconds",
        "sluice_histograms_rebucketed_total",
        "sluice_backend_sent_series_total",
        "sluice_backend_errors_total",
        "sluice_backend_retries_total",
        "sluice_backend_dropped_series_total",
        "sluice_backend_buffered_windows",
    ] {
        assert!(metrics.contains(&format!("# TYPE {family} ")), "{family} missing from /metrics");
    }
    assert_eq!(agent.metric(&format!("sluice_received_bytes_total{{listener=\"udp:{}\"}}", agent.udp)), Some(11.0));
    let (exit, windows) = agent.stop();
    assert!(exit.success());
    assert_eq!(windows.len(), 1);
}
