//! A harness that runs the `sluice` binary on free loopback ports with a temp config, and
//! reads back what its file sink wrote.

#![allow(dead_code)]

pub mod alertmanager;
pub mod browser;
pub mod capture;
pub mod datadog;
pub mod etsy;
pub mod influxdb;
pub mod moto;
pub mod node_exporter;
pub mod otel;
pub mod prometheus;
pub mod promtool;
pub mod pushgateway;
pub mod scrape_apps;
pub mod scraper;
pub mod tls;
pub mod victoria;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running agent and its temp dir.
pub struct Agent {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub udp: SocketAddr,
    pub api: SocketAddr,
}

/// A free loopback UDP port (bound then released; the agent binds it right after).
pub fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A free loopback TCP port.
pub fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

impl Agent {
    /// Starts sluice with `extra` appended (inside `[sources.statsd]`, or new tables) to a config that listens on a free UDP port, serves
    /// the API on a free TCP port and writes every window to `windows.jsonl` in a temp dir.
    /// `{dir}` in `extra` is replaced by the temp dir. Waits until `/ready` answers 200.
    pub fn start(extra: &str) -> Self {
        Self::start_with("1h", extra, Stdio::null())
    }

    /// Like [`Agent::start`], with windows of `flush_interval` and the given standard output.
    pub fn start_with(flush_interval: &str, extra: &str, stdout: Stdio) -> Self {
        Setup { flush_interval, ..Setup::default() }.start_with_stdout(extra, stdout)
    }

    /// Like [`Agent::start_with`], with `env` added to the agent's environment.
    pub fn start_with_env(flush_interval: &str, extra: &str, stdout: Stdio, env: &[(&str, &str)]) -> Self {
        Setup { flush_interval, env, ..Setup::default() }.start_with_stdout(extra, stdout)
    }

    fn launch(setup: &Setup, extra: &str, stdout: Stdio) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (udp, api) = (setup.udp.unwrap_or_else(free_udp), free_tcp());
        let data_dir = match (setup.data_dir, setup.tmpfs) {
            (Some(data_dir), _) => data_dir.to_owned(),
            // Not the temp dir itself: the test reads the file sink's output there.
            (None, Some(_)) => dir.path().join("data"),
            (None, None) => dir.path().to_owned(),
        };
        let config = format!(
            "[agent]\nflush_interval = \"{flush_interval}\"\nshutdown_timeout = \"2s\"\ndata_dir = \"{data_dir}\"\n{agent}\n\
             [api]\nlisten = \"{api}\"\n\
             [sinks.file]\ntype = \"file\"\npath = \"{d}/windows.jsonl\"\n\
             [sources.statsd]\nudp = [\"{udp}\"]\n{extra}",
            flush_interval = setup.flush_interval,
            data_dir = data_dir.display(),
            agent = setup.agent,
            d = dir.path().display(),
            extra = extra.replace("{dir}", &dir.path().display().to_string()),
        );
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, config).unwrap();
        let mut command = if let Some(options) = setup.tmpfs {
            assert!(setup.inherit.is_empty(), "a tmpfs data_dir and inherited sockets are not combined");
            std::fs::create_dir_all(&data_dir).unwrap();
            // unshare and sh exec in turn, so the child's pid is sluice's.
            let mut command = Command::new("unshare");
            command
                .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
                .arg("mount -t tmpfs -o \"$1\" sluice-test \"$2\" && shift 2 && exec \"$0\" \"$@\"")
                .arg(env!("CARGO_BIN_EXE_sluice"))
                .arg(options)
                .arg(&data_dir);
            command
        } else if setup.inherit.is_empty() {
            Command::new(env!("CARGO_BIN_EXE_sluice"))
        } else {
            // Socket activation: LISTEN_PID must be sluice's pid, so a shell sets it to its
            // own and then becomes sluice; the sockets are moved to fds 3, 4, … before.
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(format!("LISTEN_PID=$$ LISTEN_FDS={} exec \"$0\" \"$@\"", setup.inherit.len()))
                .arg(env!("CARGO_BIN_EXE_sluice"));
            let fds = setup.inherit.to_vec();
            // SAFETY: the closure only calls fcntl and dup2, which are async-signal-safe.
            unsafe { command.pre_exec(move || pass_fds(&fds)) };
            command
        };
        let child = command
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .envs(setup.env.iter().copied())
            .stdout(stdout)
            .stderr(if setup.capture_log {
                std::fs::File::create(dir.path().join("sluice.log")).unwrap().into()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let agent = Self { child, dir, udp, api };
        agent.wait_ready();
        agent
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(self.api, "/ready").is_some_and(|(status, _)| status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("sluice did not become ready on {}", self.api);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends each datagram over UDP.
    pub fn send_udp(&self, datagrams: &[&str]) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in datagrams {
            socket.send_to(d.as_bytes(), self.udp).unwrap();
        }
    }

    /// Waits until `sluice_received_lines_total` of the UDP listener reaches `lines`.
    pub fn wait_lines(&self, lines: f64) {
        self.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", self.udp), lines);
    }

    /// Waits for the next flush, so that what is sent right after lands in one window.
    pub fn wait_flush(&self) {
        let flushes = self.metric("sluice_flushes_total").unwrap_or(0.0);
        self.wait_metric("sluice_flushes_total", flushes + 1.0);
    }

    /// GET `path` on the API; panics unless it answers.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.api, path).expect("the API answers")
    }

    /// The value of one sample of `/metrics`, e.g. `sluice_parse_errors_total{reason="bad_value"}`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines().find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// The sum of every sample of `/metrics` whose line starts with `prefix`, e.g. every
    /// reason of `sluice_backend_dropped_series_total{backend="x"`.
    pub fn metric_sum(&self, prefix: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    /// Waits until `/metrics` shows `sample` ≥ `at_least`, or panics after 10 seconds.
    pub fn wait_metric(&self, sample: &str, at_least: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.metric(sample).unwrap_or(0.0);
            if v >= at_least {
                return v;
            }
            assert!(Instant::now() < deadline, "{sample} stayed at {v}, expected ≥ {at_least}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGHUP: the agent reloads its config file.
    pub fn hangup(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a valid pid and signal has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    }

    /// Rewrites the agent's config with `edit` and sends SIGHUP.
    pub fn reload_with(&self, edit: impl FnOnce(String) -> String) {
        let path = self.path("sluice.toml");
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(config)).unwrap();
        self.hangup();
    }

    /// `/status` of the backend `name`.
    pub fn backend_status(&self, name: &str) -> Value {
        let status: Value = serde_json::from_str(&self.get("/status").1).unwrap();
        status["backends"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit status (at most 20 seconds).
    pub fn stop(mut self) -> (ExitStatus, Vec<Value>) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a valid pid and signal has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "sluice did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let windows = read_windows(&self.path("windows.jsonl"));
        (status, windows)
    }
}

/// How to start an agent, beyond what [`Agent::start`] sets.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// `[agent] flush_interval`. Defaults to `"1h"`.
    pub flush_interval: &'a str,
    /// More `[agent]` keys, one per line. Defaults to none.
    pub agent: &'a str,
    /// `[agent] data_dir`, for state that outlives one agent. Defaults to the agent's temp dir.
    pub data_dir: Option<&'a Path>,
    /// More environment variables for the agent. Defaults to none.
    pub env: &'a [(&'a str, &'a str)],
    /// The UDP listener's address. Defaults to a free port.
    pub udp: Option<SocketAddr>,
    /// Sockets handed over as systemd's socket activation does (fds 3, 4, … with `LISTEN_FDS`
    /// and `LISTEN_PID`). Defaults to none.
    pub inherit: &'a [RawFd],
    /// Mount options (`"size=256k"`, `"size=64k,ro"`): `data_dir` is then a tmpfs mounted so,
    /// in a mount namespace of the agent's own, so a test can fill its disk or make it
    /// read-only. Defaults to none.
    pub tmpfs: Option<&'a str>,
    /// Writes the agent's standard error (its log) to `sluice.log` in the temp dir instead of
    /// the test's. Defaults to false.
    pub capture_log: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            flush_interval: "1h",
            agent: "",
            data_dir: None,
            env: &[],
            udp: None,
            inherit: &[],
            tmpfs: None,
            capture_log: false,
        }
    }
}

/// In the child before exec: moves `fds` to 3, 4, … without close-on-exec. Each is first
/// copied above the range, so a source already sitting at a target number is not clobbered.
fn pass_fds(fds: &[RawFd]) -> std::io::Result<()> {
    // No allocation between fork and exec: a fixed array.
    let mut high = [0; 8];
    assert!(fds.len() <= high.len(), "at most 8 inherited sockets");
    for (slot, &fd) in high.iter_mut().zip(fds) {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an open descriptor has no memory effects.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        *slot = copy;
    }
    for (i, &fd) in high[..fds.len()].iter().enumerate() {
        // SAFETY: dup2 onto a small descriptor number; the new descriptor has no close-on-exec.
        if unsafe { libc::dup2(fd, 3 + i as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Setup<'_> {
    /// Starts sluice as [`Agent::start`] does, with this setup.
    pub fn start(&self, extra: &str) -> Agent {
        Agent::launch(self, extra, Stdio::null())
    }

    /// Like [`Setup::start`], with the given standard output.
    pub fn start_with_stdout(&self, extra: &str, stdout: Stdio) -> Agent {
        Agent::launch(self, extra, stdout)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every window the file sink wrote.
pub fn read_windows(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A last line without its newline is a window still being written; it is read next time.
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    whole.lines().map(|l| serde_json::from_str(l).expect("each line is one JSON window")).collect()
}

/// Every `(series name, sorted tags, value)` across `windows`, in order.
pub fn series(windows: &[Value]) -> impl Iterator<Item = (String, Vec<String>, &Value)> {
    windows.iter().flat_map(|w| w["series"].as_array().unwrap()).map(|s| {
        let name = s["key"]["name"].as_str().unwrap().to_owned();
        let tags = s["key"]["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        (name, tags, &s["value"])
    })
}

/// Sum of a counter's window sums across `windows`.
pub fn counter_total(windows: &[Value], name: &str, tags: &[&str]) -> f64 {
    series(windows).filter(|(n, t, _)| n == name && t == tags).map(|(_, _, v)| v["sum"].as_f64().unwrap()).sum()
}

/// The last value a gauge had.
pub fn last_gauge(windows: &[Value], name: &str) -> Option<f64> {
    series(windows).filter(|(n, _, _)| n == name).last().map(|(_, _, v)| v["value"].as_f64().unwrap())
}

/// A minimal HTTP/1.0 GET: `(status, body)`, or `None` when nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}
