//! Disk I/O per block device from `/proc/diskstats`, as counters tagged `device`:
//! `system.io.bytes` and `system.io.ops` and `system.io.seconds` (time spent) tagged
//! `op:read|write`, `system.io.busy_seconds` (time the device had I/O in flight), and the
//! gauge `system.io.in_progress`. Devices whose name starts with one of `exclude_devices` are
//! skipped.

use std::io;

use super::emit::{Context, Emitter};

/// `/proc/diskstats` counts sectors of 512 bytes whatever the device's sector size.
const SECTOR_BYTES: u64 = 512;

/// One device's line of `/proc/diskstats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskStats {
    /// The device name (`sda`, `nvme0n1p1`, …).
    pub device: String,
    /// Reads completed.
    pub reads: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Milliseconds spent reading.
    pub read_ms: u64,
    /// Writes completed.
    pub writes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Milliseconds spent writing.
    pub write_ms: u64,
    /// I/Os in flight now.
    pub in_progress: u64,
    /// Milliseconds with I/O in flight.
    pub busy_ms: u64,
}

/// Every device of `/proc/diskstats`.
pub fn parse_diskstats(text: &str) -> Vec<DiskStats> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            Some(DiskStats {
                device: (*f.get(2)?).to_owned(),
                reads: n(3)?,
                read_bytes: n(5)? * SECTOR_BYTES,
                read_ms: n(6)?,
                writes: n(7)?,
                write_bytes: n(9)? * SECTOR_BYTES,
                write_ms: n(10)?,
                in_progress: n(11)?,
                busy_ms: n(12)?,
            })
        })
        .collect()
}

/// Emits the I/O counters of every device not excluded.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    for d in parse_diskstats(&ctx.read("diskstats")?) {
        if ctx.exclude_devices.iter().any(|prefix| d.device.starts_with(prefix.as_str())) {
            continue;
        }
        let device = d.device.as_str();
        for (op, bytes, ops, ms) in
            [("read", d.read_bytes, d.reads, d.read_ms), ("write", d.write_bytes, d.writes, d.write_ms)]
        {
            let tags = [("device", device), ("op", op)];
            out.counter("system.io.bytes", &tags, bytes as f64);
            out.counter("system.io.ops", &tags, ops as f64);
            out.counter("system.io.seconds", &tags, ms as f64 / 1000.0);
        }
        out.counter("system.io.busy_seconds", &[("device", device)], d.busy_ms as f64 / 1000.0);
        out.gauge("system.io.in_progress", &[("device", device)], d.in_progress as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sectors become bytes; lines of every kernel era (11, 15 or 17 counters) are read.
    #[test]
    fn parse_diskstats_reads_bytes_ops_and_times() {
        let text = "   8       0 sda 1000 10 2048 300 500 20 4096 700 2 900 1000 0 0 0 0 5 6\n\
                    \x20  7       0 loop0 5 0 10 1 0 0 0 0 0 4 1\n";
        let disks = parse_diskstats(text);
        assert_eq!(disks.len(), 2);
        assert_eq!(
            disks[0],
            DiskStats {
                device: "sda".into(),
                reads: 1000,
                read_bytes: 2048 * 512,
                read_ms: 300,
                writes: 500,
                write_bytes: 4096 * 512,
                write_ms: 700,
                in_progress: 2,
                busy_ms: 900,
            }
        );
        assert_eq!(disks[1].device, "loop0");
    }
}
