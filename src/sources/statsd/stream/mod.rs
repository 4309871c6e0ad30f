//! The Unix stream listener: newline-delimited lines over connections, one task per connection.
//!
//! Each read hands on the complete lines it finished (everything up to the last newline) as one
//! datagram, without the final newline; the unterminated tail waits for the next read. A line
//! longer than [`MAX_LINE`] bytes is discarded up to its newline and counted in
//! [`ListenerStats::truncated`]. At end of stream an unterminated last line is delivered.
//!
//! Binding follows the Unix datagram listener (stale file removed, live socket or non-socket
//! refused, `mode` applied, file removed at the end; see [`super::unix`]).
//!
//! Shutdown: a `tokio::sync::watch::Receiver<bool>`, because these are async tasks that must
//! wake up when it changes. Once it reads `true` (or its sender is dropped), the listener stops
//! accepting and removes its socket file; each connection reads what the kernel already holds
//! for it, delivers its complete lines and ends; [`StreamListener::run`] returns when all have.
//! An unterminated line still open at that moment is not delivered: its end may yet be unsent.
//!
//! [`ListenerStats::truncated`]: crate::telemetry::ListenerStats::truncated

mod framer;
mod listener;
#[cfg(test)]
mod tests;

pub use framer::MAX_LINE;
pub use listener::{StreamListener, bind};
