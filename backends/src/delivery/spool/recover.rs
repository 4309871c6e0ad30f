//! Reading a spool back at open: every segment scanned, windows not yet released collected
//! in order with their batch progress, and unreadable files moved aside and counted. Also
//! the types of what is found: where a window's record is, and the segments.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use super::codec::{self, Meta};
use super::segment::{self, Kind, Progress, Record};

/// Where a spooled window's record lives, and its durable sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The spool's sequence number of the window: durable and increasing across restarts.
    pub seq: u64,
    /// The segment file holding it.
    pub path: PathBuf,
    /// Offset of the payload in that file.
    pub offset: u64,
    /// Length of the payload.
    pub len: u32,
}

/// A window found in the spool when it was opened, not yet released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Where it is.
    pub location: Location,
    /// What the queue needs to know of it.
    pub meta: Meta,
    /// Bytes it takes in its segment, header included.
    pub bytes: u64,
    /// How far its delivery got before the agent stopped.
    pub progress: Progress,
}

/// What opening a spool recovered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Windows not yet released, oldest first.
    pub pending: Vec<Pending>,
    /// Torn or corrupt records skipped (each counted once), and unreadable segment files.
    pub corrupt: u64,
    /// Bytes skipped with them.
    pub corrupt_bytes: u64,
}

/// One segment file of the spool.
#[derive(Debug)]
pub struct Segment {
    /// Its number, in its name.
    pub number: u64,
    /// Its path.
    pub path: PathBuf,
    /// Its length.
    pub bytes: u64,
    /// The highest window seq in the segment, if it holds any window.
    pub last_window: Option<u64>,
}

/// What the segment files of a spool directory hold.
#[derive(Debug, Default)]
pub struct Found {
    /// The spool's id, from the segment headers; `None` when there is no segment.
    pub id: Option<u64>,
    /// The release point: every window up to it is done.
    pub released: u64,
    /// The highest sequence number of any good record.
    pub max_seq: u64,
    /// The segments, oldest first.
    pub segments: VecDeque<Segment>,
    /// Windows after the release point, and what was skipped.
    pub recovered: Recovered,
}

/// Scans every segment of `dir` in order.
pub fn read(dir: &Path) -> io::Result<Found> {
    let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let number = path.file_name()?.to_str()?.strip_suffix(".seg")?.parse().ok()?;
            Some((number, path))
        })
        .collect();
    numbered.sort();
    let mut found = Found::default();
    let mut windows = Vec::new();
    let mut progress = HashMap::new();
    for (number, path) in numbered {
        let bytes = std::fs::read(&path)?;
        let Some(file_id) = segment::parse_file_header(&bytes).filter(|i| found.id.is_none_or(|id| id == *i)) else {
            // Not a segment of this spool (or its header is torn): keep it for the operator.
            let mut aside = path.clone().into_os_string();
            aside.push(".corrupt");
            std::fs::rename(&path, &aside)?;
            found.recovered.corrupt += 1;
            found.recovered.corrupt_bytes += bytes.len() as u64;
            tracing::error!(path = %path.display(), "Spool segment unreadable; moved aside.");
            continue;
        };
        found.id = Some(file_id);
        let scan = segment::scan(&bytes);
        found.recovered.corrupt += scan.corrupt;
        found.recovered.corrupt_bytes += scan.corrupt_bytes;
        if scan.corrupt > 0 {
            tracing::error!(
                path = %path.display(),
                records = scan.corrupt,
                bytes = scan.corrupt_bytes,
                "Spool segment has torn or corrupt records; skipped them."
            );
        }
        let mut last_window = None;
        for r in scan.records {
            found.max_seq = found.max_seq.max(r.seq);
            let payload = &bytes[r.payload_offset as usize..][..r.payload_len as usize];
            match r.kind {
                Kind::Release => found.released = found.released.max(r.seq),
                Kind::Progress => {
                    let done = Progress::from_bytes(payload).unwrap_or_default();
                    let entry: &mut Progress = progress.entry(r.seq).or_default();
                    if done.batches > entry.batches {
                        *entry = done;
                    }
                }
                Kind::Window => {
                    last_window = Some(r.seq);
                    match window(&r, payload, &path) {
                        Some(pending) => windows.push(pending),
                        None => found.recovered.corrupt += 1,
                    }
                }
            }
        }
        found.segments.push_back(Segment { number, path, bytes: bytes.len() as u64, last_window });
    }
    windows.retain(|w: &Pending| w.location.seq > found.released);
    windows.sort_by_key(|w| w.location.seq);
    for w in &mut windows {
        w.progress = progress.get(&w.location.seq).copied().unwrap_or_default();
    }
    found.recovered.pending = windows;
    Ok(found)
}

/// The pending window a good `Window` record holds, or `None` when its payload is not a
/// window this build can read.
fn window(record: &Record, payload: &[u8], path: &Path) -> Option<Pending> {
    let meta = codec::peek(payload).ok()?;
    let location =
        Location { seq: record.seq, path: path.to_owned(), offset: record.payload_offset, len: record.payload_len };
    let bytes = (segment::RECORD_HEADER_LEN + payload.len()) as u64;
    Some(Pending { location, meta, bytes, progress: Progress::default() })
}
