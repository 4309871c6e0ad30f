//! An in-process InfluxDB 1.x write endpoint for fault tests: it records every request in
//! arrival order and answers as the test scripts it (500, 429 with `Retry-After`, 400 to
//! lines containing a marker, slow), so order, retries and duplicates can be checked exactly.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// How the server answers the next writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// 204: stored.
    Store,
    /// This status, nothing stored.
    Fail(u16),
    /// 429 with `Retry-After: secs` to the next request only, then [`Mode::Store`].
    TooManyOnce(u64),
    /// 400 (a plain refusal, not a partial write) to a body containing the marker; others stored.
    RejectContaining(String),
    /// Stored after this delay.
    Slow(Duration),
    /// The next `stored` writes stored, then [`Mode::Fail`] with `status`.
    StoreThenFail { stored: usize, status: u16 },
}

/// One write request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived.
    pub at: Instant,
    /// What the server answered.
    pub status: u16,
    /// Its lines of line protocol.
    pub lines: Vec<String>,
}

#[derive(Debug)]
struct Shared {
    mode: Mode,
    requests: Vec<Request>,
}

/// The running server; stops with the test process.
pub struct Capture {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _rt: tokio::runtime::Runtime,
}

impl Capture {
    /// Starts the server on a free loopback port, answering as `mode` says.
    pub fn start(mode: Mode) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let shared = Arc::new(Mutex::new(Shared { mode, requests: Vec::new() }));
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/write", post(write)).with_state(Arc::clone(&shared));
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared, _rt: rt }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how the next writes are answered.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = mode;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// Every stored line, in arrival order.
    pub fn stored(&self) -> Vec<String> {
        self.requests().into_iter().filter(|r| r.status == 204).flat_map(|r| r.lines).collect()
    }

    /// `(timestamp, value field)` of every stored line of `measurement`, in arrival order.
    pub fn points(&self, measurement: &str) -> Vec<(u64, f64)> {
        self.stored().iter().filter_map(|l| point(l, measurement)).collect()
    }

    /// Sum of the `value` field of `measurement` over every stored line.
    pub fn sum(&self, measurement: &str) -> f64 {
        self.points(measurement).iter().map(|(_, v)| v).sum()
    }

    /// Waits until the stored sum of `measurement` is `expected` (at most `within`).
    pub fn wait_sum(&self, measurement: &str, expected: f64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.sum(measurement);
            if got == expected {
                return;
            }
            assert!(Instant::now() < deadline, "{measurement}: stored sum {got}, expected {expected}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `(timestamp, value)` of a line of `measurement` (tags allowed), if it is one.
fn point(line: &str, measurement: &str) -> Option<(u64, f64)> {
    let mut parts = line.split(' ');
    let series = parts.next()?;
    if series.split(',').next()? != measurement {
        return None;
    }
    let fields = parts.next()?;
    let ts = parts.next()?.parse().ok()?;
    let value = fields.split(',').find_map(|f| f.strip_prefix("value="))?.trim_end_matches('i').parse().ok()?;
    Some((ts, value))
}

async fn write(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut out).unwrap();
        out
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    let lines: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let mode = shared.lock().unwrap().mode.clone();
    let (status, retry_after) = match &mode {
        Mode::Fail(status) => (*status, None),
        Mode::TooManyOnce(secs) => {
            shared.lock().unwrap().mode = Mode::Store;
            (429, Some(*secs))
        }
        Mode::RejectContaining(marker) if text.contains(marker.as_str()) => (400, None),
        Mode::Store | Mode::RejectContaining(_) => (204, None),
        Mode::StoreThenFail { stored, status } => {
            let next = if *stored > 1 {
                Mode::StoreThenFail { stored: stored - 1, status: *status }
            } else {
                Mode::Fail(*status)
            };
            shared.lock().unwrap().mode = next;
            (if *stored > 0 { 204 } else { *status }, None)
        }
        Mode::Slow(delay) => {
            tokio::time::sleep(*delay).await;
            (204, None)
        }
    };
    shared.lock().unwrap().requests.push(Request { at: Instant::now(), status, lines });
    let code = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(secs) => (code, [("retry-after", secs.to_string())], "slow down").into_response(),
        None if status == 204 => code.into_response(),
        None => (code, format!("{{\"error\":\"scripted {status}\"}}")).into_response(),
    }
}
