//! Spreads a window's datagrams over part of its interval.
//!
//! Why: a flush produces a window's datagrams at once. Sent in one burst they arrive faster
//! than a single-threaded upstream (Etsy StatsD) reads them, its receive buffer (208 KiB by
//! default on Linux, where every loopback datagram also costs its buffer overhead) fills and
//! the kernel drops the rest without telling the sender. Spread evenly, the same datagrams
//! need room for only a few at a time.
//!
//! The schedule is absolute (the `n`-th datagram is due `n` gaps after the first), so a
//! sleep that wakes late does not slow the window down; after a stall (a retry's backoff) at
//! most [`CATCH_UP`] of lateness is made up in a burst, so a stall never turns into the burst
//! pacing exists to avoid. A datagram retried after a failure goes as soon as its backoff
//! has passed, and the schedule restarts from it. No allocation: two fields.

use std::time::Duration;

use tokio::time::Instant;

/// The most lateness sent as a burst to catch up with the schedule.
const CATCH_UP: Duration = Duration::from_millis(5);
/// The longest gap between two datagrams. 200 datagrams a second is far below what any
/// upstream reads, so a longer gap protects nothing; it would only delay a long window (a
/// `flush_interval` of minutes, the last window at shutdown, which must go within
/// `shutdown_timeout`) for no gain.
pub(crate) const MAX_GAP: Duration = Duration::from_millis(5);

/// The pacing state of the window being sent.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    gap: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// Starts a window of `datagrams` to be spread over `span`: the first goes at once, the
    /// others one `span / datagrams` apart (at most [`MAX_GAP`]), so the last leaves before
    /// `span` has passed.
    pub(crate) fn start(&mut self, datagrams: usize, span: Duration) {
        let datagrams = u32::try_from(datagrams).unwrap_or(u32::MAX).max(1);
        self.gap = (span / datagrams).min(MAX_GAP);
        self.next = None;
    }

    /// After a failed send: the retry (which already waited its backoff) goes at once, and
    /// the datagrams after it keep their gap from it.
    pub(crate) fn resume(&mut self) {
        self.next = None;
    }

    /// Waits until the next datagram is due.
    pub(crate) async fn wait(&mut self) {
        if self.gap.is_zero() {
            return;
        }
        let now = Instant::now();
        let due = match self.next {
            None => now,
            Some(next) => next.max(now.checked_sub(CATCH_UP).unwrap_or(now)),
        };
        if due > now {
            tokio::time::sleep_until(due).await;
        }
        self.next = Some(due + self.gap);
    }
}
