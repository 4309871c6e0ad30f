//! What sources hand the aggregator: one [`Input`] channel carrying either StatsD bytes,
//! parsed zero-copy on the aggregator's thread, or [`Sample`]s a source built itself.
//!
//! Sources depend on this module; the aggregator depends on no source.

mod batch;
mod message;
mod sample;
mod weighted;

pub use batch::{Batch, BatchPool};
pub use message::{Input, Samples};
pub use sample::{Kind, MAX_BUCKETS, MAX_TAGS, Sample, SampleError, SampleValue};
pub use weighted::Weighted;
