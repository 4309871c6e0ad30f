//! The on-disk format of one spool segment: a file header, then records, each framed and
//! checksummed so a torn or corrupt record is found, skipped and counted on recovery.
//!
//! ```text
//! segment header (20 bytes):  b"SLUICESP" | version u32 | spool id u64
//! record (21-byte header):    magic u32 | payload length u32 | crc32 u32 | kind u8 | seq u64 | payload
//! ```
//!
//! All numbers little-endian. The CRC-32 (IEEE) covers kind, seq and payload. A `Window`
//! record's payload is the window's binary form ([`super::codec`]); a `Release` record has no
//! payload and says every window up to and including `seq` is done (delivered, refused or
//! dropped), so releases are one monotonic number. A `Progress` record's payload is a `u32`
//! and a `u64` ([`Progress`]): how many of window `seq`'s first batches (requests) the backend
//! acknowledged and how many series they held, so a window replayed after a crash resumes
//! after them. The record magic lets recovery find the next good record
//! after a corrupt one instead of truncating the rest of the segment.

/// First bytes of every segment file.
pub const FILE_MAGIC: &[u8; 8] = b"SLUICESP";
/// Version of the segment layout this build reads and writes.
pub const VERSION: u32 = 1;
/// Length of the segment header.
pub const FILE_HEADER_LEN: usize = 20;
/// First bytes of every record ("SPRC").
pub const RECORD_MAGIC: u32 = 0x4352_5053;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 21;
/// The largest payload a record may carry; a larger length field is corruption.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A window not yet released.
    Window = 1,
    /// Every window up to and including the record's seq is done.
    Release = 2,
    /// The first batches of window seq were acknowledged; the payload says how many.
    Progress = 3,
}

/// How far the delivery of a window got: its first `batches` batches, holding `series`
/// series, were acknowledged (or refused for good).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Batches done, counted from the first.
    pub batches: u32,
    /// Series in those batches: a replay resumes only when its encoding agrees.
    pub series: u64,
}

impl Progress {
    /// The payload of a `Progress` record.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0; 12];
        out[..4].copy_from_slice(&self.batches.to_le_bytes());
        out[4..].copy_from_slice(&self.series.to_le_bytes());
        out
    }

    /// A `Progress` record's payload read back; `None` when it has not the right length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 12] = bytes.try_into().ok()?;
        let (batches, series) = bytes.split_at(4);
        Some(Self {
            batches: u32::from_le_bytes(batches.try_into().ok()?),
            series: u64::from_le_bytes(series.try_into().ok()?),
        })
    }
}

/// One good record found by [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it holds.
    pub kind: Kind,
    /// The window's sequence number, or the release point.
    pub seq: u64,
    /// Offset of the payload from the start of the segment file.
    pub payload_offset: u64,
    /// Length of the payload.
    pub payload_len: u32,
}

/// What [`scan`] found in a segment's records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The good records, in file order.
    pub records: Vec<Record>,
    /// Regions skipped because they held no good record: each a torn or corrupt record.
    pub corrupt: u64,
    /// Bytes in those regions.
    pub corrupt_bytes: u64,
}

/// The segment header for a spool with `spool_id`.
pub fn file_header(spool_id: u64) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(FILE_MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&spool_id.to_le_bytes());
    h
}

/// The spool id of a segment whose file starts with `bytes`, or `None` for a file that is not
/// a segment of this version.
pub fn parse_file_header(bytes: &[u8]) -> Option<u64> {
    let h = bytes.get(..FILE_HEADER_LEN)?;
    (&h[..8] == FILE_MAGIC && h[8..12] == VERSION.to_le_bytes())
        .then(|| u64::from_le_bytes(h[12..20].try_into().unwrap_or_default()))
}

/// Appends one framed record to `out`.
pub fn encode_record(kind: Kind, seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind as u8]);
    crc.update(&seq.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The good record starting at `pos` of `file` (a whole segment), if there is one.
fn record_at(file: &[u8], pos: usize) -> Option<(Record, usize)> {
    let head = file.get(pos..pos + RECORD_HEADER_LEN)?;
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    if word(0) != RECORD_MAGIC {
        return None;
    }
    let len = word(4) as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let end = pos + RECORD_HEADER_LEN + len;
    let payload = file.get(pos + RECORD_HEADER_LEN..end)?;
    let kind = match head[12] {
        1 => Kind::Window,
        2 => Kind::Release,
        3 => Kind::Progress,
        _ => return None,
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head[12..RECORD_HEADER_LEN]);
    crc.update(payload);
    if crc.finalize() != word(8) {
        return None;
    }
    let seq = u64::from_le_bytes(head[13..21].try_into().ok()?);
    let record = Record { kind, seq, payload_offset: (pos + RECORD_HEADER_LEN) as u64, payload_len: len as u32 };
    Some((record, end))
}

/// Every good record of a segment file (header included in `file`). A region that does not
/// parse, a torn write at the tail or a flipped bit anywhere, is skipped up to the next
/// record that does, and counted: good records after it are never lost.
pub fn scan(file: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let mut pos = FILE_HEADER_LEN.min(file.len());
    while pos < file.len() {
        if let Some((record, end)) = record_at(file, pos) {
            scan.records.push(record);
            pos = end;
            continue;
        }
        // Resynchronise on the next magic that starts a good record.
        let magic = RECORD_MAGIC.to_le_bytes();
        let next = (pos + 1..file.len().saturating_sub(RECORD_HEADER_LEN - 1))
            .find(|&p| file[p..p + 4] == magic && record_at(file, p).is_some())
            .unwrap_or(file.len());
        scan.corrupt += 1;
        scan.corrupt_bytes += (next - pos) as u64;
        pos = next;
    }
    scan
}
