//! Kernel interfaces shared by the datagram listeners: batched receive with `recvmmsg`, paced
//! by the load, the receive-buffer check, the socket inode, and the UDP drop counter in `/proc/net/udp{,6}`.
//!
//! The receive loop runs on a dedicated OS thread, not on the async runtime: a listener that
//! waits for the aggregator blocks in [`Sender::blocking_send`] and leaves further datagrams
//! in the kernel buffer, which is the intended back-pressure.
//!
//! [`Sender::blocking_send`]: tokio::sync::mpsc::Sender::blocking_send

mod pace;
mod recv;
mod socket;
/// Helpers for the listener tests.
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use pace::MAX_PAUSE;
pub(crate) use pace::Pacer;
pub use recv::{BATCH_BYTES, MAX_DATAGRAM, SLOTS, warn_due};
pub(crate) use recv::{Output, receive_datagrams};
pub use socket::{
    granted_receive_buffer, parse_udp_drops, receive_buffer_shortfall, set_receive_buffer, socket_inode, udp_drops,
};
