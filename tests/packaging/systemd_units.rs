//! The unit files in `systemd/` pass `systemd-analyze verify` and score well under
//! `systemd-analyze security`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The most exposure `systemd-analyze security` may report for the service (0 is best, 10
/// worst; "OK" ends at 3.9).
const MAX_EXPOSURE: f64 = 2.0;

fn units() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

fn systemd_analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze is installed (scripts/test installs the systemd package)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `systemd-analyze verify` is silent on both units, with `/usr/bin/sluice` pointed at the
/// built binary (verify needs every `Exec*=` binary to exist). It exits 0 even when it warns,
/// so any output is a failure.
#[test]
fn units_pass_systemd_analyze_verify_without_a_word() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sluice.service", "sluice.socket"] {
        let text = std::fs::read_to_string(units().join(name)).unwrap();
        std::fs::write(dir.path().join(name), text.replace("/usr/bin/sluice", env!("CARGO_BIN_EXE_sluice"))).unwrap();
    }
    let service = dir.path().join("sluice.service");
    let socket = dir.path().join("sluice.socket");
    let (ok, output) = systemd_analyze(&["verify", service.to_str().unwrap(), socket.to_str().unwrap()]);
    assert!(ok && output.trim().is_empty(), "systemd-analyze verify said:\n{output}");
}

/// The service's exposure level stays at or below [`MAX_EXPOSURE`].
#[test]
fn service_exposure_is_low() {
    let unit = units().join("sluice.service");
    let (_, output) = systemd_analyze(&["security", "--offline=true", unit.to_str().unwrap()]);
    let line = output.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("{output}"));
    let score: f64 = line.split(": ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(score <= MAX_EXPOSURE, "{line}");
}
