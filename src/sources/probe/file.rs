//! `type = "file"`: the file exists, is no older than `max_age` and no smaller than
//! `min_size`, and its file system has `min_free` bytes free for unprivileged users.

use std::time::SystemTime;

use super::Outcome;
use crate::config::FileProbe;
use crate::sources::host::statvfs;

/// Checks the file; blocking (a `stat` on a hung network mount), so the caller runs it off the
/// async workers.
pub fn check(probe: &FileProbe) -> Outcome {
    let path = &probe.path;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Outcome::fail(format!("{}: {e}", path.display()), Vec::new()),
    };
    let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
    let mut gauges = vec![("probe.file.age_seconds", age.as_secs_f64()), ("probe.file.size_bytes", meta.len() as f64)];
    let free = statvfs(path).map(|u| u.available);
    if let Ok(free) = free {
        gauges.push(("probe.file.free_bytes", free as f64));
    }
    if let Some(max) = probe.max_age
        && age > max.0
    {
        return Outcome::fail(format!("{} is {}s old, more than {max}", path.display(), age.as_secs()), gauges);
    }
    if let Some(min) = probe.min_size
        && meta.len() < min.0
    {
        return Outcome::fail(format!("{} has {} bytes, fewer than {}", path.display(), meta.len(), min.0), gauges);
    }
    if let Some(min) = probe.min_free {
        match free {
            Ok(free) if free < min.0 => {
                return Outcome::fail(
                    format!("the file system of {} has {free} bytes free, fewer than {}", path.display(), min.0),
                    gauges,
                );
            }
            Ok(_) => {}
            Err(e) => return Outcome::fail(format!("cannot read the free space of {}: {e}", path.display()), gauges),
        }
    }
    Outcome::pass(gauges)
}
