//! An in-process Datadog intake for tests, on a loopback port, on its own thread. It enforces
//! the documented contract strictly: `DD-API-KEY`, `Content-Encoding` (zstd, gzip, deflate),
//! the payload limits (413), and the JSON schema of each endpoint field by field (400 with
//! `{"errors": [...]}`). It records every accepted payload, and answers from a script of
//! injected statuses first.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

/// The API key the intake accepts.
pub const API_KEY: &str = "test-api-key-0123456789";
/// Largest compressed body.
pub const MAX_COMPRESSED: usize = 512_000;
/// A decompressed body must be smaller than this.
pub const MAX_DECOMPRESSED: usize = 5_242_880;

/// One request the intake answered.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived.
    pub at: Instant,
    /// The path.
    pub path: String,
    /// `Content-Encoding`.
    pub encoding: String,
    /// Bytes on the wire.
    pub compressed: usize,
    /// The decompressed body, parsed (`Null` when it could not be read).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// An answer to inject: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

/// The intake's judgement of a request: its answer, the parsed body and the violation, if any.
type Verdict = (u16, Vec<(&'static str, String)>, String, Value, Option<String>);

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    script: Vec<Answer>,
    violations: Vec<String>,
}

/// A running intake.
#[derive(Clone)]
pub struct Intake {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Intake {
    /// Starts the intake on a free loopback port, on a thread with its own runtime.
    pub fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::clone(&inner);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let app = Router::new()
                    .route("/api/v2/series", post(handle))
                    .route("/api/v1/distribution_points", post(handle))
                    .route("/api/v1/events", post(handle))
                    .route("/api/v1/check_run", post(handle))
                    .with_state(state);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { addr, inner }
    }

    /// The base URL for `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests with these, in order, before accepting again.
    pub fn script(&self, answers: Vec<Answer>) {
        let mut inner = self.inner.lock().unwrap();
        inner.script = answers.into_iter().rev().collect();
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The bodies accepted (2xx) at `path`.
    pub fn accepted(&self, path: &str) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.path == path && r.status == 202).map(|r| r.body).collect()
    }

    /// Every accepted v2 series object, across requests.
    pub fn series(&self) -> Vec<Value> {
        self.accepted("/api/v2/series").iter().flat_map(|b| b["series"].as_array().unwrap().clone()).collect()
    }

    /// Every accepted distribution object, across requests.
    pub fn distributions(&self) -> Vec<Value> {
        self.accepted("/api/v1/distribution_points")
            .iter()
            .flat_map(|b| b["series"].as_array().unwrap().clone())
            .collect()
    }

    /// Contract violations seen (each also answered 400 or 403); tests assert it is empty.
    pub fn violations(&self) -> Vec<String> {
        self.inner.lock().unwrap().violations.clone()
    }
}

async fn handle(State(state): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let encoding = headers.get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (status, extra, text, parsed, violation) = judge(&path, &headers, &encoding, &body);
    let mut inner = state.lock().unwrap();
    let (status, extra, text) = match inner.script.pop() {
        Some(answer) if violation.is_none() => answer,
        Some(answer) => {
            inner.script.push(answer);
            (status, extra, text)
        }
        None => (status, extra, text),
    };
    if let Some(v) = violation {
        inner.violations.push(format!("{path}: {v}"));
    }
    inner.requests.push(Request { at: Instant::now(), path, encoding, compressed: body.len(), body: parsed, status });
    let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Checks one request against the contract: `(status, headers, body, parsed JSON, violation)`.
fn judge(path: &str, headers: &HeaderMap, encoding: &str, body: &[u8]) -> Verdict {
    let refuse =
        |status: u16, why: String| (status, Vec::new(), format!("{{\"errors\":[{why:?}]}}"), Value::Null, Some(why));
    if headers.get("dd-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return refuse(403, "missing or wrong DD-API-KEY".into());
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return refuse(400, "Content-Type must be application/json".into());
    }
    if body.len() > MAX_COMPRESSED {
        return (413, Vec::new(), "Payload too large".into(), Value::Null, None);
    }
    let mut raw = Vec::new();
    let read = match encoding {
        "zstd" => zstd::stream::read::Decoder::new(body).and_then(|mut d| d.read_to_end(&mut raw)),
        "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut raw),
        "deflate" => flate2::read::ZlibDecoder::new(body).read_to_end(&mut raw),
        other => return refuse(400, format!("unsupported Content-Encoding {other:?}")),
    };
    if let Err(e) = read {
        return refuse(400, format!("body is not {encoding}: {e}"));
    }
    if raw.len() >= MAX_DECOMPRESSED {
        return (413, Vec::new(), "Payload too large".into(), Value::Null, None);
    }
    let parsed: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => return refuse(400, format!("body is not JSON: {e}")),
    };
    let checked = match path {
        "/api/v2/series" => check_series(&parsed),
        "/api/v1/distribution_points" => check_distributions(&parsed),
        "/api/v1/events" => check_event(&parsed),
        "/api/v1/check_run" => check_checks(&parsed),
        _ => Err("unknown path".into()),
    };
    match checked {
        Ok(()) => (202, Vec::new(), "{\"errors\":[]}".into(), parsed, None),
        Err(why) => {
            let (status, extra, text, _, v) = refuse(400, why);
            (status, extra, text, parsed, v)
        }
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A timestamp within `[now − 1 h, now + 10 min]`.
fn check_timestamp(v: &Value) -> Result<(), String> {
    let ts = v.as_i64().ok_or_else(|| format!("timestamp {v} is not an integer"))?;
    let now = now();
    if ts < now - 3600 || ts > now + 600 {
        return Err(format!("timestamp {ts} outside [now-1h, now+10min] (now {now})"));
    }
    Ok(())
}

fn check_tags(v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Array(tags) if tags.iter().all(Value::is_string) => Ok(()),
        _ => Err(format!("tags {v} is not an array of strings")),
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{what} is not an object"))
}

fn only_keys(o: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field {k:?}")),
        None => Ok(()),
    }
}

fn check_series(body: &Value) -> Result<(), String> {
    let series = body["series"].as_array().ok_or("series[] missing")?;
    for s in series {
        let o = object(s, "series[]")?;
        only_keys(
            o,
            &["metric", "type", "interval", "points", "resources", "tags", "unit", "source_type_name", "metadata"],
        )?;
        s["metric"].as_str().filter(|m| !m.is_empty()).ok_or("metric is not a non-empty string")?;
        let kind = s["type"].as_u64().filter(|t| *t <= 3).ok_or_else(|| format!("type {} not in 0..=3", s["type"]))?;
        if matches!(kind, 1 | 2) && s["interval"].as_i64().is_none_or(|i| i < 1) {
            return Err(format!("interval {} missing for a count or rate", s["interval"]));
        }
        if !s["interval"].is_null() && s["interval"].as_i64().is_none() {
            return Err("interval is not an integer".into());
        }
        let points = s["points"].as_array().filter(|p| !p.is_empty()).ok_or("points[] missing")?;
        for p in points {
            only_keys(object(p, "point")?, &["timestamp", "value"])?;
            check_timestamp(&p["timestamp"])?;
            if !p["value"].is_number() {
                return Err(format!("value {} is not a number", p["value"]));
            }
        }
        if let Some(resources) = s.get("resources") {
            for r in resources.as_array().ok_or("resources is not an array")? {
                only_keys(object(r, "resource")?, &["type", "name"])?;
                if !(r["type"].is_string() && r["name"].as_str().is_some_and(|n| !n.is_empty())) {
                    return Err(format!("resource {r} needs string type and name"));
                }
            }
        }
        check_tags(&s["tags"])?;
    }
    Ok(())
}

fn check_distributions(body: &Value) -> Result<(), String> {
    let series = body["series"].as_array().ok_or("series[] missing")?;
    for s in series {
        let o = object(s, "series[]")?;
        only_keys(o, &["metric", "type", "host", "tags", "points"])?;
        s["metric"].as_str().filter(|m| !m.is_empty()).ok_or("metric is not a non-empty string")?;
        if s["type"] != "distribution" {
            return Err(format!("type {} is not \"distribution\"", s["type"]));
        }
        if !s["host"].is_null() && !s["host"].is_string() {
            return Err("host is not a string".into());
        }
        check_tags(&s["tags"])?;
        for p in s["points"].as_array().filter(|p| !p.is_empty()).ok_or("points[] missing")? {
            let pair = p.as_array().filter(|p| p.len() == 2).ok_or("a point is not [timestamp, [values]]")?;
            check_timestamp(&pair[0])?;
            let values = pair[1].as_array().ok_or("values is not an array")?;
            if !values.iter().all(Value::is_number) {
                return Err("a value is not a number".into());
            }
        }
    }
    Ok(())
}

fn check_event(body: &Value) -> Result<(), String> {
    let o = object(body, "event")?;
    only_keys(
        o,
        &[
            "title",
            "text",
            "date_happened",
            "host",
            "aggregation_key",
            "priority",
            "source_type_name",
            "alert_type",
            "tags",
        ],
    )?;
    let title = body["title"].as_str().ok_or("title is not a string")?;
    let text = body["text"].as_str().ok_or("text is not a string")?;
    if title.chars().count() > 100 || text.chars().count() > 4000 {
        return Err("title over 100 or text over 4000 characters".into());
    }
    if !body["priority"].is_null() && !matches!(body["priority"].as_str(), Some("normal" | "low")) {
        return Err(format!("priority {}", body["priority"]));
    }
    if !body["alert_type"].is_null()
        && !matches!(
            body["alert_type"].as_str(),
            Some("error" | "warning" | "info" | "success" | "user_update" | "recommendation" | "snapshot")
        )
    {
        return Err(format!("alert_type {}", body["alert_type"]));
    }
    if !body["date_happened"].is_null() && body["date_happened"].as_i64().is_none() {
        return Err("date_happened is not an integer".into());
    }
    check_tags(&body["tags"])
}

fn check_checks(body: &Value) -> Result<(), String> {
    for c in body.as_array().ok_or("body is not an array of checks")? {
        only_keys(object(c, "check")?, &["check", "host_name", "status", "timestamp", "message", "tags"])?;
        c["check"].as_str().ok_or("check is not a string")?;
        c["host_name"].as_str().ok_or("host_name is not a string")?;
        c["status"].as_u64().filter(|s| *s <= 3).ok_or("status not in 0..=3")?;
        if !c["timestamp"].is_null() && c["timestamp"].as_i64().is_none() {
            return Err("timestamp is not an integer".into());
        }
        check_tags(&c["tags"])?;
    }
    Ok(())
}
