//! How the StatsD backend's bytes reach the upstream: datagrams (UDP, Unix datagram), paced
//! over the window, or a stream (TCP, Unix stream) that reconnects.

pub(super) mod datagram;
mod pacer;
pub(super) mod stream;

pub(super) use datagram::Datagrams;
#[cfg(test)]
pub(super) use pacer::MAX_GAP;
pub(super) use pacer::Pacer;
pub(super) use stream::Stream;
