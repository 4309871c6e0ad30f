//! The API over HTTPS (`[api.tls]`): the certificate and key read at start and again on every
//! reload, handed to each new handshake; connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::ApiTlsConfig;

/// How long a client may take to finish its handshake before the connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM item of its kind.
    #[error("cannot read [api.tls] {key} {path}: {message}")]
    Read {
        /// `cert` or `key`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The key is not one rustls can sign with, or not the certificate's.
    #[error("[api.tls] key {path} does not go with cert {cert}: {message}")]
    Mismatch {
        /// The key file.
        path: PathBuf,
        /// The certificate file.
        cert: PathBuf,
        /// Why.
        message: String,
    },
}

/// The certificate in force, swapped whole by a reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner)))
    }
}

/// The API's TLS: what a reload replaces, and the acceptor that uses it.
#[derive(Clone)]
pub struct ApiTls {
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ApiTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTls").finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The chain and key of `config`, checked to belong together.
fn load(config: &ApiTlsConfig) -> Result<Arc<CertifiedKey>, TlsError> {
    let read = |key: &'static str, path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
        key,
        path: path.to_owned(),
        message: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(&config.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| read("cert", &config.cert, &e))?;
    if chain.is_empty() {
        return Err(read("cert", &config.cert, &"no CERTIFICATE in it"));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|e| read("key", &config.key, &e))?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Mismatch {
        path: config.key.clone(),
        cert: config.cert.clone(),
        message: e.to_string(),
    })?;
    Ok(Arc::new(certified))
}

impl ApiTls {
    /// The certificate and key of `config`, read now.
    pub fn new(config: &ApiTlsConfig) -> Result<Self, TlsError> {
        let current = Arc::new(Current(RwLock::new(load(config)?)));
        let mut server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { current, acceptor: TlsAcceptor::from(Arc::new(server)) })
    }

    /// Puts `certificate` in force for the next handshake.
    pub fn set(&self, certificate: Certificate) {
        *self.current.0.write().unwrap_or_else(PoisonError::into_inner) = certificate.0;
    }
}

/// A certificate chain and its key, read and checked, waiting to be put in force.
pub struct Certificate(Arc<CertifiedKey>);

impl Certificate {
    /// The chain and key of `config`, read now.
    pub fn read(config: &ApiTlsConfig) -> Result<Self, TlsError> {
        load(config).map(Self)
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves: each connection is
/// handshaken and served on its own task, so a slow client delays no other.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: ApiTls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors and the like: the next accept may work.
                Err(e) => {
                    tracing::warn!(error = %e, "The API could not accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (acceptor, app) = (tls.acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "API TLS handshake failed."),
                Err(_) => return tracing::debug!(%peer, "API TLS handshake timed out."),
            };
            let service = TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "API connection ended with an error.");
            }
        });
    }
}
