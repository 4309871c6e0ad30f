//! Debian's Chromium, headless, driven by `playwright-core` (from npm, under
//! `.test-servers/browser`, installed by `scripts/test`) through `tests/status_page.js`: the
//! test sends it one command per line and reads one JSON answer per line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

/// The workspace root, whichever crate's tests include this file.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().find(|dir| dir.join("Cargo.lock").exists()).unwrap_or(manifest).to_owned()
}

/// A running page driver.
pub struct Browser {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Browser {
    /// Starts the driver; panics with what to install when Chromium or playwright-core is
    /// missing.
    pub fn start() -> Self {
        let modules = root().join(".test-servers/browser");
        assert!(
            modules.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
            "the browser is missing: run scripts/test (it installs Debian's chromium and playwright-core from npm)"
        );
        let mut child = Command::new("node")
            .arg(root().join("tests/status_page.js"))
            .arg(&modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self { child, input, output }
    }

    /// Sends `command` and returns its answer; panics when the driver failed.
    pub fn run(&mut self, command: &str) -> Value {
        writeln!(self.input, "{command}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(answer.get("error").is_none(), "{command}: {answer}");
        answer
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.child.wait();
    }
}
