//! The Unix stream listener.
