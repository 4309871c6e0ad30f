use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use super::{Outcome, file, http, tcp};
use crate::aggregator::input::SampleValue;
use crate::config::{FileProbe, HttpProbe, ProbeTiming, TcpProbe};
use backends::units::{ByteSize, Duration as Interval};

fn timing() -> ProbeTiming {
    ProbeTiming { interval: Interval::from_secs(10), timeout: None, critical: false }
}

fn gauge(outcome: &Outcome, name: &str) -> Option<f64> {
    outcome.gauges.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A run becomes `probe.success`, `probe.duration_seconds` and its gauges, each tagged with the
/// probe's name and type.
#[test]
fn an_outcome_becomes_tagged_gauges() {
    let outcome = Outcome::fail("down", vec![("probe.http.status_code", 503.0)]);
    let samples = outcome.samples("api", "http", Duration::from_millis(250));
    let found: Vec<_> = samples.iter().map(|s| (s.name().to_owned(), s.value().clone())).collect();
    assert_eq!(
        found,
        [
            ("probe.success".to_owned(), SampleValue::Gauge(0.0)),
            ("probe.duration_seconds".to_owned(), SampleValue::Gauge(0.25)),
            ("probe.http.status_code".to_owned(), SampleValue::Gauge(503.0)),
        ]
    );
    assert!(samples.iter().all(|s| s.tags().eq(["probe:api", "probe_type:http"])));
}

/// A TCP probe passes when the answer to what it sent holds the expected text, and fails on a
/// refused connection or an answer without it.
#[tokio::test]
async fn a_tcp_probe_checks_the_connection_and_the_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let mut buf = [0; 16];
            let n = stream.read(&mut buf).unwrap();
            let answer: &[u8] = if &buf[..n] == b"PING\r\n" { b"+PONG\r\n" } else { b"-ERR\r\n" };
            stream.write_all(answer).unwrap();
        }
    });
    let probe = |send: &str| TcpProbe {
        address: address.clone(),
        send: Some(send.to_owned()),
        expect: Some("+PONG".to_owned()),
        timing: timing(),
    };
    assert_eq!(tcp::check(&probe("PING\r\n")).await, Outcome::pass(Vec::new()));
    let wrong = tcp::check(&probe("HELLO\r\n")).await;
    assert!(wrong.error.unwrap().ends_with("does not contain \"+PONG\""));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let refused = tcp::check(&TcpProbe { address: closed, send: None, expect: None, timing: timing() }).await;
    assert!(refused.error.unwrap().starts_with("cannot connect to"));
}

/// A file probe reports the file's age, size and free space, and fails when it is missing, too
/// old or too small.
#[test]
fn a_file_probe_checks_existence_age_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.dump");
    std::fs::write(&path, vec![0; 4096]).unwrap();
    let probe = |max_age: Option<u64>, min_size: Option<u64>| FileProbe {
        path: path.clone(),
        max_age: max_age.map(Interval::from_secs),
        min_size: min_size.map(ByteSize),
        min_free: Some(ByteSize(1)),
        timing: timing(),
    };
    let fresh = file::check(&probe(Some(3600), Some(1024)));
    assert!(fresh.ok(), "{fresh:?}");
    assert_eq!(gauge(&fresh, "probe.file.size_bytes"), Some(4096.0));
    assert!(gauge(&fresh, "probe.file.free_bytes").unwrap() > 0.0);
    assert!(gauge(&fresh, "probe.file.age_seconds").unwrap() < 60.0);

    let old = SystemTime::now() - Duration::from_hours(2);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
    let stale = file::check(&probe(Some(3600), None));
    assert!(stale.error.as_deref().unwrap().contains("s old, more than 1h"), "{stale:?}");
    assert!(gauge(&stale, "probe.file.age_seconds").unwrap() >= 7200.0);
    let small = file::check(&probe(None, Some(1 << 20)));
    assert!(small.error.as_deref().unwrap().contains("has 4096 bytes, fewer than 1048576"), "{small:?}");
    std::fs::remove_file(&path).unwrap();
    assert!(!file::check(&probe(None, None)).ok());
}

/// An HTTP probe passes on an expected status whose body holds the text, and reports the
/// status code either way.
#[tokio::test]
async fn an_http_probe_checks_the_status_and_the_body() {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/ok", get(|| async { "status: healthy" }))
        .route("/down", get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "maintenance") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let probe = |path: &str, expect: &[u16], body: Option<&str>| HttpProbe {
        url: format!("http://{addr}{path}"),
        method: "GET".to_owned(),
        headers: [("x-probe".to_owned(), "sluice".to_owned())].into(),
        expect_status: expect.to_vec(),
        body_contains: body.map(str::to_owned),
        tls_verify: true,
        timing: timing(),
    };
    let check = |p: HttpProbe| async move { http::check(&http::client(&p).unwrap(), &p).await };
    let ok = check(probe("/ok", &[], Some("healthy"))).await;
    assert!(ok.ok(), "{ok:?}");
    assert_eq!(gauge(&ok, "probe.http.status_code"), Some(200.0));
    let down = check(probe("/down", &[], None)).await;
    assert_eq!(down.error.as_deref(), Some(format!("http://{addr}/down answered 503").as_str()));
    assert_eq!(gauge(&down, "probe.http.status_code"), Some(503.0));
    assert!(check(probe("/down", &[503], Some("maintenance"))).await.ok());
    let missing = check(probe("/ok", &[], Some("degraded"))).await;
    assert!(missing.error.unwrap().ends_with("does not contain \"degraded\""));
}

/// Over HTTPS the probe reports the seconds until the server's certificate expires; with
/// `tls_verify` a certificate no CA vouches for fails the probe.
#[tokio::test]
async fn an_https_probe_reports_the_certificates_expiry() {
    use axum::routing::get;
    let dir = tempfile::tempdir().unwrap();
    let openssl = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .current_dir(dir.path())
        .output()
        .expect("openssl runs (Debian package openssl)");
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));
    let config = crate::config::ApiTlsConfig { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
    let tls = crate::api::tls::ApiTls::new(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/ok", get(|| async { "ok" }));
    tokio::spawn(crate::api::tls::serve(listener, app, tls, std::future::pending()));

    let probe = |verify: bool| HttpProbe {
        url: format!("https://{addr}/ok"),
        method: "GET".to_owned(),
        headers: std::collections::BTreeMap::new(),
        expect_status: Vec::new(),
        body_contains: None,
        tls_verify: verify,
        timing: timing(),
    };
    let unverified = probe(false);
    let outcome = http::check(&http::client(&unverified).unwrap(), &unverified).await;
    assert!(outcome.ok(), "{outcome:?}");
    let expiry = gauge(&outcome, "probe.tls.cert_expiry_seconds").unwrap();
    assert!((86_400.0..=172_800.0).contains(&expiry), "expires in {expiry}s");
    let verified = probe(true);
    assert!(!http::check(&http::client(&verified).unwrap(), &verified).await.ok());
}
