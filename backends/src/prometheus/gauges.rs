//! The gauges an exposing output (a scrape endpoint, a textfile) keeps serving: the last value
//! of each, until it has not been in a window for its `expire_after`.
//!
//! The aggregator re-sends a gauge in every window until it expires there
//! (`[agent] expire_after_windows`); a window does not say whether a gauge was set in it or
//! only carried. So a gauge stays as long as the aggregator carries it, and for the output's
//! `expire_after` (or its mapping rule's) after the last window that carried it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::mapping::MetricType;
use super::translate::Encoder;
use crate::model::{SeriesKey, Value, Window};

/// One kept gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Kept {
    /// The last value a window carried.
    value: f64,
    /// End of the last window that carried it, Unix milliseconds.
    seen_ms: u64,
}

/// Every gauge an output serves, by series. Held in memory only: after a restart a gauge
/// comes back with the application's next value. Bounded by the aggregator's `max_series`
/// over one `expire_after`.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    kept: HashMap<Arc<SeriesKey>, Kept>,
}

impl Gauges {
    /// Takes the window's gauges, then forgets those not carried for their expiry: the rule's
    /// `expire_after` for their name, else `sink_expire_after`.
    pub(crate) fn update(&mut self, window: &Window, encoder: &Encoder, sink_expire_after: Duration) {
        for series in &window.series {
            if let Value::Gauge { value } = series.value {
                self.kept.insert(Arc::clone(&series.key), Kept { value, seen_ms: window.end_ms });
            }
        }
        self.kept.retain(|key, kept| {
            let expire_after = encoder.expire_after(MetricType::Gauge, &key.name, Some(sink_expire_after));
            let before = expire_after
                .map_or(0, |d| window.end_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
            kept.seen_ms >= before
        });
    }

    /// The kept gauges sorted by name and tags, so that of two that become one Prometheus
    /// series the same one is served every time.
    pub(crate) fn sorted(&self) -> Vec<(&SeriesKey, f64)> {
        let mut gauges: Vec<(&SeriesKey, f64)> = self.kept.iter().map(|(key, kept)| (&**key, kept.value)).collect();
        gauges.sort_unstable_by(|a, b| (&a.0.name, &a.0.tags).cmp(&(&b.0.name, &b.0.tags)));
        gauges
    }

    /// How many gauges are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }
}
