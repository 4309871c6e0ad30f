//! The Datadog backend through the sluice binary, against an in-process intake that enforces
//! the documented API contract. The library-level edge cases are in `backends/tests/library/`.

use crate::common;

use common::datadog::{API_KEY, Intake};
use common::{Agent, series as window_series};
use serde_json::{Value as Json, json};

/// The series objects named `metric`.
fn named<'a>(series: &'a [Json], metric: &str) -> Vec<&'a Json> {
    series.iter().filter(|s| s["metric"] == metric).collect()
}

fn value(series: &[Json], metric: &str) -> f64 {
    let found = named(series, metric);
    assert_eq!(found.len(), 1, "{metric}: {series:?}");
    found[0]["points"][0]["value"].as_f64().unwrap()
}

/// Known UDP traffic through the sluice binary arrives at the intake with exact values:
/// counter sums (sample rates applied) as counts, gauges and sets as gauges, the timer's
/// DogStatsD suffixes, distribution values as many as the weighted count, the event and the
/// service check.
#[test]
fn udp_traffic_arrives_at_the_intake_with_exact_values() {
    let intake = Intake::start();
    let agent = Agent::start(&format!(
        "percentiles = [50, 95]\n[sinks.dd]\ntype = \"datadog\"\nendpoint = \"{}\"\napi_key = \"{API_KEY}\"\n\
         compression = \"gzip\"\nhistogram_aggregates = [\"max\", \"min\", \"median\", \"avg\", \"sum\", \"count\"]\n",
        intake.url()
    ));
    agent.send_udp(&[
        "hits:1|c|#route:/a\nhits:1|c|#route:/a\nhits:1|c|#route:/a",
        "hits:2|c|@0.5|#route:/a",
        "temp:-3|g\ntemp:+5|g",
        "users:alice|s\nusers:bob|s\nusers:alice|s",
        "lat:10|ms\nlat:20|ms\nlat:30|ms\nlat:40|ms|#host:db-2",
        "size:1|d\nsize:2|d|@0.5\nsize:100|d",
        "_e{8,9}:Deployed|v2 is out|p:low|t:success|#team:web",
        "_sc|app.up|1|#team:web|m:slow",
    ]);
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp), 18.0);
    let (status, windows) = agent.stop();
    assert!(status.success());
    assert_eq!(intake.violations(), Vec::<String>::new());
    let host = windows[0]["hostname"].as_str().unwrap().to_owned();
    let series = intake.series();
    let hits = named(&series, "hits")[0];
    assert_eq!(hits["type"], 1);
    assert_eq!(hits["points"][0]["value"], json!(7.0));
    assert_eq!(hits["tags"], json!(["route:/a"]));
    assert_eq!(hits["resources"], json!([{"type": "host", "name": host}]));
    let interval = hits["interval"].as_i64().unwrap();
    assert!(interval >= 1);
    assert_eq!((value(&series, "temp"), named(&series, "temp")[0]["type"].clone()), (2.0, json!(3)));
    assert_eq!((value(&series, "users"), named(&series, "users")[0]["type"].clone()), (2.0, json!(3)));
    // The timer: exact max, min, avg, sum; count as a rate over the window; percentiles from
    // the aggregator's 1 % sketch.
    let lat_untagged: Vec<Json> = series.iter().filter(|s| s["resources"][0]["name"] == json!(host)).cloned().collect();
    assert_eq!(value(&lat_untagged, "lat.max"), 30.0);
    assert_eq!(value(&lat_untagged, "lat.min"), 10.0);
    assert_eq!(value(&lat_untagged, "lat.avg"), 20.0);
    assert_eq!(value(&lat_untagged, "lat.sum"), 60.0);
    let count = named(&lat_untagged, "lat.count")[0];
    assert_eq!(count["type"], 2);
    assert_eq!(count["interval"], json!(interval));
    assert_eq!(count["points"][0]["value"].as_f64().unwrap(), 3.0 / interval as f64);
    assert!((value(&lat_untagged, "lat.median") - 20.0).abs() <= 0.2);
    assert!((value(&lat_untagged, "lat.95percentile") - 30.0).abs() <= 0.3);
    // `#host:db-2` moves the series to that host and leaves the tags.
    let db2: Vec<&Json> =
        named(&series, "lat.max").into_iter().filter(|s| s["resources"][0]["name"] == "db-2").collect();
    assert_eq!(db2.len(), 1);
    assert_eq!(db2[0]["points"][0]["value"], json!(40.0));
    // Distribution: 1 + 2 + 1 weighted samples → 4 values, each within 1 % of a sample.
    let dists = intake.distributions();
    assert_eq!(dists.len(), 1);
    assert_eq!(dists[0]["metric"], "size");
    assert_eq!(dists[0]["host"], json!(host));
    let values: Vec<f64> = dists[0]["points"][0][1].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(values.len(), 4);
    assert_eq!(values[0], 1.0);
    assert!((values[1] - 2.0).abs() <= 0.02 && (values[2] - 2.0).abs() <= 0.02, "{values:?}");
    assert_eq!(values[3], 100.0);
    let events = intake.accepted("/api/v1/events");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (&events[0]["title"], &events[0]["text"], &events[0]["priority"]),
        (&json!("Deployed"), &json!("v2 is out"), &json!("low"))
    );
    assert_eq!(
        (&events[0]["alert_type"], &events[0]["tags"], &events[0]["host"]),
        (&json!("success"), &json!(["team:web"]), &json!(host))
    );
    let checks = intake.accepted("/api/v1/check_run");
    assert_eq!(
        checks,
        vec![
            json!([{"check": "app.up", "host_name": host, "status": 1, "timestamp": checks[0][0]["timestamp"], "message": "slow", "tags": ["team:web"]}])
        ]
    );
    // Every encoding of the window was the gzip the config asked for.
    assert!(intake.requests().iter().all(|r| r.encoding == "gzip"));
    // The file sink saw the same window: sluice's own record of what it sent.
    assert_eq!(window_series(&windows).filter(|(n, _, _)| n == "hits").count(), 1);
}
