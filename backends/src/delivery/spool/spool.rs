//! One backend's spool: a directory of segment files, appended to and released in order.
//!
//! Synchronous file I/O: the queue runs it on a thread of its own, never on the runtime.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::codec::{self, Meta};
use super::segment::{self, Kind};
use crate::delivery::config::Fsync;

/// How far the sequence jumps after a torn or corrupt record: more windows than any lost tail
/// can hold (2²⁰ ten-second windows are four months).
const SEQ_GAP_AFTER_CORRUPTION: u64 = 1 << 20;

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
}

/// What [`Spool::open`] recovered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Windows not yet released, oldest first.
    pub pending: Vec<Pending>,
    /// Torn or corrupt records skipped (each counted once), and unreadable segment files.
    pub corrupt: u64,
    /// Bytes skipped with them.
    pub corrupt_bytes: u64,
}

#[derive(Debug)]
struct Segment {
    number: u64,
    path: PathBuf,
    bytes: u64,
    /// The highest window seq in the segment, if it holds any window.
    last_window: Option<u64>,
}

/// An open spool. Appends go to the newest segment; a segment is deleted once every window
/// in it is released and a newer one exists.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    id: u64,
    fsync: Fsync,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    active: File,
    next_seq: u64,
    released: u64,
    unsynced: bool,
    last_sync: Instant,
    buf: Vec<u8>,
    /// Held (locked) while the spool is open.
    _lock: File,
}

impl Spool {
    /// Opens (or creates) the spool in `dir` and recovers what it holds. Every open starts a
    /// fresh segment, so nothing is ever appended after a torn tail.
    pub fn open(dir: &Path, segment_bytes: u64, fsync: Fsync) -> io::Result<(Self, Recovered)> {
        std::fs::create_dir_all(dir)?;
        // Two agents appending to one spool would interleave and replay each other's windows.
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "the spool is locked: another sluice process, or the backend a reload is replacing, still holds it",
            )
        })?;
        let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path();
                let number = path.file_name()?.to_str()?.strip_suffix(".seg")?.parse().ok()?;
                Some((number, path))
            })
            .collect();
        numbered.sort();
        let mut recovered = Recovered::default();
        let mut id = None;
        let mut released = 0;
        let mut max_seq = 0;
        let mut segments = VecDeque::new();
        let mut windows: Vec<Pending> = Vec::new();
        for (number, path) in numbered {
            let bytes = std::fs::read(&path)?;
            let Some(file_id) = segment::parse_file_header(&bytes).filter(|i| id.is_none_or(|id| id == *i)) else {
                // Not a segment of this spool (or its header is torn): keep it for the operator.
                let mut aside = path.clone().into_os_string();
                aside.push(".corrupt");
                std::fs::rename(&path, &aside)?;
                recovered.corrupt += 1;
                recovered.corrupt_bytes += bytes.len() as u64;
                tracing::error!(path = %path.display(), "Spool segment unreadable; moved aside.");
                continue;
            };
            id = Some(file_id);
            let scan = segment::scan(&bytes);
            recovered.corrupt += scan.corrupt;
            recovered.corrupt_bytes += scan.corrupt_bytes;
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
                max_seq = max_seq.max(r.seq);
                match r.kind {
                    Kind::Release => released = released.max(r.seq),
                    Kind::Window => {
                        last_window = Some(r.seq);
                        let start = r.payload_offset as usize;
                        let payload = &bytes[start..start + r.payload_len as usize];
                        let Ok(meta) = codec::peek(payload) else {
                            recovered.corrupt += 1;
                            continue;
                        };
                        let location =
                            Location { seq: r.seq, path: path.clone(), offset: r.payload_offset, len: r.payload_len };
                        let bytes = (segment::RECORD_HEADER_LEN + payload.len()) as u64;
                        windows.push(Pending { location, meta, bytes });
                    }
                }
            }
            segments.push_back(Segment { number, path, bytes: bytes.len() as u64, last_window });
        }
        windows.retain(|w| w.location.seq > released);
        windows.sort_by_key(|w| w.location.seq);
        recovered.pending = windows;
        let id = id.unwrap_or_else(|| fastrand::u64(..));
        let number = segments.back().map_or(1, |s| s.number + 1);
        let (active, path) = create_segment(dir, number, id)?;
        segments.push_back(Segment { number, path, bytes: segment::FILE_HEADER_LEN as u64, last_window: None });
        let mut spool = Self {
            dir: dir.to_owned(),
            id,
            fsync,
            segment_bytes: segment_bytes.max(4096),
            segments,
            active,
            // A torn tail may have held windows a backend already saw (with fsync "never" or
            // an interval, a machine crash can lose records the agent had sent): never hand
            // their sequence numbers out again.
            next_seq: max_seq + 1 + if recovered.corrupt > 0 { SEQ_GAP_AFTER_CORRUPTION } else { 0 },
            released,
            unsynced: false,
            last_sync: Instant::now(),
            buf: Vec::new(),
            _lock: lock,
        };
        // The new segment starts with the release point, so it survives the old ones' deletion.
        spool.write(Kind::Release, released, &[])?;
        spool.sync()?;
        spool.delete_released()?;
        Ok((spool, recovered))
    }

    /// The spool's random id, written in every segment header.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The interval of the `fsync` interval policy, if it is the one in force.
    pub fn fsync_interval(&self) -> Option<std::time::Duration> {
        match self.fsync {
            Fsync::Interval(every) => Some(every),
            Fsync::EveryWindow | Fsync::Never => None,
        }
    }

    /// Bytes of every segment file.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Appends `window` (already in its binary form) as the next record; returns where it is
    /// and its size on disk. Synced as the fsync policy says.
    pub fn append(&mut self, encoded: &[u8]) -> io::Result<(Location, u64)> {
        if self.segments.back().is_some_and(|s| s.bytes >= self.segment_bytes) {
            self.rotate()?;
        }
        let seq = self.next_seq;
        let offset = self.segments.back().map_or(0, |s| s.bytes) + segment::RECORD_HEADER_LEN as u64;
        self.write(Kind::Window, seq, encoded)?;
        self.next_seq += 1;
        let active = self.segments.back_mut().expect("the active segment");
        active.last_window = Some(seq);
        let location = Location { seq, path: active.path.clone(), offset, len: encoded.len() as u32 };
        self.maybe_sync(true)?;
        Ok((location, (segment::RECORD_HEADER_LEN + encoded.len()) as u64))
    }

    /// Records that every window up to and including `seq` is done, and deletes the segments
    /// that hold nothing else.
    pub fn release_through(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.released {
            return Ok(());
        }
        self.released = seq;
        self.write(Kind::Release, seq, &[])?;
        self.maybe_sync(true)?;
        self.delete_released()
    }

    /// Flushes written records to the disk (for the interval policy, and at shutdown).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.active.sync_data()?;
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs when the interval policy's time has come; for the timer of the spool's thread.
    pub fn tick(&mut self) -> io::Result<()> {
        self.maybe_sync(false)
    }

    fn maybe_sync(&mut self, wrote: bool) -> io::Result<()> {
        let due = match self.fsync {
            Fsync::EveryWindow => wrote,
            Fsync::Never => false,
            Fsync::Interval(every) => self.last_sync.elapsed() >= every,
        };
        if due { self.sync() } else { Ok(()) }
    }

    fn write(&mut self, kind: Kind, seq: u64, payload: &[u8]) -> io::Result<()> {
        self.buf.clear();
        segment::encode_record(kind, seq, payload, &mut self.buf);
        let active = self.segments.back_mut().expect("the active segment");
        // One write at the end; a failure part-way leaves a torn tail that recovery skips.
        self.active.write_all_at(&self.buf, active.bytes)?;
        active.bytes += self.buf.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        let number = self.segments.back().map_or(1, |s| s.number + 1);
        let (file, path) = create_segment(&self.dir, number, self.id)?;
        self.active = file;
        self.segments.push_back(Segment { number, path, bytes: segment::FILE_HEADER_LEN as u64, last_window: None });
        self.write(Kind::Release, self.released, &[])?;
        self.delete_released()
    }

    fn delete_released(&mut self) -> io::Result<()> {
        let mut deleted = false;
        while self.segments.len() > 1
            && self.segments.front().is_some_and(|s| s.last_window.is_none_or(|w| w <= self.released))
        {
            let old = self.segments.pop_front().expect("checked");
            std::fs::remove_file(&old.path)?;
            deleted = true;
        }
        if deleted && self.fsync != Fsync::Never {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Reads one window's payload back from its segment.
pub fn read_payload(location: &Location) -> io::Result<Vec<u8>> {
    let file = File::open(&location.path)?;
    let mut buf = vec![0; location.len as usize];
    file.read_exact_at(&mut buf, location.offset)?;
    Ok(buf)
}

fn create_segment(dir: &Path, number: u64, id: u64) -> io::Result<(File, PathBuf)> {
    let path = dir.join(format!("{number:020}.seg"));
    let mut file = OpenOptions::new().create_new(true).read(true).write(true).open(&path)?;
    file.write_all(&segment::file_header(id))?;
    file.sync_data()?;
    sync_dir(dir)?;
    Ok((file, path))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
