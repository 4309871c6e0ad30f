//! Archive names of a file sink: `<stem>-<YYYYMMDDTHHMMSSZ>[_NNN]<.ext>`, which sort by the
//! time of the rotation as plain strings (`_` sorts after `.`, so a second archive of one
//! second sorts after the first; the sequence has three digits or more, zero-padded).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::units::{days_from_civil, iso8601};

/// The parts of the current file's name that every archive of it shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    dir: PathBuf,
    /// The file name up to its last `.` (the whole name when it has none, or starts with it).
    stem: String,
    /// The last `.` and what follows, or empty.
    ext: String,
}

/// One archive found in the directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Archive {
    /// The file name; archives sort by it as by their time.
    pub(crate) name: String,
    /// When the archive was rotated, to the second, as its name says.
    pub(crate) rotated: SystemTime,
}

impl Names {
    /// The names of archives of `path`.
    pub(crate) fn of(path: &Path) -> Self {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned();
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (stem, ext) = match file.rfind('.') {
            Some(dot) if dot > 0 => (file[..dot].to_owned(), file[dot..].to_owned()),
            _ => (file, String::new()),
        };
        Self { dir, stem, ext }
    }

    /// The archive path for a rotation at `now`: the first of `<stem>-<time><ext>`,
    /// `<stem>-<time>_001<ext>`, … that does not exist yet.
    pub(crate) fn next(&self, now: SystemTime) -> PathBuf {
        let time = stamp(now);
        let mut path = self.dir.join(format!("{}-{time}{}", self.stem, self.ext));
        let mut sequence = 1u64;
        while path.symlink_metadata().is_ok() {
            path = self.dir.join(format!("{}-{time}_{sequence:03}{}", self.stem, self.ext));
            sequence += 1;
        }
        path
    }

    /// The archives of this file in its directory, oldest first. Any other file, a name
    /// sluice would not have written included, is not one.
    pub(crate) fn list(&self) -> std::io::Result<Vec<Archive>> {
        let mut archives = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if let Some(rotated) = self.parse(&name) {
                archives.push(Archive { name, rotated });
            }
        }
        archives.sort();
        Ok(archives)
    }

    /// The path of an archive named `name`.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The rotation time of `name` when it is an archive of this file.
    fn parse(&self, name: &str) -> Option<SystemTime> {
        let rest = name.strip_prefix(&self.stem)?.strip_prefix('-')?.strip_suffix(self.ext.as_str())?;
        let (time, sequence) = rest.split_at_checked(16)?;
        if !sequence.is_empty() {
            let digits = sequence.strip_prefix('_')?;
            if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
        parse_stamp(time)
    }
}

/// `now` in UTC as `YYYYMMDDTHHMMSSZ`.
pub(crate) fn stamp(now: SystemTime) -> String {
    let ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    // `2026-12-03T14:15:00.000Z` without its separators and milliseconds.
    let iso = iso8601(u64::try_from(ms).unwrap_or(u64::MAX));
    let mut out: String = iso[..19].chars().filter(|c| *c != '-' && *c != ':').collect();
    out.push('Z');
    out
}

/// The time a `YYYYMMDDTHHMMSSZ` stamp names.
fn parse_stamp(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}
