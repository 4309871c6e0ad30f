//! The OTLP receiver through the binary: its listener's counters, a reload that replaces it at
//! its own address, and its requests under way at shutdown.

use std::time::{Duration, Instant};

use crate::common;
use common::otel::post;
use common::{Setup, counter_total, free_tcp};

const JSON: [(&str, &str); 1] = [("Content-Type", "application/json")];

/// A delta counter point of `value` for `hits`, tagged `service.name:api`.
fn hits(value: u32) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"hits","sum":{{"aggregationTemporality":1,"isMonotonic":true,
        "dataPoints":[{{"timeUnixNano":"1","asInt":"{value}"}}]}}}}]}}]}}]}}"#
    )
}

/// The receiver's listener counts the bodies' bytes and the samples they became, like any
/// listener, and the OTLP families count the points.
#[test]
fn the_receiver_counts_bytes_samples_and_points_under_its_listener() {
    let otlp = free_tcp();
    let agent = Setup::default().start(&format!("[sources.otlp]\nlisten = \"{otlp}\"\n"));
    let (one, two) = (hits(3), hits(4));
    assert_eq!(post(otlp, &JSON, one.as_bytes()).0, 200);
    assert_eq!(post(otlp, &JSON, two.as_bytes()).0, 200);
    let listener = format!("{{listener=\"otlp:{otlp}\"}}");
    assert_eq!(agent.wait_metric(&format!("sluice_received_lines_total{listener}"), 2.0), 2.0);
    assert_eq!(agent.metric(&format!("sluice_received_bytes_total{listener}")), Some((one.len() + two.len()) as f64));
    assert_eq!(agent.metric("sluice_otlp_received_points_total"), Some(2.0));
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(counter_total(&windows, "hits", &["service.name:api"]), 7.0);
}

/// A reload that changes `[sources.otlp]` replaces the receiver at the same address: the new
/// limit applies, and points before and after the reload all reach the windows.
#[test]
fn a_reload_that_changes_the_receiver_replaces_it_at_its_address() {
    let otlp = free_tcp();
    let table = |max: &str| format!("[sources.otlp]\nlisten = \"{otlp}\"\nmax_body_bytes = \"{max}\"\n");
    let agent = Setup::default().start(&table("64KiB"));
    let protobuf = [("Content-Type", "application/x-protobuf")];
    let big = vec![0x0a; 100 << 10];
    assert_eq!(post(otlp, &protobuf, &big).0, 413);
    assert_eq!(post(otlp, &JSON, hits(5).as_bytes()).0, 200);

    agent.reload_with(|c| c.replace(&table("64KiB"), &table("1MiB")));
    // Refused as too large until the new receiver answers, then decoded (and malformed).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = post(otlp, &protobuf, &big).0;
        if status == 400 {
            break;
        }
        assert!(Instant::now() < deadline, "the reloaded receiver did not take 100 KiB bodies: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(post(otlp, &JSON, hits(6).as_bytes()).0, 200);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(counter_total(&windows, "hits", &["service.name:api"]), 11.0);
}
