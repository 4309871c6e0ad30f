//! `[api.tls]` through the binary: the API serves HTTPS with the configured certificate, which
//! a client trusting the test CA verifies; a reload puts a new certificate in force for the
//! next connection; `sluice status` trusts exactly the certificate the config names.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

use common::tls::TestCa;
use common::{free_tcp, free_udp};

/// GET `path` over TLS from a client that trusts only the CA certificate `ca`: the whole
/// answer, or the error of the handshake or the read.
fn get_tls(api: SocketAddr, ca: &Path, path: &str) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in certificates(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(api.ip().into());
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, TcpStream::connect(api).unwrap());
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {api}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

fn certificates(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
}

fn status(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(["status", "--config"]).arg(config).output().unwrap()
}

/// The agent serves HTTPS only: a client trusting the test CA reads `/status`, plain HTTP
/// gets no answer, `sluice status` works by pinning the configured certificate; after the
/// files are replaced by a certificate of another CA and the agent reloads, new connections
/// get the new certificate and `sluice status` follows it.
#[test]
fn the_api_serves_https_with_the_configured_certificate_and_a_reload_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let (ca1, ca2) = (TestCa::new(first.path()), TestCa::new(second.path()));
    let (cert, key) = (dir.path().join("api.pem"), dir.path().join("api.key"));
    std::fs::copy(&ca1.cert, &cert).unwrap();
    std::fs::copy(&ca1.key, &key).unwrap();
    let api = free_tcp();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\ndata_dir = \"{d}\"\n[api]\nlisten = \"{api}\"\n[api.tls]\ncert = \"{c}\"\nkey = \"{k}\"\n\
             [sources.statsd]\nudp = [\"{udp}\"]\n[sinks.out]\ntype = \"console\"\n",
            d = dir.path().display(),
            c = cert.display(),
            k = key.display(),
            udp = free_udp(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("sluice.log")).unwrap();
    let agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !status(&config).status.success() {
        assert!(Instant::now() < deadline, "sluice status never reached the agent over TLS");
        std::thread::sleep(Duration::from_millis(100));
    }

    let answer = get_tls(api, &ca1.ca, "/status").unwrap();
    assert!(answer.starts_with("HTTP/1.0 200") && answer.contains("\"backends\""), "{answer}");
    assert!(get_tls(api, &ca2.ca, "/status").is_err(), "a client of another CA refuses the certificate");
    let mut plain = TcpStream::connect(api).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(plain, "GET /status HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1."), "plain HTTP is not served");

    std::fs::copy(&ca2.cert, &cert).unwrap();
    std::fs::copy(&ca2.key, &key).unwrap();
    agent.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(dir.path().join("sluice.log")).unwrap().contains("Configuration reloaded.") {
        assert!(Instant::now() < deadline, "the reload was not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    let answer = get_tls(api, &ca2.ca, "/status").unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(get_tls(api, &ca1.ca, "/status").is_err(), "the old certificate is no longer served");
    let out = status(&config);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The agent, stopped by SIGTERM when the test ends.
struct Agent(Child);

impl Agent {
    fn hangup(&self) {
        let pid = libc::pid_t::try_from(self.0.id()).unwrap();
        // SAFETY: kill(2) with our child's pid has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.0.id()).unwrap();
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}
