//! Capped exponential backoff with full jitter.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use super::config::RetryConfig;

/// Waits between retries: the `n`-th is uniform in `[0, min(max_backoff, initial · 2ⁿ)]`
/// ("full jitter", which spreads a fleet's retries best after a shared outage). backon
/// computes the capped exponential; the jitter is applied here because backon's own adds
/// `[0, d)` on top of `d` instead.
#[derive(Debug)]
pub struct Backoff {
    config: RetryConfig,
    caps: ExponentialBackoff,
}

impl Backoff {
    /// A fresh sequence for `config`.
    pub fn new(config: &RetryConfig) -> Self {
        Self { config: config.clone(), caps: Self::caps(config) }
    }

    fn caps(config: &RetryConfig) -> ExponentialBackoff {
        ExponentialBuilder::new()
            .with_min_delay(config.initial_backoff.0)
            .with_max_delay(config.max_backoff.0)
            .without_max_times()
            .build()
    }

    /// The next wait.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.caps.next().unwrap_or(self.config.max_backoff.0);
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=cap_ms))
    }

    /// Starts again from the smallest wait (after a success).
    pub fn reset(&mut self) {
        self.caps = Self::caps(&self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Duration as Human;

    /// Every wait lies within `[0, min(max, initial · 2ⁿ)]`, and the caps double up to the maximum.
    #[test]
    fn waits_are_jittered_below_a_doubling_capped_bound() {
        let config = RetryConfig {
            initial_backoff: Human(Duration::from_millis(100)),
            max_backoff: Human(Duration::from_millis(800)),
            ..RetryConfig::default()
        };
        let mut backoff = Backoff::new(&config);
        let bounds = [100, 200, 400, 800, 800, 800];
        for _ in 0..200 {
            backoff.reset();
            for bound in bounds {
                assert!(backoff.next_delay() <= Duration::from_millis(bound));
            }
        }
        let mut backoff = Backoff::new(&config);
        let longest = (0..6).map(|_| backoff.next_delay()).max().unwrap();
        assert!(longest <= Duration::from_millis(800));
    }
}
