//! The command line: `--version`, `validate`, `send`.

use crate::common;

use std::process::Command;

use common::{Agent, counter_total};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

/// `sluice --version` prints the crate version.
#[test]
fn version_prints_the_package_version() {
    let out = sluice().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("sluice {}", env!("CARGO_PKG_VERSION")));
}

/// `sluice validate` accepts a valid file and exits 0.
#[test]
fn validate_accepts_a_valid_config() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml");
    let out = sluice().args(["validate", "--config", path]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `sluice validate` refuses a typo, naming the key, its line and the closest valid key.
#[test]
fn validate_names_the_unknown_key_its_line_and_the_closest_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "[agent]\nflush_interval = \"10s\"\nmax_seris = 10\n[sinks.out]\ntype = \"console\"\n")
        .unwrap();
    let out = sluice().args(["validate", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("max_seris"), "{err}");
    assert!(err.contains(":3"), "names line 3: {err}");
    assert!(err.contains("max_series"), "suggests the closest key: {err}");
}

/// `sluice send` delivers its lines to a running agent.
#[test]
fn send_delivers_lines_to_a_running_agent() {
    let agent = Agent::start("");
    let out = sluice().args(["send", "--udp", &agent.udp.to_string(), "sent:2|c", "sent:3|c|#a:b"]).output().unwrap();
    assert!(out.status.success());
    agent.wait_metric(&format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp), 2.0);
    let (_, windows) = agent.stop();
    assert_eq!(counter_total(&windows, "sent", &[]), 2.0);
    assert_eq!(counter_total(&windows, "sent", &["a:b"]), 3.0);
}
