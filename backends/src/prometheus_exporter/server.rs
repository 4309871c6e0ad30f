//! The scrape listener: `GET /metrics` answers with the latest render, in the format the
//! `Accept` header asks for. It never renders: the delivery task renders once per window.
//!
//! There is one listener per address for the whole process. A sink that a reload builds in
//! place of another on the same address takes the running listener over: no scrape meets a
//! closed port, and the last render stays served until the new sink's first window. The
//! listener stops when the last sink holding it is dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tokio::sync::{oneshot, watch};

/// Content type of the text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The running listeners by the address they were asked for, for a successor to take over.
/// A process-wide table rather than one the topology passes around: the sink being replaced
/// and its successor are built by different reloads' contexts.
static ENDPOINTS: Mutex<Vec<(SocketAddr, Weak<Endpoint>)>> = Mutex::new(Vec::new());

/// One window's render, in both formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrape {
    /// The text exposition format 0.0.4.
    pub text: Bytes,
    /// OpenMetrics 1.0, `# EOF` last.
    pub openmetrics: Bytes,
}

impl Scrape {
    /// What the listener serves before the first window: no series.
    pub(crate) fn empty() -> Self {
        Self { text: Bytes::new(), openmetrics: Bytes::from_static(b"# EOF\n") }
    }
}

/// A running scrape listener; it stops when the last holder drops it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    local_addr: SocketAddr,
    latest: watch::Sender<Arc<Scrape>>,
    /// Dropped with the endpoint, which stops the listener: it stops accepting at once and
    /// lets scrapes in flight finish.
    _stop: oneshot::Sender<()>,
}

impl Endpoint {
    /// The listener on `listen`: the running one when a sink already serves there (a reload
    /// replacing it), else a new one bound now. Must be called within the tokio runtime.
    pub(crate) fn open(listen: SocketAddr) -> std::io::Result<Arc<Self>> {
        let mut endpoints = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
        endpoints.retain(|(_, endpoint)| endpoint.strong_count() > 0);
        // Port 0 asks for a new port each time: nothing to take over.
        if listen.port() != 0
            && let Some(running) = endpoints.iter().find(|(at, _)| *at == listen).and_then(|(_, e)| e.upgrade())
        {
            tracing::info!(listen = %listen, "Taking over the running scrape listener.");
            return Ok(running);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let local_addr = listener.local_addr()?;
        let (latest, receiver) = watch::channel(Arc::new(Scrape::empty()));
        let (stop, stopped) = oneshot::channel();
        runtime.spawn(serve(listener, receiver, stopped));
        let endpoint = Arc::new(Self { local_addr, latest, _stop: stop });
        endpoints.push((listen, Arc::downgrade(&endpoint)));
        Ok(endpoint)
    }

    /// The address the listener is bound to (the chosen port when `listen` asked for 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `scrape` from the next request on.
    pub(crate) fn publish(&self, scrape: Arc<Scrape>) {
        self.latest.send_replace(scrape);
    }

    /// The render served now.
    #[cfg(test)]
    pub(crate) fn latest(&self) -> Arc<Scrape> {
        Arc::clone(&self.latest.borrow())
    }
}

/// Serves `GET /metrics` on `listener` until `stopped` fires or its sender is dropped.
async fn serve(
    listener: tokio::net::TcpListener,
    latest: watch::Receiver<Arc<Scrape>>,
    stopped: oneshot::Receiver<()>,
) {
    let listen = listener.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
    tracing::info!(listen = %listen, "Serving GET /metrics for Prometheus.");
    let app = Router::new().route("/metrics", get(metrics)).with_state(latest);
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    match serve.await {
        Ok(()) => tracing::info!(listen = %listen, "Scrape listener stopped."),
        Err(e) => tracing::error!(listen = %listen, error = %e, "The scrape listener failed."),
    }
}

/// `GET /metrics`.
async fn metrics(State(latest): State<watch::Receiver<Arc<Scrape>>>, headers: HeaderMap) -> Response {
    let scrape = Arc::clone(&latest.borrow());
    let (content_type, body) = if wants_openmetrics(headers.get(header::ACCEPT)) {
        (OPENMETRICS_CONTENT_TYPE, scrape.openmetrics.clone())
    } else {
        (TEXT_CONTENT_TYPE, scrape.text.clone())
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// True when `accept` lists `application/openmetrics-text` (version 1.0.0, the draft 0.0.1
/// Prometheus also offers, or none) with a quality above zero and at least that of
/// `text/plain`. Anything else, a missing header and `*/*` included, gets the text format, as
/// the Go client library does.
pub(crate) fn wants_openmetrics(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return false };
    let (mut openmetrics, mut text) = (0.0_f64, 0.0_f64);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut q, mut version) = (1.0, None);
        for param in parts {
            match param.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'))) {
                Some((k, v)) if k == "q" => q = v.parse().unwrap_or(0.0),
                Some((k, v)) if k == "version" => version = Some(v.to_owned()),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if matches!(version.as_deref(), None | Some("1.0.0" | "0.0.1")) => {
                openmetrics = openmetrics.max(q);
            }
            "text/plain" => text = text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}
