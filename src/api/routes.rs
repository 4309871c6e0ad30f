//! Routes of the HTTP API and the server task.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use super::auth::{ApiAuth, require_token};
use super::metrics::render;
use super::page;
use super::tap::tap;
use super::tls::ApiTls;
use crate::sources::statsd::kernel::udp_drops;
use crate::tap::Subscriptions;
use crate::telemetry::{ListenerStats, Telemetry};

/// What the handlers read: the telemetry, and the tap for `/tap`.
#[derive(Debug, Clone)]
struct ApiState {
    telemetry: Arc<Telemetry>,
    taps: Subscriptions,
}

impl FromRef<ApiState> for Arc<Telemetry> {
    fn from_ref(state: &ApiState) -> Self {
        Arc::clone(&state.telemetry)
    }
}

impl FromRef<ApiState> for Subscriptions {
    fn from_ref(state: &ApiState) -> Self {
        state.taps.clone()
    }
}

/// The API's routes over the agent's telemetry and its tap, behind the tokens of `auth`.
pub fn router(telemetry: Arc<Telemetry>, taps: Subscriptions, auth: ApiAuth) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/tap", get(tap))
        .route("/checks", get(checks))
        .route("/alerts", get(alerts))
        .route_layer(axum::middleware::from_fn_with_state(auth, require_token))
        // After the token layer: the page and its files hold no data.
        .route("/", get(page::index))
        .route("/page/page.js", get(page::script))
        .route("/page/page.css", get(page::style))
        .with_state(ApiState { telemetry, taps })
}

/// Serves the API on an already bound listener until `shutdown` resolves, over TLS with `tls`.
pub async fn serve(
    listener: TcpListener,
    telemetry: Arc<Telemetry>,
    taps: Subscriptions,
    auth: ApiAuth,
    tls: Option<ApiTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(telemetry, taps, auth);
    match tls {
        Some(tls) => super::tls::serve(listener, app, tls, shutdown).await,
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await,
    }
}

/// 200 while the process runs.
async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 once every listener is bound and every backend built; 503 with the reason otherwise.
async fn ready(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    if t.ready.load(Relaxed) {
        (StatusCode::OK, Json(json!({ "ready": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": "listeners or backends are still starting" })),
        )
    }
}

/// JSON: the agent's version and uptime, listeners, window state and every backend's
/// delivery state.
async fn status(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let listeners: Vec<_> = t
        .listeners()
        .iter()
        .map(|l| {
            json!({
                "listener": l.name,
                "running": l.running.load(Relaxed),
                "lines": l.lines.load(Relaxed),
                "bytes": l.bytes.load(Relaxed),
                "truncated": l.truncated.load(Relaxed),
                "kernel_drops": kernel_drops(l),
            })
        })
        .collect();
    let backends: Vec<_> = t.backends().iter().map(|b| b.status()).collect();
    let mut body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": t.started.elapsed().as_secs(),
        "ready": t.ready.load(Relaxed),
        "series": t.series.load(Relaxed),
        "flushes": t.flushes.load(Relaxed),
        "last_flush_duration_ms": t.last_flush_micros.load(Relaxed) as f64 / 1e3,
        "listeners": listeners,
        "parse_errors": t.parse_errors.iter().filter(|(_, v)| *v > 0).collect::<std::collections::BTreeMap<_, _>>(),
        "dropped_samples": t.dropped_samples.iter().filter(|(_, v)| *v > 0).collect::<std::collections::BTreeMap<_, _>>(),
        "backends": backends,
    });
    let probes = probes(&t);
    if !probes.is_empty() {
        body["probes"] = probes.into();
    }
    let view = t.alerts.view();
    if !view.rules.is_empty() {
        body["alerts"] = json!(view.alerts);
        body["alertmanagers"] = alertmanagers(&t).into();
    }
    Json(body)
}

/// The rules' pending and firing alerts, their recent changes, each rule's counts and each
/// Alertmanager's delivery.
async fn alerts(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let view = t.alerts.view();
    Json(json!({
        "alerts": view.alerts,
        "history": view.history,
        "rules": view.rules,
        "alertmanagers": alertmanagers(&t),
    }))
}

/// Each configured Alertmanager's counters.
fn alertmanagers(t: &Telemetry) -> Vec<serde_json::Value> {
    t.alerts
        .managers()
        .iter()
        .map(|m| {
            json!({
                "url": m.url,
                "sent": m.sent.load(Relaxed),
                "failed_requests": m.failed.load(Relaxed),
                "rejected": m.rejected.load(Relaxed),
                "dropped": m.dropped.load(Relaxed),
                "queued": m.queued.load(Relaxed),
                "last_error": m.last_error(),
            })
        })
        .collect()
}

/// The critical probes' verdict, for load balancers: 200 when every one passed its last run,
/// 503 with what failed (or has not run yet) otherwise; every probe is listed.
async fn checks(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let mut healthy = true;
    let checks: Vec<_> = t
        .probes()
        .iter()
        .filter(|p| p.running.load(Relaxed))
        .map(|p| {
            let last = p.last();
            let critical = p.critical.load(Relaxed);
            let ok = last.as_ref().is_some_and(|r| r.ok);
            healthy &= ok || !critical;
            let error = match &last {
                Some(r) => r.error.clone(),
                None => Some("not run yet".to_owned()),
            };
            json!({ "probe": p.name, "critical": critical, "ok": ok, "error": error })
        })
        .collect();
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if healthy { "pass" } else { "fail" }, "checks": checks })))
}

/// Each running probe's last result, for `/status`.
fn probes(t: &Telemetry) -> Vec<serde_json::Value> {
    t.probes()
        .iter()
        .filter(|p| p.running.load(Relaxed))
        .map(|p| {
            let last = p.last();
            json!({
                "name": p.name,
                "type": *p.kind.read().unwrap_or_else(std::sync::PoisonError::into_inner),
                "critical": p.critical.load(Relaxed),
                "ok": last.as_ref().is_some_and(|r| r.ok),
                "error": last.as_ref().and_then(|r| r.error.clone()),
                "duration_seconds": last.as_ref().map(|r| r.duration_seconds),
                "last_run_ms": last.as_ref().map(|r| r.at_ms),
                "runs": p.runs.load(Relaxed),
                "failures": p.failures.load(Relaxed),
            })
        })
        .collect()
}

/// Datagrams the kernel dropped for a UDP listener; `None` for the others, whose drops the
/// kernel does not report.
fn kernel_drops(l: &ListenerStats) -> Option<u64> {
    let inode = l.udp_inode.load(Relaxed);
    (inode != 0).then(|| udp_drops(inode).unwrap_or(0))
}

/// The agent's own telemetry in the Prometheus text format.
async fn metrics(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&t))
}
