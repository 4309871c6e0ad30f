//! The file backend's form of a window: its serde form as one JSON line. The agent's `/tap`
//! endpoint streams the same lines, so both read alike.

use crate::model::Window;

/// `window` as one line of JSON, newline included.
pub fn json_line(window: &Window) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(window)?;
    line.push(b'\n');
    Ok(line)
}
