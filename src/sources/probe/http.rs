//! `type = "http"`: a request to `url`, passing when the status is expected and the body holds
//! `body_contains`; over HTTPS it also reports the seconds until the server's certificate
//! expires.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Client, Method};

use super::Outcome;
use super::tcp::contains;
use crate::config::HttpProbe;

/// Most bytes of the body read while looking for `body_contains`.
const MAX_BODY: usize = 1 << 20;

/// The client of one probe: its own, for its TLS verification, and reporting the peer's
/// certificate.
pub fn client(probe: &HttpProbe) -> reqwest::Result<Client> {
    // Installing the process-wide provider fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("sluice-probe/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(!probe.tls_verify)
        .tls_info(true)
        .build()
}

/// Requests and checks; the caller bounds it with the probe's timeout.
pub async fn check(client: &Client, probe: &HttpProbe) -> Outcome {
    let method = Method::from_bytes(probe.method.as_bytes()).unwrap_or(Method::GET);
    let mut request = client.request(method, &probe.url);
    for (name, value) in &probe.headers {
        request = request.header(name, value);
    }
    let mut answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => return Outcome::fail(format!("{}: {}", probe.url, error_chain(&e)), Vec::new()),
    };
    let status = answer.status().as_u16();
    let mut gauges = vec![("probe.http.status_code", f64::from(status))];
    if let Some(expiry) = certificate_expiry(&answer) {
        gauges.push(("probe.tls.cert_expiry_seconds", expiry));
    }
    let expected = if probe.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        probe.expect_status.contains(&status)
    };
    if !expected {
        return Outcome::fail(format!("{} answered {status}", probe.url), gauges);
    }
    let Some(needle) = &probe.body_contains else { return Outcome::pass(gauges) };
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Outcome::fail(format!("{}: reading the body: {e}", probe.url), gauges),
        }
        if contains(&body, needle.as_bytes()) {
            return Outcome::pass(gauges);
        }
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Outcome::fail(format!("the body of {} does not contain {needle:?}", probe.url), gauges)
}

/// Seconds from now until the server certificate's `notAfter` (negative once expired).
fn certificate_expiry(answer: &reqwest::Response) -> Option<f64> {
    let der = answer.extensions().get::<reqwest::tls::TlsInfo>()?.peer_certificate()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = certificate.validity().not_after.timestamp();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    Some(not_after as f64 - now)
}

/// The error and its causes, since reqwest's own message only says "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
