//! What shapes the windows: [`WindowSettings`] and the per-window caps.

use std::sync::Arc;

/// Most distinct members one set series counts per window; more are dropped as
/// [`DropReason::SetMembers`](super::DropReason::SetMembers).
pub const MAX_SET_MEMBERS: usize = 4096;
/// Most events kept per window; more are dropped as
/// [`DropReason::Events`](super::DropReason::Events).
pub const MAX_EVENTS_PER_WINDOW: usize = 1024;
/// Most service checks kept per window; more are dropped as
/// [`DropReason::ServiceChecks`](super::DropReason::ServiceChecks).
pub const MAX_SERVICE_CHECKS_PER_WINDOW: usize = 1024;

/// What shapes the windows; built from the config by the aggregator.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    /// Percentiles (`0..=100`) computed for timers, histograms and distributions, in the order
    /// they are emitted. Out-of-range values are ignored (config validation rejects them).
    pub percentiles: Vec<f64>,
    /// Upper bounds of the cumulative buckets counted for timers, histograms and
    /// distributions; sorted and de-duplicated here, non-finite bounds ignored.
    pub buckets: Vec<f64>,
    /// Most live series; a new series beyond it is refused and counted.
    pub max_series: usize,
    /// Windows without an update after which a series is removed; 0 is treated as 1.
    pub expire_after_windows: u32,
    /// Copied into every [`Window::hostname`](backends::Window::hostname).
    pub hostname: Arc<str>,
    /// Copied into every [`Window::tags`](backends::Window::tags).
    pub tags: Arc<[Box<str>]>,
}

impl WindowSettings {
    pub(super) fn normalized(mut self) -> Self {
        self.percentiles.retain(|p| (0.0..=100.0).contains(p));
        self.buckets.retain(|b| b.is_finite());
        self.buckets.sort_by(f64::total_cmp);
        self.buckets.dedup();
        self
    }
}
