//! One reading of the agent's telemetry into typed samples, through the same
//! [`families`](crate::telemetry::families) `/metrics` renders.
//!
//! - A family `sluice_<rest>` becomes the series `sluice.<rest>`, a counter's `_total` suffix
//!   dropped (`sluice_received_lines_total` → `sluice.received_lines`); labels become tags.
//! - A gauge is sent as its value at the reading.
//! - A counter is sent as its increase since the previous reading. Every counter of the agent
//!   starts at 0 with the agent (or with the listener or backend it counts for), so the first
//!   reading of a counter sends its whole value and the increases of every window add up to
//!   what `/metrics` shows. A counter lower than before was started again (a backend rebuilt by
//!   a reload): its whole value is its increase since.

use std::collections::HashMap;

use backends::prometheus::FamilyType;
use backends::prometheus::Number;

use crate::aggregator::input::{Sample, SampleValue};
use crate::telemetry::Telemetry;
use crate::telemetry::families::{Reader, read};

/// The last value of every counter, to send increases. Pure state: [`Readings::read`] is the
/// whole of it. Held by [`Telemetry::reported`], so it outlives an instance of the source.
#[derive(Debug, Default)]
pub struct Readings {
    /// By series name and labels (`name\0key\0value…`): the value, and the reading that saw it.
    last: HashMap<String, (f64, u64)>,
    /// How many readings were taken.
    generation: u64,
}

impl Readings {
    /// Reads every family of `telemetry` and appends a sample per series to `out`. Counters
    /// not seen in this reading are forgotten (a backend a reload removed), so the state is
    /// bounded by what `/metrics` shows.
    pub fn read(&mut self, telemetry: &Telemetry, out: &mut Vec<Sample>) {
        self.generation += 1;
        let mut reader =
            Collect { readings: self, out, kind: FamilyType::Gauge, name: String::new(), key: String::new() };
        read(telemetry, &mut reader);
        let generation = self.generation;
        self.last.retain(|_, (_, seen)| *seen == generation);
    }

    /// The increase of the counter `key` to `total`, remembered for the next reading.
    fn increase(&mut self, key: &str, total: f64) -> f64 {
        let generation = self.generation;
        let Some(entry) = self.last.get_mut(key) else {
            self.last.insert(key.to_owned(), (total, generation));
            return total;
        };
        let previous = std::mem::replace(entry, (total, generation)).0;
        if total >= previous { total - previous } else { total }
    }
}

/// The series name of the family `family` of type `kind`: see the [module docs](self).
pub fn series_name(family: &str, kind: FamilyType) -> String {
    let rest = family.strip_prefix("sluice_").unwrap_or(family);
    let rest = match kind {
        FamilyType::Counter => rest.strip_suffix("_total").unwrap_or(rest),
        _ => rest,
    };
    format!("sluice.{rest}")
}

/// A [`Reader`] that appends samples.
struct Collect<'a> {
    readings: &'a mut Readings,
    out: &'a mut Vec<Sample>,
    kind: FamilyType,
    /// The series name of the family being read.
    name: String,
    /// Scratch for a counter's key.
    key: String,
}

impl Reader for Collect<'_> {
    fn family(&mut self, name: &str, kind: FamilyType, _help: &str) {
        self.kind = kind;
        self.name = series_name(name, kind);
    }

    fn sample(&mut self, _name: &str, labels: &[(&str, &str)], value: Number) {
        let value = match value {
            Number::Int(n) => n as f64,
            Number::Float(v) => v,
        };
        let value = match self.kind {
            FamilyType::Counter => {
                self.key.clear();
                self.key.push_str(&self.name);
                for (k, v) in labels {
                    for part in [k, v] {
                        self.key.push('\0');
                        self.key.push_str(part);
                    }
                }
                SampleValue::Counter(self.readings.increase(&self.key, value))
            }
            _ => SampleValue::Gauge(value),
        };
        match Sample::new(&self.name, labels, value) {
            Ok(sample) => self.out.push(sample),
            // The agent's own numbers are finite and its labels few; a sample that still fails
            // is left out of the window, and logged.
            Err(e) => tracing::warn!(error = %e, "An internal series was left out of the window."),
        }
    }
}
