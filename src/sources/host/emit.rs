//! What every collector writes to: StatsD lines in a batch, and the previous value of every
//! kernel counter so that a counter is emitted as the delta since the last sample.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use crate::aggregator::input::Batch;

/// The one signature of a collector: read what it samples under [`Context::proc`] and write
/// gauges and counters to the emitter.
pub type Collect = fn(&Context, &mut Emitter<'_>) -> io::Result<()>;

/// What collectors need to know besides the files they read.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where procfs is mounted, normally `/proc`.
    pub proc: PathBuf,
    /// Also report every core's CPU time, not only the total.
    pub per_cpu: bool,
    /// Filesystem types whose mounts are not reported (pseudo filesystems).
    pub exclude_fstypes: Vec<String>,
    /// Block devices whose name starts with one of these are not reported.
    pub exclude_devices: Vec<String>,
    /// Clock ticks per second (`USER_HZ`), the unit of CPU times in `/proc`.
    pub ticks_per_second: f64,
    /// Bytes per memory page.
    pub page_size: u64,
}

impl Context {
    /// A context reading `/proc` with the system's clock tick and page size.
    pub fn new(per_cpu: bool, exclude_fstypes: Vec<String>, exclude_devices: Vec<String>) -> Self {
        // SAFETY: sysconf has no memory effects; a failure returns -1, handled below.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        Self {
            proc: PathBuf::from("/proc"),
            per_cpu,
            exclude_fstypes,
            exclude_devices,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as u64 } else { 4096 },
        }
    }

    /// Reads `/proc/<relative>` as text.
    pub fn read(&self, relative: &str) -> io::Result<String> {
        std::fs::read_to_string(self.proc.join(relative))
    }
}

/// The previous value of every counter, keyed by its rendered name and tags.
#[derive(Debug, Default)]
pub struct Deltas {
    previous: HashMap<String, (f64, u64)>,
    generation: u64,
}

impl Deltas {
    /// Starts a sample: counters not seen during it are forgotten at [`Deltas::sweep`].
    pub fn begin(&mut self) {
        self.generation += 1;
    }

    /// Forgets every counter not seen since [`Deltas::begin`], so a device that disappears and
    /// comes back starts from a fresh baseline instead of a bogus delta.
    pub fn sweep(&mut self) {
        let generation = self.generation;
        self.previous.retain(|_, (_, seen)| *seen == generation);
    }

    /// The increase of the counter `key` since the last sample, and remembers `total`. `None`
    /// on the first sight of the counter and when it went backwards (a wrap, a reset, a
    /// device replaced): the new total becomes the baseline and nothing is emitted, so a
    /// window never carries a negative or made-up jump.
    fn delta(&mut self, key: &str, total: f64) -> Option<f64> {
        let generation = self.generation;
        let Some(entry) = self.previous.get_mut(key) else {
            self.previous.insert(key.to_owned(), (total, generation));
            return None;
        };
        let previous = entry.0;
        *entry = (total, generation);
        (total >= previous).then_some(total - previous)
    }
}

/// Renders samples as StatsD lines, one datagram each, into a batch.
#[derive(Debug)]
pub struct Emitter<'a> {
    batch: &'a mut Batch,
    deltas: &'a mut Deltas,
    line: String,
}

impl<'a> Emitter<'a> {
    /// Writes into `batch`, computing counter deltas against `deltas`.
    pub fn new(batch: &'a mut Batch, deltas: &'a mut Deltas) -> Self {
        Self { batch, deltas, line: String::new() }
    }

    /// A gauge: the value now.
    pub fn gauge(&mut self, name: &str, tags: &[(&str, &str)], value: f64) {
        if value.is_finite() {
            self.push(name, tags, value, "g");
        }
    }

    /// A kernel counter given as its monotonic `total`: emits the increase since the last
    /// sample as a StatsD counter and returns it (see [`Deltas`] for when nothing is emitted).
    pub fn counter(&mut self, name: &str, tags: &[(&str, &str)], total: f64) -> Option<f64> {
        if !total.is_finite() {
            return None;
        }
        self.line.clear();
        render_key(&mut self.line, name, tags);
        let delta = self.deltas.delta(&self.line, total)?;
        self.push(name, tags, delta, "c");
        Some(delta)
    }

    fn push(&mut self, name: &str, tags: &[(&str, &str)], value: f64, kind: &str) {
        // A gauge written with a sign would be a delta; host gauges are never negative.
        let value = if kind == "g" { value.max(0.0) } else { value };
        self.line.clear();
        let _ = write!(self.line, "{name}:{value}|{kind}");
        if !tags.is_empty() {
            self.line.push_str("|#");
            render_tags(&mut self.line, tags);
        }
        self.batch.push(self.line.as_bytes());
    }
}

fn render_key(out: &mut String, name: &str, tags: &[(&str, &str)]) {
    out.push_str(name);
    out.push('|');
    render_tags(out, tags);
}

/// `k:v,k2:v2`, with the characters that delimit StatsD fields replaced by `_` in values.
fn render_tags(out: &mut String, tags: &[(&str, &str)]) {
    for (i, (key, value)) in tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.extend(value.chars().map(|c| if matches!(c, ',' | '|' | '#' | '\n' | '\r') { '_' } else { c }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(batch: &Batch) -> Vec<String> {
        batch.datagrams().map(|d| String::from_utf8(d.to_vec()).unwrap()).collect()
    }

    /// A counter is emitted as the increase between samples, never on first sight and never
    /// negative: after it goes backwards the new total is only the baseline.
    #[test]
    fn counter_emits_deltas_and_rebases_after_going_backwards() {
        let mut deltas = Deltas::default();
        let mut emitted = Vec::new();
        for total in [100.0, 150.0, 10.0, 25.0] {
            let mut batch = Batch::default();
            deltas.begin();
            Emitter::new(&mut batch, &mut deltas).counter("x", &[("device", "sda")], total);
            deltas.sweep();
            emitted.extend(lines(&batch));
        }
        assert_eq!(emitted, ["x:50|c|#device:sda", "x:15|c|#device:sda"]);
    }

    /// A counter missing from one sample starts over from a baseline when it reappears.
    #[test]
    fn counter_that_disappears_starts_from_a_new_baseline() {
        let mut deltas = Deltas::default();
        let mut sample = |present: bool, total: f64| {
            let mut batch = Batch::default();
            deltas.begin();
            if present {
                Emitter::new(&mut batch, &mut deltas).counter("net", &[], total);
            }
            deltas.sweep();
            lines(&batch)
        };
        assert!(sample(true, 10.0).is_empty());
        assert!(sample(false, 0.0).is_empty());
        assert!(sample(true, 500.0).is_empty(), "no jump from 10 to 500 across the gap");
        assert_eq!(sample(true, 501.0), ["net:1|c"]);
    }

    /// Tag values cannot break the line: StatsD delimiters become `_`.
    #[test]
    fn tag_values_with_delimiters_are_escaped() {
        let (mut batch, mut deltas) = (Batch::default(), Deltas::default());
        Emitter::new(&mut batch, &mut deltas).gauge("disk", &[("mountpoint", "/mnt/a,b|c#d")], 1.5);
        assert_eq!(lines(&batch), ["disk:1.5|g|#mountpoint:/mnt/a_b_c_d"]);
    }
}
