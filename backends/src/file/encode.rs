//! The file backend's forms of a window. JSON: its serde form as one line (the agent's `/tap`
//! endpoint streams the same lines, so both read alike). Prometheus: a comment line naming the
//! window, then the text exposition of the whole state after it.

use crate::model::Window;
use crate::prometheus::{Families, HELP, text_with_help};
use crate::units::iso8601;

/// `window` as one line of JSON, newline included.
pub fn json_line(window: &Window) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(window)?;
    line.push(b'\n');
    Ok(line)
}

/// The exposition written for `window`: `# sluice window <id> <start> <end>` (a comment to a
/// Prometheus parser), then `families` in the text format with a `# HELP` per family.
pub(crate) fn exposition(window: &Window, families: &Families) -> Vec<u8> {
    let mut text = format!("# sluice window {} {} {}\n", window.id, iso8601(window.start_ms), iso8601(window.end_ms));
    text.push_str(&text_with_help(families, HELP));
    text.into_bytes()
}
