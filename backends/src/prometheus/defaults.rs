//! Config defaults and checks every Prometheus output shares: histogram bucket bounds and
//! how long a series stays without updates.

use crate::registry::BuildError;
use crate::units::Duration;

/// Default `expire_after` of the outputs that expose the whole current state (the scrape
/// endpoint, the textfile): five minutes.
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(300);

/// [`DEFAULT_EXPIRE_AFTER`] as a config field's serde default.
pub(crate) fn default_expire_after() -> Duration {
    DEFAULT_EXPIRE_AFTER
}

/// The default bucket upper bounds (seconds for timers), as the Prometheus client libraries'.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// [`DEFAULT_BUCKETS`] as a config field's serde default.
pub(crate) fn default_buckets() -> Vec<f64> {
    DEFAULT_BUCKETS.to_vec()
}

/// Bucket bounds of a sink's `buckets` key: finite and strictly increasing.
pub(crate) fn check_buckets(buckets: &[f64]) -> Result<(), BuildError> {
    if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BuildError::at("buckets", "must be finite and strictly increasing (+Inf is implied)"));
    }
    Ok(())
}
