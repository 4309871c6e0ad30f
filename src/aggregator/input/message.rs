//! [`Input`]: one message on the aggregator's input channel.

use super::sample::Sample;
use crate::aggregator::input::Batch;

/// One message from a source to the aggregator.
#[derive(Debug)]
pub enum Input {
    /// StatsD datagrams as read from a socket; the aggregator parses them on its own thread,
    /// borrowing the buffer (the fast path: no per-line allocation), then returns the buffer
    /// to its pool.
    Statsd(Batch),
    /// Typed samples from a source that has its numbers already (the host sampler).
    Samples(Samples),
}

impl From<Batch> for Input {
    fn from(batch: Batch) -> Self {
        Self::Statsd(batch)
    }
}

impl From<Samples> for Input {
    fn from(samples: Samples) -> Self {
        Self::Samples(samples)
    }
}

impl Input {
    /// The StatsD batch this input carries, for tests of the listeners.
    #[cfg(test)]
    pub(crate) fn into_batch(self) -> Batch {
        match self {
            Self::Statsd(batch) => batch,
            Self::Samples(s) => panic!("expected a StatsD batch, got {} samples", s.samples.len()),
        }
    }
}

/// Typed samples of one source, in the order they were taken.
#[derive(Debug, Default)]
pub struct Samples {
    /// Index of the source in [`crate::telemetry::Telemetry::listeners`].
    pub listener: usize,
    /// The samples.
    pub samples: Vec<Sample>,
}
