//! The CloudWatch backend end to end: StatsD lines into the `sluice` binary, `PutMetricData`
//! (Query protocol, gzip, SigV4) into a real moto server, read back with
//! `GetMetricStatistics` and `ListMetrics`.

mod common;

use std::process::Stdio;

use backends::Sketch;
use common::Agent;
use common::moto::{Moto, Statistics};

/// Keys for the agent; moto takes any.
const FAKE_KEYS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "AKIDSLUICETEST"),
    ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
    // Never reach for an instance role from a test.
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

fn sink(moto: &Moto, namespace: &str, extra: &str) -> String {
    format!(
        "[sinks.cw]\ntype = \"cloudwatch\"\nregion = \"us-east-1\"\nnamespace = \"{namespace}\"\nendpoint = \"{}\"\n\
         host_dimension = false\n{extra}\n[sinks.cw.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n",
        moto.url()
    )
}

/// The value the sketch reports for `v` (the representative of its bin).
fn bin_value(v: f64) -> f64 {
    let mut sketch = Sketch::new();
    sketch.add(v, 1.0);
    sketch.bins().next().unwrap().0
}

/// Counters, gauges, sets and timers sent to the agent read back from moto with exact
/// statistics: the counter's window sum (sample rate applied), the gauge's last value, the
/// set's distinct count, the timer's exact count, minimum and maximum with a sum over the
/// sketch's values, and a timer with 1000 distinct values as exact `StatisticValues`; tags
/// become dimensions.
#[test]
fn every_type_reads_back_from_moto_with_exact_statistics() {
    let moto = Moto::start();
    let agent = Agent::start_with_env("1h", &sink(&moto, "SluiceE2E", ""), Stdio::null(), &FAKE_KEYS);
    agent.send_udp(&[
        "app.hits:10|c|#route:/home\napp.hits:10|c|#route:/home\napp.hits:10|c|#route:/home",
        "app.hits:5|c|@0.5|#route:/home",
        // 3, then a delta of -1.5.
        "app.temp:3|g\napp.temp:-1.5|g",
        "app.users:7|s\napp.users:9|s\napp.users:7|s",
        "app.latency:10|ms\napp.latency:20|ms\napp.latency:20|ms\napp.latency:40|ms",
    ]);
    // 1000 distinct values: more than 150 sketch bins, so StatisticValues.
    let many: Vec<String> = (0..10)
        .map(|chunk| {
            let values: Vec<String> = (1..=100).map(|i| (chunk * 100 + i).to_string()).collect();
            format!("app.many:{}|ms", values.join(":"))
        })
        .collect();
    agent.send_udp(&many.iter().map(String::as_str).collect::<Vec<_>>());
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp), 23.0);
    let (status, windows) = agent.stop();
    assert!(status.success(), "{status}");
    assert_eq!(common::counter_total(&windows, "app.hits", &["route:/home"]), 40.0);

    let ns = "SluiceE2E";
    let stats = |metric: &str, dims: &[(&str, &str)]| {
        moto.statistics(ns, metric, dims).unwrap_or_else(|| panic!("{metric}: {}", moto.log()))
    };
    assert_eq!(
        stats("app.hits", &[("route", "/home")]),
        Statistics { sample_count: 1.0, sum: 40.0, minimum: 40.0, maximum: 40.0 }
    );
    assert_eq!(stats("app.temp", &[]), Statistics { sample_count: 1.0, sum: 1.5, minimum: 1.5, maximum: 1.5 });
    assert_eq!(stats("app.users", &[]), Statistics { sample_count: 1.0, sum: 2.0, minimum: 2.0, maximum: 2.0 });
    let twenty = bin_value(20.0);
    assert_eq!(
        stats("app.latency", &[]),
        Statistics { sample_count: 4.0, sum: 10.0 + twenty + twenty + 40.0, minimum: 10.0, maximum: 40.0 }
    );
    assert_eq!(
        stats("app.many", &[]),
        Statistics { sample_count: 1000.0, sum: 500_500.0, minimum: 1.0, maximum: 1000.0 }
    );
    assert_eq!(
        moto.metrics(ns),
        vec![
            ("app.hits".to_owned(), vec!["route=/home".to_owned()]),
            ("app.latency".to_owned(), vec![]),
            ("app.many".to_owned(), vec![]),
            ("app.temp".to_owned(), vec![]),
            ("app.users".to_owned(), vec![]),
        ]
    );
}

/// Keys from a profile of the shared credentials file sign the requests; with
/// `gzip = false` and 1-second resolution the same counter total arrives.
#[test]
fn profile_credentials_and_plain_bodies_reach_moto() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, "[ci]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n").unwrap();
    let env = [
        ("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap()),
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let extra = "profile = \"ci\"\ngzip = false\nstorage_resolution = 1";
    let agent = Agent::start_with_env("1h", &sink(&moto, "SluiceProfile", extra), Stdio::null(), &env);
    agent.send_udp(&["jobs.done:2|c|#queue:mail,canary", "jobs.done:3|c|#queue:mail,canary"]);
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp), 2.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "{status}");
    assert_eq!(
        moto.statistics("SluiceProfile", "jobs.done", &[("canary", "true"), ("queue", "mail")]),
        Some(Statistics { sample_count: 1.0, sum: 5.0, minimum: 5.0, maximum: 5.0 })
    );
}
