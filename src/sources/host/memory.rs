//! Memory and swap from `/proc/meminfo`, in bytes: `system.mem.{total,available,used,free,
//! buffers,cached}` and `system.swap.{total,free,used}`. `used` is `total − available` (what
//! programs could not get without swapping), as `free(1)` computes it.

use std::io;

use super::emit::{Context, Emitter};

/// The `/proc/meminfo` fields sluice reports, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable` (3.14+; estimated as free + buffers + cached on older kernels).
    pub available: u64,
    /// `MemFree`.
    pub free: u64,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// Reads `/proc/meminfo` (values in kB, i.e. KiB).
pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut info = MemInfo::default();
    let mut available = None;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let Some(kib) = rest.split_ascii_whitespace().next().and_then(|v| v.parse::<u64>().ok()) else { continue };
        let bytes = kib * 1024;
        match key {
            "MemTotal" => info.total = bytes,
            "MemAvailable" => available = Some(bytes),
            "MemFree" => info.free = bytes,
            "Buffers" => info.buffers = bytes,
            "Cached" => info.cached = bytes,
            "SwapTotal" => info.swap_total = bytes,
            "SwapFree" => info.swap_free = bytes,
            _ => {}
        }
    }
    info.available = available.unwrap_or(info.free + info.buffers + info.cached);
    info
}

/// Emits memory and swap gauges.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let m = parse_meminfo(&ctx.read("meminfo")?);
    out.gauge("system.mem.total", &[], m.total as f64);
    out.gauge("system.mem.available", &[], m.available as f64);
    out.gauge("system.mem.used", &[], m.total.saturating_sub(m.available) as f64);
    out.gauge("system.mem.free", &[], m.free as f64);
    out.gauge("system.mem.buffers", &[], m.buffers as f64);
    out.gauge("system.mem.cached", &[], m.cached as f64);
    out.gauge("system.swap.total", &[], m.swap_total as f64);
    out.gauge("system.swap.free", &[], m.swap_free as f64);
    out.gauge("system.swap.used", &[], m.swap_total.saturating_sub(m.swap_free) as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are read in bytes; a kernel without `MemAvailable` gets the old estimate.
    #[test]
    fn parse_meminfo_reads_bytes_and_estimates_available() {
        let text = "MemTotal:       16000 kB\nMemFree:         4000 kB\nMemAvailable:    9000 kB\n\
                    Buffers:          500 kB\nCached:          3000 kB\nSwapCached:         0 kB\n\
                    SwapTotal:       2000 kB\nSwapFree:        1500 kB\nHugePages_Total:   0\n";
        let m = parse_meminfo(text);
        assert_eq!((m.total, m.available, m.free), (16000 * 1024, 9000 * 1024, 4000 * 1024));
        assert_eq!(
            (m.buffers, m.cached, m.swap_total, m.swap_free),
            (500 * 1024, 3000 * 1024, 2000 * 1024, 1500 * 1024)
        );
        let old = parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n");
        assert_eq!(old.available, 35 * 1024);
    }
}
