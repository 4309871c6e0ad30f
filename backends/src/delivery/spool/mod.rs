//! The disk spool behind `[sinks.NAME.buffer] type = "disk"`: windows a backend has not
//! acknowledged, in checksummed segment files under `data_dir/spool/NAME/`, replayed in order
//! after the backend or the agent comes back.

mod codec;
mod recover;
mod segment;
#[allow(clippy::module_inception)]
mod spool;
#[cfg(test)]
mod tests;

pub use codec::{DecodeError, Meta, decode, encode, peek};
pub use recover::{Location, Pending, Recovered};
pub use segment::{Progress, RECORD_HEADER_LEN};
pub use spool::{Appended, Spool, read_payload};

/// Where a window sits in a backend's spool: which spool (a random id made when the spool is
/// created) and the window's sequence number in it, which only grows, across restarts too.
/// Backends with cumulative state record it to never count a replayed window twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The spool's id.
    pub spool: u64,
    /// The window's sequence number.
    pub seq: u64,
}
