//! The [`Backend`] trait every backend implements, and its typed error.

use std::future::Future;

use crate::model::Window;

/// A destination for flushed windows.
///
/// The delivery task owns the backend and calls [`Backend::send`] with one window at a time,
/// in order. A backend encodes and sends the window and says, through its error, whether a
/// retry could succeed; retry, backoff and buffering live in [`crate::delivery`].
pub trait Backend: Send + 'static {
    /// Delivers one window. Returns the number of series the destination acknowledged.
    fn send(&mut self, window: &Window) -> impl Future<Output = Result<u64, SendError>> + Send;

    /// Called once after the last window, before the process exits.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Why a window (or part of it) did not reach its destination.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Local or network I/O failed (connection refused, broken pipe, timeout).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The destination answered but refused the data; resending it cannot help.
    #[error("rejected by the backend: {0}")]
    Rejected(String),
    /// The destination is temporarily unable to take data (throttled, overloaded).
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

impl SendError {
    /// True when sending the same data again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Io(_) | Self::Unavailable(_) => true,
            Self::Rejected(_) => false,
        }
    }

    /// A short label for the `class` of `sluice_backend_errors_total`.
    pub fn class(&self) -> &'static str {
        if self.is_retriable() { "retriable" } else { "rejected" }
    }
}
