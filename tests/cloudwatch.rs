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
