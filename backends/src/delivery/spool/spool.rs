//! One backend's spool: a directory of segment files, appended to and released in order.
//!
//! Synchronous file I/O: the queue runs it on a thread of its own, never on the runtime.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::recover::{self, Found, Location, Recovered, Segment};
use super::segment::{self, Kind, Progress};
use crate::delivery::config::Fsync;

/// How far the sequence jumps after a torn or corrupt record: more windows than any lost tail
/// can hold (2²⁰ ten-second windows are four months).
const SEQ_GAP_AFTER_CORRUPTION: u64 = 1 << 20;

/// The file a spool keeps on its disk as room to recover from a full disk.
const RESERVE: &str = "reserve";
/// Its size: room for a new segment and its first record, with blocks to spare.
const RESERVE_BYTES: u64 = 64 << 10;

/// A window [`Spool::append`] wrote.
#[derive(Debug)]
pub struct Appended {
    /// Where it is.
    pub location: Location,
    /// Bytes it takes in its segment, header included.
    pub bytes: u64,
    /// The sync the fsync policy asked for after it failed: the record is written but may
    /// not survive a machine crash, and the disk is suspect.
    pub sync_error: Option<io::Error>,
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
    /// A write failed (a full disk) since the last rotation: rotate as soon as a whole
    /// segment is released, to delete it and give its room back.
    broken: bool,
    /// `released` moved on but its record could not be written yet.
    release_unwritten: bool,
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
        let Found { id, released, max_seq, mut segments, recovered } = recover::read(dir)?;
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
            broken: false,
            release_unwritten: false,
            last_sync: Instant::now(),
            buf: Vec::new(),
            _lock: lock,
        };
        // The new segment starts with the release point, so it survives the old ones' deletion.
        spool.write(Kind::Release, released, &[])?;
        spool.sync()?;
        spool.delete_released()?;
        if let Err(e) = make_reserve(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot write the spool's reserve file.");
        }
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

    /// Appends `window` (already in its binary form) as the next record. An error means the
    /// window is not in the spool; a record written whose sync failed is in it, and says so.
    pub fn append(&mut self, encoded: &[u8]) -> io::Result<Appended> {
        self.write_pending_release()?;
        if self.segments.back().is_some_and(|s| s.bytes >= self.segment_bytes) {
            self.rotate()?;
        }
        let seq = self.next_seq;
        let offset = self.write(Kind::Window, seq, encoded)?;
        self.next_seq += 1;
        let active = self.segments.back_mut().expect("the active segment");
        active.last_window = Some(seq);
        let location = Location { seq, path: active.path.clone(), offset, len: encoded.len() as u32 };
        let bytes = (segment::RECORD_HEADER_LEN + encoded.len()) as u64;
        Ok(Appended { location, bytes, sync_error: self.maybe_sync(true).err() })
    }

    /// Records that every window up to and including `seq` is done, and deletes the segments
    /// that hold nothing else. A release that cannot be written is tried again before the
    /// next append and at the next sync.
    pub fn release_through(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.released {
            return Ok(());
        }
        self.released = seq;
        self.release_unwritten = true;
        self.write_pending_release()?;
        self.maybe_sync(true)?;
        self.delete_released()
    }

    /// Records how far the delivery of window `seq` got, so that after a crash its replay
    /// resumes after the batches acknowledged. Synced as the fsync policy says.
    pub fn progress(&mut self, seq: u64, progress: Progress) -> io::Result<()> {
        self.write_pending_release()?;
        self.write(Kind::Progress, seq, &progress.to_bytes())?;
        self.maybe_sync(true)
    }

    /// Flushes written records to the disk (for the interval policy, and at shutdown).
    pub fn sync(&mut self) -> io::Result<()> {
        self.write_pending_release()?;
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

    fn write_pending_release(&mut self) -> io::Result<()> {
        if self.release_unwritten {
            self.write(Kind::Release, self.released, &[])?;
            self.release_unwritten = false;
        }
        Ok(())
    }

    fn maybe_sync(&mut self, wrote: bool) -> io::Result<()> {
        let due = match self.fsync {
            Fsync::EveryWindow => wrote,
            Fsync::Never => false,
            Fsync::Interval(every) => self.last_sync.elapsed() >= every,
        };
        if due { self.sync() } else { Ok(()) }
    }

    /// Writes one record at the end of the active segment; returns its payload's offset.
    fn write(&mut self, kind: Kind, seq: u64, payload: &[u8]) -> io::Result<u64> {
        if self.broken && self.segments.front().is_some_and(|s| self.is_released(s)) {
            // After a failed write (a full disk), and once a whole segment is released:
            // rotating is what lets it be deleted, and gives its room back.
            self.rotate()?;
        }
        self.buf.clear();
        segment::encode_record(kind, seq, payload, &mut self.buf);
        let active = self.segments.back_mut().expect("the active segment");
        // One write at the end of the segment.
        if let Err(e) = self.active.write_all_at(&self.buf, active.bytes) {
            // Cut what part of it reached the file; if that fails too, recovery skips it.
            let _ = self.active.set_len(active.bytes);
            self.broken = true;
            return Err(e);
        }
        let offset = active.bytes + segment::RECORD_HEADER_LEN as u64;
        active.bytes += self.buf.len() as u64;
        self.unsynced = true;
        Ok(offset)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.active.sync_data()?;
            self.unsynced = false;
        }
        let recovering = self.broken;
        if recovering {
            // A full disk: the reserve makes room for the new segment, whose release record
            // lets the released segments (often what filled the disk) be deleted.
            let _ = std::fs::remove_file(self.dir.join(RESERVE));
        }
        let number = self.segments.back().map_or(1, |s| s.number + 1);
        let (file, path) = create_segment(&self.dir, number, self.id)?;
        self.active = file;
        self.broken = false;
        self.segments.push_back(Segment { number, path, bytes: segment::FILE_HEADER_LEN as u64, last_window: None });
        self.write(Kind::Release, self.released, &[])?;
        self.release_unwritten = false;
        self.delete_released()?;
        if recovering && let Err(e) = make_reserve(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "No room for the spool's reserve yet.");
        }
        Ok(())
    }

    /// True when every window in `segment` is released.
    fn is_released(&self, segment: &Segment) -> bool {
        segment.last_window.is_none_or(|w| w <= self.released)
    }

    fn delete_released(&mut self) -> io::Result<()> {
        let mut deleted = false;
        while self.segments.len() > 1 && self.segments.front().is_some_and(|s| self.is_released(s)) {
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
    let ready = file.write_all(&segment::file_header(id)).and_then(|()| file.sync_data()).and_then(|()| sync_dir(dir));
    if let Err(e) = ready {
        // A full disk: leave no headless file behind to block the next attempt's name.
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok((file, path))
}

/// Writes the reserve file: [`RESERVE_BYTES`] the spool gives back to the disk when a write
/// failed, so that it can rotate and delete what was released.
fn make_reserve(dir: &Path) -> io::Result<()> {
    let path = dir.join(RESERVE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == RESERVE_BYTES) {
        return Ok(());
    }
    let written = File::create(&path).and_then(|mut f| f.write_all(&vec![0; RESERVE_BYTES as usize]));
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    written
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
