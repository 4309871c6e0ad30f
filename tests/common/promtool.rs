//! `promtool check metrics` (Debian package `prometheus`): the Prometheus project's own lint
//! of the text exposition format.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `promtool check metrics` on `exposition`: `Ok` when it finds nothing to complain
/// about, else what it said (a parse error exits 1, lint problems 3).
pub fn check_metrics(exposition: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start promtool (install the Debian package prometheus): {e}"));
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() && said.trim().is_empty() { Ok(()) } else { Err(format!("{}: {said}", output.status)) }
}

/// Runs `promtool check rules` on the rule file `rules` (YAML): `Ok` when every rule's
/// expression parses, else what it said.
pub fn check_rules(rules: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, rules).unwrap();
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot start promtool (install the Debian package prometheus): {e}"));
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(()) } else { Err(format!("{}: {said}", output.status)) }
}
