//! A CloudWatch emulator for tests: `moto_server` (the Python package `moto[server]`) on a free loopback
//! port, stopped by its PID when dropped. It reads back with `GetMetricStatistics` and
//! `ListMetrics` in the AWS JSON 1.0 protocol; moto picks the service from the credential
//! scope of `Authorization` and checks no signature, so the read-back is not signed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long `moto_server` may take to answer `GET /`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

/// One `GetMetricStatistics` datapoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statistics {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p P` on a free port and waits until `GET /` answers.
    pub fn start() -> Self {
        let port = super::free_tcp().port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("moto_server runs (pip install \"moto[server]\")");
        let moto = Self { child, port, log };
        let started = Instant::now();
        while super::http_get(moto.addr(), "/").is_none() {
            assert!(started.elapsed() < START_TIMEOUT, "moto_server did not answer GET /: {}", moto.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Calls a CloudWatch action in the AWS JSON 1.0 protocol and returns the answer.
    pub fn call(&self, action: &str, input: &Value) -> Value {
        let body = input.to_string();
        let mut stream = TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: GraniteServiceVersion20100801.{action}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/monitoring/aws4_request, \
             SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{action}: {response}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{action}: {e}: {body}"))
    }

    /// `SampleCount`, `Sum`, `Minimum` and `Maximum` of `metric` with exactly `dimensions`,
    /// over the day around now, as one datapoint; `None` when nothing was stored.
    pub fn statistics(&self, namespace: &str, metric: &str, dimensions: &[(&str, &str)]) -> Option<Statistics> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let dimensions: Vec<Value> = dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect();
        let answer = self.call(
            "GetMetricStatistics",
            &json!({
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": dimensions,
                "StartTime": now - 43_200,
                "EndTime": now + 43_200,
                "Period": 86_400,
                "Statistics": ["SampleCount", "Sum", "Minimum", "Maximum"],
            }),
        );
        let points = answer["Datapoints"].as_array().unwrap();
        assert!(points.len() <= 1, "{answer}");
        let point = points.first()?;
        let get = |k: &str| point[k].as_f64().unwrap_or_else(|| panic!("{k} in {point}"));
        Some(Statistics {
            sample_count: get("SampleCount"),
            sum: get("Sum"),
            minimum: get("Minimum"),
            maximum: get("Maximum"),
        })
    }

    /// Every `(metric name, sorted "name=value" dimensions)` in `namespace`, sorted and
    /// de-duplicated (moto can list a metric once per datum).
    pub fn metrics(&self, namespace: &str) -> Vec<(String, Vec<String>)> {
        let answer = self.call("ListMetrics", &json!({ "Namespace": namespace }));
        let mut metrics: Vec<(String, Vec<String>)> = answer["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let mut dims: Vec<String> = m["Dimensions"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|d| format!("{}={}", d["Name"].as_str().unwrap(), d["Value"].as_str().unwrap()))
                            .collect()
                    })
                    .unwrap_or_default();
                dims.sort();
                (m["MetricName"].as_str().unwrap().to_owned(), dims)
            })
            .collect();
        metrics.sort();
        metrics.dedup();
        metrics
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with the PID of the child this test started and has not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
