//! Batches of received StatsD datagrams, handed from a listener to the aggregator, and a pool that
//! recycles their buffers so steady-state ingest allocates nothing.

use std::sync::{Mutex, PoisonError};

/// Datagrams (or complete-line chunks of a stream) read by one listener, back to back in one
/// buffer. `ends[i]` is the end offset of datagram `i` in `data`.
#[derive(Debug, Default)]
pub struct Batch {
    /// Index of the listener in [`crate::telemetry::Telemetry::listeners`].
    pub listener: usize,
    /// The datagrams' bytes, concatenated.
    pub data: Vec<u8>,
    /// End offset of each datagram in `data`.
    pub ends: Vec<usize>,
}

impl Batch {
    /// Appends one datagram.
    pub fn push(&mut self, datagram: &[u8]) {
        self.data.extend_from_slice(datagram);
        self.ends.push(self.data.len());
    }

    /// Each datagram in arrival order.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let d = &self.data[start..end];
            start = end;
            d
        })
    }

    /// Number of datagrams.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the batch holds no datagram.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }
}

/// Most idle batches kept for reuse; beyond it returned batches are freed.
const POOL_MAX: usize = 256;

/// Recycled batches: listeners [`BatchPool::take`], the aggregator [`BatchPool::give`] back.
#[derive(Debug, Default)]
pub struct BatchPool {
    free: Mutex<Vec<Batch>>,
}

impl BatchPool {
    /// An empty batch for `listener`, reusing a returned buffer when one is free.
    pub fn take(&self, listener: usize) -> Batch {
        let mut batch = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default();
        batch.listener = listener;
        batch
    }

    /// Returns a processed batch for reuse.
    pub fn give(&self, mut batch: Batch) {
        batch.clear();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < POOL_MAX {
            free.push(batch);
        }
    }
}
