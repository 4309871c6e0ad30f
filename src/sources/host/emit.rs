//! What every collector writes to: typed samples, and the previous value of every kernel
//! counter so that a counter is emitted as the delta since the last sample.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use crate::aggregator::input::{Sample, SampleValue};

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

/// The previous value of every counter, keyed by its name and tags.
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

/// Turns what collectors read into typed samples: gauges as they are, kernel counters as the
/// increase since the last sample.
#[derive(Debug)]
pub struct Emitter<'a> {
    samples: &'a mut Vec<Sample>,
    deltas: &'a mut Deltas,
    key: String,
}

impl<'a> Emitter<'a> {
    /// Appends to `samples`, computing counter deltas against `deltas`.
    pub fn new(samples: &'a mut Vec<Sample>, deltas: &'a mut Deltas) -> Self {
        Self { samples, deltas, key: String::new() }
    }

    /// A gauge: the value now, whatever its sign.
    pub fn gauge(&mut self, name: &str, tags: &[(&str, &str)], value: f64) {
        if value.is_finite() {
            self.push(name, tags, SampleValue::Gauge(value));
        }
    }

    /// A kernel counter given as its monotonic `total`: emits the increase since the last
    /// sample as a counter and returns it (see [`Deltas`] for when nothing is emitted).
    pub fn counter(&mut self, name: &str, tags: &[(&str, &str)], total: f64) -> Option<f64> {
        if !total.is_finite() {
            return None;
        }
        // NUL cannot occur in a name or tag read from /proc, so keys of distinct series differ.
        self.key.clear();
        self.key.push_str(name);
        for (key, value) in tags {
            for part in [key, value] {
                self.key.push('\0');
                self.key.push_str(part);
            }
        }
        let delta = self.deltas.delta(&self.key, total)?;
        self.push(name, tags, SampleValue::Counter(delta));
        Some(delta)
    }

    fn push(&mut self, name: &str, tags: &[(&str, &str)], value: SampleValue) {
        match Sample::new(name, tags, value) {
            Ok(sample) => self.samples.push(sample),
            // Names are constants and values finite: only a bug in a collector gets here.
            Err(e) => tracing::warn!(error = %e, "Host sample refused."),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use backends::Value;

    use super::*;
    use crate::aggregator::window::{WindowSettings, WindowState};

    /// Each sample as the StatsD line it used to be rendered as, tags as given.
    fn lines(samples: &[Sample]) -> Vec<String> {
        samples
            .iter()
            .map(|s| {
                let (value, kind) = match s.value() {
                    SampleValue::Counter(v) => (*v, "c"),
                    SampleValue::Gauge(v) => (*v, "g"),
                    other => panic!("the host source emits gauges and counters only: {other:?}"),
                };
                let tags = s.tags().collect::<Vec<_>>().join(",");
                if tags.is_empty() {
                    format!("{}:{value}|{kind}", s.name())
                } else {
                    format!("{}:{value}|{kind}|#{tags}", s.name())
                }
            })
            .collect()
    }

    /// A counter is emitted as the increase between samples, never on first sight and never
    /// negative: after it goes backwards the new total is only the baseline.
    #[test]
    fn counter_emits_deltas_and_rebases_after_going_backwards() {
        let mut deltas = Deltas::default();
        let mut emitted = Vec::new();
        for total in [100.0, 150.0, 10.0, 25.0] {
            let mut samples = Vec::new();
            deltas.begin();
            Emitter::new(&mut samples, &mut deltas).counter("x", &[("device", "sda")], total);
            deltas.sweep();
            emitted.extend(lines(&samples));
        }
        assert_eq!(emitted, ["x:50|c|#device:sda", "x:15|c|#device:sda"]);
    }

    /// A counter missing from one sample starts over from a baseline when it reappears.
    #[test]
    fn counter_that_disappears_starts_from_a_new_baseline() {
        let mut deltas = Deltas::default();
        let mut sample = |present: bool, total: f64| {
            let mut samples = Vec::new();
            deltas.begin();
            if present {
                Emitter::new(&mut samples, &mut deltas).counter("net", &[], total);
            }
            deltas.sweep();
            lines(&samples)
        };
        assert!(sample(true, 10.0).is_empty());
        assert!(sample(false, 0.0).is_empty());
        assert!(sample(true, 500.0).is_empty(), "no jump from 10 to 500 across the gap");
        assert_eq!(sample(true, 501.0), ["net:1|c"]);
    }

    /// Tag values that would break a StatsD line and negative gauges reach the window's
    /// series exactly: no wire format stands between the host source and the window.
    #[test]
    fn tags_with_delimiters_and_negative_gauges_survive_into_the_window() {
        let (mut samples, mut deltas) = (Vec::new(), Deltas::default());
        let mut out = Emitter::new(&mut samples, &mut deltas);
        out.gauge("disk", &[("mountpoint", "/mnt/a,b|c#d"), ("device", "sd#1")], 1.5);
        out.gauge("system.temperature.delta", &[("zone", "x|y")], -3.25);
        assert_eq!(
            lines(&samples),
            ["disk:1.5|g|#mountpoint:/mnt/a,b|c#d,device:sd#1", "system.temperature.delta:-3.25|g|#zone:x|y"]
        );

        let mut state = WindowState::new(WindowSettings {
            percentiles: vec![],
            buckets: vec![],
            max_series: 10,
            expire_after_windows: 3,
            hostname: Arc::from("h"),
            tags: Arc::from(Vec::new()),
        });
        for sample in &samples {
            state.insert_sample(sample);
        }
        let window = state.flush(0, 1000);
        let series: Vec<(&str, Vec<&str>, f64)> = window
            .series
            .iter()
            .map(|s| match s.value {
                Value::Gauge { value } => (&*s.key.name, s.key.tags.iter().map(|t| &**t).collect(), value),
                ref other => panic!("not a gauge: {other:?}"),
            })
            .collect();
        assert_eq!(
            series,
            [
                ("disk", vec!["device:sd#1", "mountpoint:/mnt/a,b|c#d"], 1.5),
                ("system.temperature.delta", vec!["zone:x|y"], -3.25)
            ]
        );
    }
}
