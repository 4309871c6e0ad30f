//! The live status page in a real browser (Debian's Chromium, headless): the numbers it shows
//! are `/status`'s, a backend that starts failing shows so within one refresh, the top series
//! come from the tap, an agent that stops shows as unreachable, and with `[api.auth]` the page
//! asks for the token.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::common;

use common::browser::Browser;
use common::capture::{Capture, Mode};
use common::{Agent, Setup};

/// The page refreshes this often (`REFRESH_MS` in the page's script).
const REFRESH: Duration = Duration::from_secs(2);

/// Sends `datagrams` datagrams of 50 lines over 200 names: a third timers, the rest counters.
fn traffic(agent: &Agent, datagrams: usize) -> f64 {
    let mut texts = Vec::new();
    for d in 0..datagrams {
        let mut text = String::new();
        for l in 0..50 {
            let i = d * 50 + l;
            let name = i % 200;
            let kind = if name % 3 == 0 { "ms" } else { "c" };
            writeln!(text, "page.series{name}:{}|{kind}", i % 97).unwrap();
        }
        texts.push(text);
    }
    agent.send_udp(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    (datagrams * 50) as f64
}

fn status(agent: &Agent) -> Value {
    serde_json::from_str(&agent.get("/status").1).unwrap()
}

/// With traffic stopped, the page shows each listener's lines and bytes exactly as `/status`
/// does, the live series and flushes between two readings of `/status`, and every backend's
/// state and sent series; when the backend starts failing, the page says so within one
/// refresh of `/status` saying so; the top series appear; once the agent stops, the page shows
/// it unreachable within one refresh. A screenshot is kept in the test's output directory.
#[test]
fn the_status_page_shows_what_status_says_and_a_failing_backend_within_a_refresh() {
    let capture = Capture::start(Mode::Store);
    let sink = format!(
        "[sinks.influx]\ntype = \"influxdb\"\nurl = \"{}\"\ndatabase = \"page\"\n\
         [sinks.influx.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"200ms\"\n",
        capture.url()
    );
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&sink);
    let lines = traffic(&agent, 400);
    agent.send_udp(&["not a metric", "page.bad:x|c"]);
    agent.wait_lines(lines + 2.0);
    agent.wait_metric("sluice_backend_sent_series_total{backend=\"influx\"}", 200.0);

    let mut browser = Browser::start();
    let opened = browser.run(&format!("open http://{}/", agent.api));
    assert_eq!(opened["ok"], true, "{opened}");
    let before = status(&agent);
    let shown = browser.run("snapshot");
    let after = status(&agent);
    assert_eq!(shown["ok"], true, "{shown}");
    let shown = &shown["shown"];
    let udp = format!("udp:{}", agent.udp);
    let listener = before["listeners"].as_array().unwrap().iter().find(|l| l["listener"] == udp.as_str()).unwrap();
    for field in ["lines", "bytes", "truncated", "kernel_drops"] {
        assert_eq!(shown["listeners"][&udp][field], listener[field], "{field}: {shown}");
    }
    assert_eq!(shown["listeners"][&udp]["lines"], lines + 2.0);
    for field in ["series", "flushes"] {
        let (low, high) = (before[field].as_f64().unwrap(), after[field].as_f64().unwrap());
        let on_page = shown[field].as_f64().unwrap();
        assert!((low.min(high)..=low.max(high)).contains(&on_page), "{field}: {on_page} not in {low}..{high}");
    }
    assert_eq!(shown["parse_errors"].as_object().unwrap().values().filter_map(Value::as_f64).sum::<f64>(), 2.0);
    let backend = &shown["backends"]["influx"];
    assert_eq!(backend["state"], "healthy", "{shown}");
    let sent_then = |s: &Value| {
        let backends = s["backends"].as_array().unwrap();
        backends.iter().find(|b| b["name"] == "influx").unwrap()["sent_series"].as_f64().unwrap()
    };
    let sent = backend["sent_series"].as_f64().unwrap();
    assert!((sent_then(&before)..=sent_then(&after)).contains(&sent), "{sent}: {shown}");
    // Live traffic from here on, so windows carry series for the tap and the failing sink.
    let sending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sender = {
        let (sending, udp) = (std::sync::Arc::clone(&sending), agent.udp);
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            while sending.load(std::sync::atomic::Ordering::Relaxed) {
                for i in 0..20 {
                    socket.send_to(format!("page.live{i}:1|c\n").as_bytes(), udp).unwrap();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let top = browser.run("wait-top 5000");
    assert_eq!(top["ok"], true, "{top}");
    assert!(top["shown"]["top"][0].as_str().unwrap().starts_with("page.live"), "{top}");

    capture.set_mode(Mode::Fail(500));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while agent.backend_status("influx")["state"] != "failing" {
        assert!(std::time::Instant::now() < deadline, "the backend never failed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let failing = browser.run(&format!("wait-backend influx failing {}", REFRESH.as_millis() + 500));
    assert_eq!(failing["ok"], true, "the page did not show the failure within a refresh: {failing}");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    browser.run(&format!("screenshot {}", shot.display()));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot of the page at {}", shot.display());
    eprintln!("status page screenshot: {}", shot.display());

    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    sender.join().unwrap();
    drop(agent.stop());
    let gone = browser.run(&format!("wait-connection unreachable {}", REFRESH.as_millis() + 1000));
    assert_eq!(gone["ok"], true, "{gone}");
}

/// With `[api.auth]` on, the page loads without a token, asks for one, and after it is given
/// shows the agent's numbers (it sends the token with every request).
#[test]
fn with_auth_on_the_page_asks_for_the_token_and_then_shows_the_agent() {
    const TOKEN: &str = "page-token-5c1e8a9f27d3b046";
    let agent = Setup { env: &[("SLUICE_API_TOKEN", TOKEN)], ..Setup::default() }
        .start("[api.auth]\ntokens = [\"${SLUICE_API_TOKEN}\"]\n");
    let mut browser = Browser::start();
    let opened = browser.run(&format!("open http://{}/", agent.api));
    assert_eq!(opened["shown"]["login"], true, "{opened}");
    let shown = browser.run(&format!("login {TOKEN}"));
    assert_eq!(shown["ok"], true, "{shown}");
    assert!(shown["shown"]["listeners"].get(format!("udp:{}", agent.udp)).is_some(), "{shown}");
    assert_eq!(shown["shown"]["connection"], "live");
}
