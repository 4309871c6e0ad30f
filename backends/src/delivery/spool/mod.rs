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

/// Where a window sits in the spool; part of the [`Backend`](crate::Backend) contract.
pub use crate::backend::Position;
