//! Disk usage per mounted filesystem, from the mount table of sluice's own mount namespace
//! (`/proc/self/mounts`) and `statvfs(3)`: `system.disk.{total,used,free,available}` in bytes
//! and `system.disk.inodes.{total,free}`, tagged `mountpoint`, `device` and `fstype`.
//! `free` counts blocks reserved for root; `available` is what unprivileged users can still
//! write. Mounts of an excluded type (pseudo filesystems) and filesystems reporting no blocks
//! are skipped.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::emit::{Context, Emitter};

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted (`/dev/sda1`, `tmpfs`, …).
    pub device: String,
    /// Where, with the table's octal escapes (`\040` for a space) decoded.
    pub mountpoint: String,
    /// The filesystem type.
    pub fstype: String,
}

/// Every mount of a `/proc/*/mounts` table; a mountpoint mounted over is reported once, as
/// its last (visible) mount.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(device), Some(mountpoint), Some(fstype)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let mount = Mount { device: unescape(device), mountpoint: unescape(mountpoint), fstype: fstype.to_owned() };
        mounts.retain(|m| m.mountpoint != mount.mountpoint);
        mounts.push(mount);
    }
    mounts
}

/// Decodes the `\ooo` octal escapes the kernel writes for space, tab, newline and backslash.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(code) =
                bytes.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(std::str::from_utf8(o).ok()?, 8).ok())
        {
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sizes of one filesystem, from `statvfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes in total.
    pub total: u64,
    /// Bytes free, including those reserved for root.
    pub free: u64,
    /// Bytes free for unprivileged users.
    pub available: u64,
    /// Inodes in total.
    pub inodes_total: u64,
    /// Inodes free.
    pub inodes_free: u64,
}

/// `statvfs(path)`.
pub fn statvfs(path: &Path) -> io::Result<Usage> {
    let c_path =
        CString::new(path.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: an all-zero statvfs is a valid value of a plain C struct.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `s` is a valid, writable statvfs.
    if unsafe { libc::statvfs(c_path.as_ptr(), &raw mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = s.f_frsize;
    Ok(Usage {
        total: s.f_blocks * frsize,
        free: s.f_bfree * frsize,
        available: s.f_bavail * frsize,
        inodes_total: s.f_files,
        inodes_free: s.f_ffree,
    })
}

/// Emits the usage of every mounted filesystem not excluded.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    for mount in parse_mounts(&ctx.read("self/mounts")?) {
        if ctx.exclude_fstypes.contains(&mount.fstype) {
            continue;
        }
        // A mount sluice may not look into (permissions, a stale network mount) is skipped.
        let Ok(usage) = statvfs(Path::new(&mount.mountpoint)) else { continue };
        if usage.total == 0 {
            continue;
        }
        let tags = [("mountpoint", mount.mountpoint.as_str()), ("device", &mount.device), ("fstype", &mount.fstype)];
        out.gauge("system.disk.total", &tags, usage.total as f64);
        out.gauge("system.disk.used", &tags, usage.total.saturating_sub(usage.free) as f64);
        out.gauge("system.disk.free", &tags, usage.free as f64);
        out.gauge("system.disk.available", &tags, usage.available as f64);
        out.gauge("system.disk.inodes.total", &tags, usage.inodes_total as f64);
        out.gauge("system.disk.inodes.free", &tags, usage.inodes_free as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escaped spaces are decoded and a mountpoint mounted twice is reported once, as the
    /// later mount.
    #[test]
    fn parse_mounts_decodes_escapes_and_keeps_the_visible_mount() {
        let text = "/dev/sda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n\
                    /dev/sdb1 /mnt/my\\040disk xfs rw 0 0\ntmpfs /mnt/my\\040disk tmpfs rw 0 0\n";
        let mounts = parse_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0], Mount { device: "/dev/sda1".into(), mountpoint: "/".into(), fstype: "ext4".into() });
        assert_eq!(
            mounts[2],
            Mount { device: "tmpfs".into(), mountpoint: "/mnt/my disk".into(), fstype: "tmpfs".into() }
        );
    }
}
