//! [`Pacer`]: how long a UDP receiving thread sleeps between wake-ups under a steady load.
//!
//! Each wake-up costs two context switches (the receiving thread's and, through the batch it
//! hands on, the aggregator's), which at a few thousand datagrams per second cost more CPU
//! than parsing them. So after a wake-up that emptied the socket, the thread sleeps and lets
//! datagrams gather in the kernel buffer: a steady load is then read, parsed and handed on
//! dozens of datagrams at a time. The pause is bounded twice: by [`MAX_PAUSE`] (latency is
//! nothing against windows of seconds), and by the time the observed traffic takes to fill a
//! quarter of the receive buffer, so a faster load shortens it and a full buffer never drops
//! a datagram because of it. After the socket has been idle the pause starts short again and
//! doubles at each busy wake-up, so a burst that follows silence meets a short pause.

use std::time::{Duration, Instant};

/// The longest pause between two reads of a busy socket.
pub const MAX_PAUSE: Duration = Duration::from_millis(10);

/// The first pause after the socket was idle.
const FIRST_PAUSE: Duration = Duration::from_micros(500);

/// A gap between wake-ups longer than this means the traffic stopped: pacing starts over.
const IDLE_GAP: Duration = Duration::from_millis(25);

/// What the kernel charges the receive buffer per queued datagram beyond its payload (the
/// buffer's accounting counts whole socket buffers, several hundred bytes each): a generous
/// estimate, so a load of small datagrams shortens the pause as it should.
const OVERHEAD_PER_DATAGRAM: u64 = 1024;

/// What to do after a wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read again at once: the last read found the socket still full.
    Read,
    /// Sleep this long, then read.
    Sleep(Duration),
    /// Wait until the socket is readable.
    Wait,
}

/// The pacing state of one receiving thread. Pure: time comes in as arguments.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// Kernel bytes that may gather during a pause; 0 turns pacing off.
    budget: u64,
    /// The pause the next quiet wake-up gets.
    pause: Duration,
    /// When the previous wake-up read its first datagram.
    last: Option<Instant>,
}

impl Pacer {
    /// A pacer for a socket whose kernel buffer holds `receive_buffer` bytes; a quarter of it
    /// may gather during a pause.
    pub(crate) fn new(receive_buffer: usize) -> Self {
        Self { budget: receive_buffer as u64 / 4, pause: FIRST_PAUSE, last: None }
    }

    /// A pacer that never sleeps: every wake-up waits for the socket to become readable.
    /// For Unix datagram sockets, whose queue is counted in datagrams (`net.unix.max_dgram_qlen`,
    /// often 10 to 512), so a pause would block or refuse their senders.
    pub(crate) fn off() -> Self {
        Self { budget: 0, pause: Duration::ZERO, last: None }
    }

    /// After a wake-up at `now` that read `datagrams` datagrams holding `bytes` bytes, `full`
    /// when the last read still filled every slot: what the thread does next.
    pub(crate) fn next(&mut self, now: Instant, datagrams: usize, bytes: u64, full: bool) -> Next {
        if full {
            return Next::Read;
        }
        if datagrams == 0 || self.budget == 0 {
            return Next::Wait;
        }
        let elapsed = self.last.map(|last| now.saturating_duration_since(last));
        self.last = Some(now);
        let Some(elapsed) = elapsed.filter(|&e| e <= IDLE_GAP) else {
            // The first wake-up after silence: the rate is unknown, so the shortest pause.
            self.pause = FIRST_PAUSE;
            return Next::Sleep(FIRST_PAUSE);
        };
        let charged = bytes + OVERHEAD_PER_DATAGRAM * datagrams as u64;
        // How long the observed rate takes to charge the budget.
        let fill = Duration::from_secs_f64(self.budget as f64 * elapsed.as_secs_f64() / charged as f64);
        let pause = self.pause.min(fill);
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        Next::Sleep(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A steady trickle of small batches grows the pause from the first one to the maximum,
    /// doubling at each wake-up.
    #[test]
    fn a_steady_load_doubles_the_pause_up_to_the_maximum() {
        let mut pacer = Pacer::new(4 << 20);
        let start = Instant::now();
        let pauses: Vec<Next> = (0..8).map(|i| pacer.next(start + i * 2 * MS, 3, 4000, false)).collect();
        let expected: Vec<Next> = [500, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]
            .into_iter()
            .map(|us| Next::Sleep(Duration::from_micros(us)))
            .collect();
        assert_eq!(pauses, expected);
    }

    /// A load that would charge a quarter of the buffer sooner than the maximum pause gets a
    /// pause just that long.
    #[test]
    fn a_fast_load_shortens_the_pause_to_what_fits_a_quarter_of_the_buffer() {
        let mut pacer = Pacer::new(1 << 20);
        let start = Instant::now();
        for i in 0..10 {
            pacer.next(start + i * MS, 1, 100, false);
        }
        // 50 datagrams of 1 000 bytes per millisecond charge 101 200 bytes per millisecond;
        // a quarter of 1 MiB (262 144 bytes) fills in about 2.59 ms.
        let Next::Sleep(pause) = pacer.next(start + 10 * MS, 50, 50_000, false) else { panic!("no pause") };
        assert!(pause > Duration::from_micros(2580) && pause < Duration::from_micros(2600), "{pause:?}");
    }

    /// A wake-up after silence pauses the shortest time again, whatever the pause had grown to.
    #[test]
    fn a_wake_up_after_silence_starts_over_with_the_first_pause() {
        let mut pacer = Pacer::new(4 << 20);
        let start = Instant::now();
        for i in 0..10 {
            pacer.next(start + i * MS, 2, 2000, false);
        }
        let after_silence = pacer.next(start + Duration::from_secs(2), 1, 100, false);
        assert_eq!(after_silence, Next::Sleep(FIRST_PAUSE));
    }

    /// A read that filled every slot reads again at once, one that found nothing waits for
    /// the socket, and a pacer that is off never sleeps.
    #[test]
    fn full_and_empty_reads_and_a_pacer_that_is_off_never_sleep() {
        let now = Instant::now();
        let mut pacer = Pacer::new(4 << 20);
        assert_eq!(pacer.next(now, 64, 90_000, true), Next::Read);
        assert_eq!(pacer.next(now, 0, 0, false), Next::Wait);
        let mut off = Pacer::off();
        assert_eq!(off.next(now, 5, 5000, false), Next::Wait);
        assert_eq!(off.next(now, 64, 90_000, true), Next::Read);
    }
}
