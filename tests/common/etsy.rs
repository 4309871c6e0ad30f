//! A real Etsy StatsD 0.9 for tests: started from `.test-servers/node_modules/statsd` (installed
//! by `scripts/test`), with a flush backend written into a temporary directory that appends
//! every flush as one JSON line. It reads lines over UDP and TCP (`servers/udp` and
//! `servers/tcp`) on the same port. A missing server fails the test; it never skips.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Etsy flushes this often; short, so tests wait little.
pub const FLUSH_INTERVAL_MS: u64 = 200;

/// The flush backend: one JSON line per flush with the counters, gauges, timers and sets
/// (Etsy's own `statsd.*` counters left out). Listeners run in registration order, so this
/// one sees each flush before Etsy clears its counters, timers and sets.
///
/// SIGTERM becomes a graceful stop: Node's default for the signal exits without running
/// `exit` handlers, so Etsy's own last flush (its `exit` handler) would never run and what it
/// aggregated since its previous flush would be lost — a loss no sender can prevent, which
/// would make a test of the sender's exactness across an outage meaningless. With
/// `process.exit` the `exit` handlers run: Etsy flushes once more, this backend writes that
/// flush synchronously, and the process exits.
const JSON_BACKEND: &str = r"
const fs = require('fs');
process.on('SIGTERM', function () { process.exit(0); });
exports.init = function (startupTime, config, events) {
  const own = (k) => k.startsWith('statsd.');
  events.on('flush', function (ts, m) {
    const counters = {}, gauges = {}, timers = {}, sets = {};
    for (const k in m.counters) if (!own(k)) counters[k] = m.counters[k];
    for (const k in m.gauges) if (!own(k)) gauges[k] = m.gauges[k];
    for (const k in m.timer_data) {
      const d = m.timer_data[k];
      timers[k] = { count: d.count, sum: d.sum, lower: d.lower, upper: d.upper, values: m.timers[k] };
    }
    for (const k in m.sets) sets[k] = m.sets[k].values();
    fs.appendFileSync(config.jsonOut, JSON.stringify({ ts, counters, gauges, timers, sets }) + '\n');
  });
  return true;
};
";

/// A running Etsy StatsD.
pub struct Etsy {
    /// The address it reads metrics on, over UDP and over TCP.
    pub addr: std::net::SocketAddr,
    mgmt_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Everything Etsy flushed, added up across flushes.
#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    /// Counter sums.
    pub counters: BTreeMap<String, f64>,
    /// Last value of each gauge.
    pub gauges: BTreeMap<String, f64>,
    /// Timer counts (Etsy's `Σ 1 / rate`).
    pub timer_counts: BTreeMap<String, f64>,
    /// Timer sums (Etsy's unweighted sum of the values received).
    pub timer_sums: BTreeMap<String, f64>,
    /// Smallest and largest timer value.
    pub timer_bounds: BTreeMap<String, (f64, f64)>,
    /// Distinct members of each set over all flushes.
    pub sets: BTreeMap<String, BTreeSet<String>>,
}

/// Under the workspace root, whichever crate's tests include this file.
fn package_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().find(|dir| dir.join("Cargo.lock").exists()).unwrap_or(manifest);
    root.join(".test-servers/node_modules/statsd")
}

fn js_string(path: &Path) -> String {
    serde_json::to_string(path.to_str().expect("temporary paths are UTF-8")).unwrap()
}

fn free_port() -> u16 {
    // A port free for both UDP and TCP at the time of asking.
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Etsy {
    /// Starts Etsy StatsD on free loopback ports and waits until its admin port says
    /// `health: up`. Panics when the server is not installed.
    pub fn start() -> Self {
        let package = package_dir();
        assert!(
            package.join("stats.js").is_file(),
            "Etsy StatsD is missing at {}: run `npm install --omit=optional --prefix .test-servers statsd@0.9.0`",
            package.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let backend = dir.path().join("json-backend.js");
        std::fs::write(&backend, JSON_BACKEND).unwrap();
        let (port, mgmt_port) = (free_port(), free_port());
        let config = format!(
            "{{ port: {port}, address: \"127.0.0.1\", mgmt_port: {mgmt_port}, mgmt_address: \"127.0.0.1\", \
             flushInterval: {FLUSH_INTERVAL_MS}, deleteIdleStats: true, backends: [{backend}], \
             servers: [{{ server: \"./servers/udp\", address: \"127.0.0.1\", port: {port} }}, \
             {{ server: \"./servers/tcp\", address: \"127.0.0.1\", port: {port} }}], \
             jsonOut: {out} }}\n",
            // JSON strings are JavaScript string literals.
            backend = js_string(&backend),
            out = js_string(&dir.path().join("flushes.jsonl")),
        );
        std::fs::write(dir.path().join("config.js"), config).unwrap();
        let mut etsy = Self { addr: ([127, 0, 0, 1], port).into(), mgmt_port, dir, child: None };
        etsy.restart();
        etsy
    }

    /// Starts the server again on the same ports (after [`Etsy::stop`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "Etsy StatsD is running already");
        let child = Command::new("node")
            .arg("stats.js")
            .arg(self.dir.path().join("config.js"))
            .current_dir(package_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed to run Etsy StatsD");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.health().as_deref() == Some("health: up") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Etsy StatsD did not answer `health: up` on 127.0.0.1:{}", self.mgmt_port);
    }

    fn health(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.mgmt_port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        stream.write_all(b"health\n").ok()?;
        let mut buf = [0; 64];
        let n = stream.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
    }

    /// Stops the server by its PID (SIGTERM) and waits for it to exit: a graceful stop, in
    /// which Etsy flushes what it aggregated since its last flush (see [`JSON_BACKEND`]).
    /// Lines still unread in its sockets' buffers are lost, as with any StatsD that stops.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = i32::try_from(child.id()).unwrap();
            // SAFETY: `pid` is our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            child.wait().unwrap();
        }
    }

    /// Pauses the server (SIGSTOP): it neither reads nor flushes until [`Etsy::resume`], and
    /// its sockets stay open.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("Etsy StatsD is running");
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: `pid` is our own child, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Every flush so far, oldest first. Only whole lines count: the backend appends each flush
    /// while the test may be reading, so a last line without its newline is a flush still
    /// being written, read again next time.
    pub fn flushes(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("flushes.jsonl")).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The totals of every flush so far.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for flush in self.flushes() {
            for (k, v) in flush["counters"].as_object().unwrap() {
                *t.counters.entry(k.clone()).or_default() += v.as_f64().unwrap();
            }
            for (k, v) in flush["gauges"].as_object().unwrap() {
                t.gauges.insert(k.clone(), v.as_f64().unwrap());
            }
            for (k, v) in flush["timers"].as_object().unwrap() {
                *t.timer_counts.entry(k.clone()).or_default() += v["count"].as_f64().unwrap();
                *t.timer_sums.entry(k.clone()).or_default() += v["sum"].as_f64().unwrap();
                let (lower, upper) = (v["lower"].as_f64().unwrap(), v["upper"].as_f64().unwrap());
                let bounds = t.timer_bounds.entry(k.clone()).or_insert((lower, upper));
                *bounds = (bounds.0.min(lower), bounds.1.max(upper));
            }
            for (k, v) in flush["sets"].as_object().unwrap() {
                let members = v.as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned());
                t.sets.entry(k.clone()).or_default().extend(members);
            }
        }
        t
    }

    /// Waits until `done` holds for the totals and one more flush has passed (so nothing
    /// arrives late), or `timeout` passes; returns the totals either way.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Totals) -> bool) -> Totals {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !done(&self.totals()) {
            std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS / 2));
        }
        std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS * 3));
        self.totals()
    }
}

impl Drop for Etsy {
    fn drop(&mut self) {
        self.stop();
    }
}
