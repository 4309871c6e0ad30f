//! The CloudWatch backend end to end: StatsD lines into the `sluice` binary, `PutMetricData`
//! (Query protocol, gzip, SigV4) into a real moto server, read back with
//! `GetMetricStatistics` and `ListMetrics`.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use backends::Sketch;
use common::Agent;
use common::moto::{Moto, Statistics};
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};

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

/// Counters, gauges, sets and timers sent to the agent read back from moto with exact
/// statistics: the counter's window sum (sample rate applied), the gauge's last value, the
/// set's distinct count, the timer's exact count, sum, minimum and maximum, and a timer with
/// 1000 distinct values as exact `StatisticValues`; tags become dimensions.
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
    assert_eq!(stats("app.latency", &[]), Statistics { sample_count: 4.0, sum: 90.0, minimum: 10.0, maximum: 40.0 });
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

/// Every credential variable the agent could inherit from the test's environment, emptied
/// (empty counts as unset), so only what a test sets is seen.
const NO_AMBIENT_CREDENTIALS: [(&str, &str); 12] = [
    ("AWS_ACCESS_KEY_ID", ""),
    ("AWS_SECRET_ACCESS_KEY", ""),
    ("AWS_SESSION_TOKEN", ""),
    ("AWS_PROFILE", ""),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
    ("AWS_CONFIG_FILE", "/nonexistent/config"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", ""),
    ("AWS_ROLE_ARN", ""),
    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ""),
    ("AWS_CONTAINER_CREDENTIALS_FULL_URI", ""),
    ("AWS_ENDPOINT_URL", ""),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// Starts the agent as [`Agent::start_with_env`] does, with its standard error (the log)
/// written to `log`.
fn start_logged(extra: &str, env: &[(&str, &str)], log: &std::path::Path) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let (udp, api) = (common::free_udp(), common::free_tcp());
    let config = format!(
        "[agent]\nflush_interval = \"1h\"\nshutdown_timeout = \"2s\"\ndata_dir = \"{d}\"\n[api]\nlisten = \"{api}\"\n\
         [sinks.file]\ntype = \"file\"\npath = \"{d}/windows.jsonl\"\n[sources.statsd]\nudp = [\"{udp}\"]\n{extra}",
        d = dir.path().display()
    );
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, config).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .envs(NO_AMBIENT_CREDENTIALS)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let agent = Agent { child, dir, udp, api };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while common::http_get(api, "/ready").is_none_or(|(status, _)| status != 200) {
        assert!(std::time::Instant::now() < deadline, "not ready: {}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    agent
}

/// EKS IRSA end to end: the agent exchanges its web identity token at moto's STS
/// (`AWS_ENDPOINT_URL_STS`) for a role's keys, and the `PutMetricData` signed with them lands
/// in moto with the exact counter total; the log names the provider and shows neither the
/// token nor moto's session token.
#[test]
fn web_identity_keys_from_moto_sts_put_metrics_into_moto() {
    let moto = Moto::start();
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.irsa-token-never-logged.sig\n").unwrap();
    let log = secrets.path().join("agent.log");
    let role = "arn:aws:iam::123456789012:role/sluice-irsa";
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        ("AWS_ROLE_ARN", role),
        ("AWS_ENDPOINT_URL_STS", &moto.url()),
    ];
    let agent = start_logged(&sink(&moto, "SluiceWebIdentity", ""), &env, &log);
    agent.send_udp(&["pods.started:4|c|#ns:prod", "pods.started:3|c|#ns:prod"]);
    agent.wait_lines(2.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "{status}");
    assert_eq!(
        moto.statistics("SluiceWebIdentity", "pods.started", &[("ns", "prod")]),
        Some(Statistics { sample_count: 1.0, sum: 7.0, minimum: 7.0, maximum: 7.0 })
    );
    let log = read_log(&log);
    let named = format!("credentials=web identity token {} for role {role}", token.display());
    assert!(log.contains(&named), "{log}");
    assert!(log.contains("access_key_id=ASIA") && log.contains("Fetched AWS credentials."), "{log}");
    // moto's session tokens all start so.
    assert!(!log.contains("irsa-token-never-logged") && !log.contains("FQoGZXIvYXdz"), "{log}");
}

/// The agent's log without its colour escapes (`ESC [ … m`).
fn read_log(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut plain = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('\x1b') {
        plain.push_str(&rest[..at]);
        rest = rest[at..].find('m').map_or("", |end| &rest[at + end + 1..]);
    }
    plain.push_str(rest);
    plain
}

/// A container credentials endpoint for one test: answers every GET that carries
/// `Authorization: {token}` with `keys`, anything else with 403; counts the answers given.
fn container_endpoint(
    token: &'static str,
    keys: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v2/credentials/task", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut authorized = false;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                let header = line.trim_end().to_ascii_lowercase();
                authorized |= header == format!("authorization: {token}");
                line.clear();
            }
            let (status, body) = if authorized { ("200 OK", keys) } else { ("403 Forbidden", "bad token") };
            count.fetch_add(usize::from(authorized), std::sync::atomic::Ordering::Relaxed);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, served)
}

/// ECS/EKS Pod Identity end to end: keys from a container credentials endpoint (full URI,
/// authorization token from the variable) sign what lands in moto; the startup log names
/// the endpoint and contains none of the secret key, the session token or the
/// authorization token.
#[test]
fn container_credentials_put_metrics_into_moto_and_no_secret_is_logged() {
    const KEYS: &str = r#"{"AccessKeyId":"ASIACONTAINERE2E","SecretAccessKey":"container-secret-key-never-logged","Token":"container-session-token-never-logged","Expiration":"2099-01-01T00:00:00Z"}"#;
    let moto = Moto::start();
    let (url, served) = container_endpoint("authorization-token-never-logged", KEYS);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("agent.log");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "authorization-token-never-logged"),
    ];
    let agent = start_logged(&sink(&moto, "SluiceContainer", ""), &env, &log);
    agent.send_udp(&["tasks.run:5|c", "tasks.run:6|c"]);
    agent.wait_lines(2.0);
    let (status, _) = agent.stop();
    assert!(status.success(), "{status}");
    assert_eq!(
        moto.statistics("SluiceContainer", "tasks.run", &[]),
        Some(Statistics { sample_count: 1.0, sum: 11.0, minimum: 11.0, maximum: 11.0 })
    );
    // Keys valid until 2099: fetched once.
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 1);
    let log = read_log(&log);
    assert!(log.contains(&format!("credentials=container credentials from {url}")), "{log}");
    assert!(log.contains("access_key_id=ASIACONTAINERE2E"), "{log}");
    assert!(!log.contains("never-logged"), "{log}");
}

/// The tolerance on a read-back `Sum`, relative to `Σ w·|v|`: moto adds each value `count`
/// times in float, so the last digits of a sum of thousands of terms carry rounding (about
/// `n · 1.1e-16` at worst); 10⁻¹² keeps every digit an operator reads.
const SUM_TOLERANCE: f64 = 1e-12;

/// One series of the load: its name, StatsD type and samples as (thousandths, rate).
struct Load {
    name: String,
    kind: &'static str,
    samples: Vec<(i64, &'static str)>,
}

impl Load {
    fn weight(rate: &str) -> i64 {
        match rate {
            "" => 1,
            "@0.5" => 2,
            "@0.1" => 10,
            other => panic!("{other}"),
        }
    }

    /// Exact `SampleCount`, `Sum`, `Minimum`, `Maximum`, from integers, and `Σ w·|v|`.
    fn truth(&self) -> (Statistics, f64) {
        let count: i64 = self.samples.iter().map(|(_, r)| Self::weight(r)).sum();
        let sum: i128 = self.samples.iter().map(|(k, r)| i128::from(*k) * i128::from(Self::weight(r))).sum();
        let magnitude: i128 = self.samples.iter().map(|(k, r)| i128::from(k.abs()) * i128::from(Self::weight(r))).sum();
        let min = self.samples.iter().map(|s| s.0).min().unwrap();
        let max = self.samples.iter().map(|s| s.0).max().unwrap();
        let statistics = Statistics {
            sample_count: count as f64,
            sum: sum as f64 / 1000.0,
            minimum: min as f64 / 1000.0,
            maximum: max as f64 / 1000.0,
        };
        (statistics, magnitude as f64 / 1000.0)
    }

    /// The StatsD lines: up to 40 values of one rate per line.
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for rate in ["", "@0.5", "@0.1"] {
            let values: Vec<String> =
                self.samples.iter().filter(|s| s.1 == rate).map(|s| (s.0 as f64 / 1000.0).to_string()).collect();
            for chunk in values.chunks(40) {
                let rate = if rate.is_empty() { String::new() } else { format!("|{rate}") };
                lines.push(format!("{}:{}|{}{rate}", self.name, chunk.join(":"), self.kind));
            }
        }
        lines
    }
}

/// 240 series as real timers look: log-normal latencies around a random median (1 to 300
/// samples), unsampled, `@0.5`, `@0.1` or a mix; every tenth spread over more than 150 bins;
/// some histograms and distributions with negative values and zeros.
fn load() -> Vec<Load> {
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut uniform = move || -> f64 { (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 };
    (0..240)
        .map(|i| {
            let kind = match i % 12 {
                5 => "h",
                11 => "d",
                _ => "ms",
            };
            let n = if i % 10 == 9 { 151 + (uniform() * 100.0) as usize } else { 1 + (uniform() * 300.0) as usize };
            let median = 1000.0 * (uniform() * 8.0).exp();
            let samples = (0..n)
                .map(|j| {
                    let rate = match i % 4 {
                        0 => "",
                        1 => "@0.5",
                        2 => "@0.1",
                        _ => ["", "@0.5", "@0.1"][j % 3],
                    };
                    let thousandths = if i % 10 == 9 {
                        // 1.1^j: a bin of its own per sample.
                        (1000.0 * 1.1_f64.powi((j % 200) as i32)).round() as i64
                    } else {
                        let v = (median * (uniform() * 3.0 - 1.5).exp()).round() as i64;
                        if kind != "ms" && uniform() < 0.3 {
                            -v
                        } else if kind != "ms" && uniform() < 0.1 {
                            0
                        } else {
                            v
                        }
                    };
                    (thousandths, rate)
                })
                .collect();
            Load { name: format!("load.{kind}{i:03}"), kind, samples }
        })
        .collect()
}

/// Hundreds of random timers, histograms and distributions, unsampled and sampled, some with
/// more than 150 bins (so `StatisticValues`), read back from moto with the exact count,
/// minimum and maximum and the sum to the last digits an operator sees (see
/// [`SUM_TOLERANCE`]), checked against integer arithmetic over what was sent.
#[test]
fn random_sampled_timers_read_back_from_moto_with_exact_statistics() {
    let moto = Moto::start();
    // Windows of 2 s, delivered while the agent runs: moto takes seconds to read a request of
    // many thousand values, longer than the harness's shutdown deadline. The load so spans
    // several windows, and moto's daily statistics add their datums up.
    let agent = Agent::start_with_env("2s", &sink(&moto, "SluiceLoad", ""), Stdio::null(), &FAKE_KEYS);
    let load = load();
    // Both encodings: sketches of more than 150 bins go as StatisticValues.
    let bins = |l: &Load| {
        let mut sketch = Sketch::new();
        l.samples.iter().for_each(|&(k, r)| sketch.add(k as f64 / 1000.0, Load::weight(r) as f64));
        sketch.bin_count()
    };
    let over = load.iter().filter(|l| bins(l) > 150).count();
    assert!(over >= 24 && load.len() - over >= 150, "{over} of {} over 150 bins", load.len());
    let lines: Vec<String> = load.iter().flat_map(Load::lines).collect();
    // Datagrams of at most about 1400 bytes, in batches the agent is seen to have read, so no
    // receive buffer overflows.
    let mut datagrams: Vec<String> = vec![String::new()];
    for line in &lines {
        let last = datagrams.last_mut().unwrap();
        if !last.is_empty() && last.len() + line.len() > 1400 {
            datagrams.push(String::new());
        }
        let last = datagrams.last_mut().unwrap();
        if !last.is_empty() {
            last.push('\n');
        }
        last.push_str(line);
    }
    let mut sent = 0.0;
    for batch in datagrams.chunks(64) {
        agent.send_udp(&batch.iter().map(String::as_str).collect::<Vec<_>>());
        sent += batch.iter().map(|d| d.lines().count() as f64).sum::<f64>();
        agent.wait_lines(sent);
    }
    assert_eq!(sent, lines.len() as f64);
    // A sentinel in a window after the load's last: windows are delivered in order, so once
    // moto has it, it has every window of the load.
    agent.wait_flush();
    agent.send_udp(&["load.end:1|c"]);
    agent.wait_lines(sent + 1.0);
    let deadline = Instant::now() + Duration::from_mins(2);
    while moto.statistics("SluiceLoad", "load.end", &[]).is_none() {
        assert!(Instant::now() < deadline, "the load never reached moto: {}", moto.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    let (status, _) = agent.stop();
    assert!(status.success(), "{status}");

    let mut worst: f64 = 0.0;
    for series in &load {
        let got = moto.statistics("SluiceLoad", &series.name, &[]).unwrap_or_else(|| panic!("{}", series.name));
        let (want, magnitude) = series.truth();
        let context = format!("{}: got {got:?}, want {want:?}", series.name);
        assert_eq!(
            (got.sample_count, got.minimum, got.maximum),
            (want.sample_count, want.minimum, want.maximum),
            "{context}"
        );
        let error = (got.sum - want.sum).abs();
        assert!(error <= SUM_TOLERANCE * magnitude, "{context}: off by {error:e}");
        worst = worst.max(error / magnitude);
    }
    eprintln!("largest Sum error, relative to the sum of magnitudes: {worst:e}");
}
