//! What one run of a probe found, and the samples it becomes.

use std::time::Duration;

use crate::aggregator::input::{Sample, SampleValue};

/// A probe run's result: whether it passed, why not, and the measurements taken on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Why the probe failed; `None` when every check passed.
    pub error: Option<String>,
    /// Gauges measured, such as `probe.http.status_code`, even on a failure.
    pub gauges: Vec<(&'static str, f64)>,
}

impl Outcome {
    /// A passed run with `gauges`.
    pub fn pass(gauges: Vec<(&'static str, f64)>) -> Self {
        Self { error: None, gauges }
    }

    /// A failed run.
    pub fn fail(error: impl Into<String>, gauges: Vec<(&'static str, f64)>) -> Self {
        Self { error: Some(error.into()), gauges }
    }

    /// Whether it passed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// `probe.success` (1 or 0), `probe.duration_seconds` and every measured gauge, each tagged
    /// with the probe's name and type.
    pub fn samples(&self, name: &str, kind: &str, took: Duration) -> Vec<Sample> {
        let tags = [("probe", name), ("probe_type", kind)];
        let success = if self.ok() { 1.0 } else { 0.0 };
        [("probe.success", success), ("probe.duration_seconds", took.as_secs_f64())]
            .into_iter()
            .chain(self.gauges.iter().copied())
            .filter_map(|(series, value)| Sample::new(series, &tags, SampleValue::Gauge(value)).ok())
            .collect()
    }
}
