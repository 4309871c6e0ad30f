//! The Debian package: built from the workspace by `scripts/deb`, it holds the binary, the
//! units, the sysusers and tmpfiles snippets and the config as a conffile; installed, its
//! config validates.

use std::path::Path;
use std::process::Command;

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{command:?} failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// The package lists every file it must install, marks the config as a conffile, and —
/// where the test may install packages (as root) — installs with `dpkg -i` and validates the
/// installed config with the installed binary.
#[test]
fn deb_installs_binary_units_and_a_valid_conffile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let deb = run(Command::new(root.join("scripts/deb"))
        .args(["--binary", env!("CARGO_BIN_EXE_sluice"), "--out"])
        .arg(out.path()));
    let deb = deb.trim();

    let contents = run(Command::new("dpkg-deb").args(["-c", deb]));
    for path in [
        "./usr/bin/sluice",
        "./lib/systemd/system/sluice.service",
        "./lib/systemd/system/sluice.socket",
        "./usr/lib/sysusers.d/sluice.conf",
        "./usr/lib/tmpfiles.d/sluice.conf",
        "./etc/sluice/sluice.toml",
    ] {
        assert!(contents.lines().any(|l| l.ends_with(&format!(" {path}"))), "{path} missing from:\n{contents}");
    }
    let info = run(Command::new("dpkg-deb").args(["-I", deb]));
    assert!(info.lines().any(|l| l.trim_start().starts_with("Package: sluice")), "{info}");
    let conffiles = run(Command::new("dpkg-deb").args(["-I", deb, "conffiles"]));
    assert_eq!(conffiles.trim(), "/etc/sluice/sluice.toml");

    // SAFETY: geteuid has no memory effects.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("Not root: the package was built and inspected but not installed.");
        return;
    }
    run(Command::new("dpkg").args(["-i", deb]));
    let validated = run(Command::new("/usr/bin/sluice").args(["validate", "--config", "/etc/sluice/sluice.toml"]));
    assert_eq!(validated.trim(), "/etc/sluice/sluice.toml: valid");
    let installed = std::fs::read_to_string("/etc/sluice/sluice.toml").unwrap();
    assert!(
        installed.contains("\nunix = [\"/run/sluice/statsd.sock\"]\n"),
        "the packaged config reads sluice.socket's socket"
    );
    run(Command::new("getent").args(["passwd", "sluice"]));
    // Leave the machine as it was: nothing else expects sluice in /usr/bin or /etc.
    run(Command::new("dpkg").args(["--purge", "sluice"]));
    assert!(!Path::new("/usr/bin/sluice").exists());
}
