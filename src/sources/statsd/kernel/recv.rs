//! The receive loop: batched `recvmmsg` on a dedicated thread, handing batches on with
//! back-pressure.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::Socket;
use tokio::sync::mpsc::Sender;

use super::pace::{Next, Pacer};
use crate::aggregator::input::{Batch, BatchPool, Input};
use crate::telemetry::ListenerStats;

/// Datagrams received per `recvmmsg` call.
pub const SLOTS: usize = 64;

/// Bytes per datagram slot. UDP payloads are at most 65 507 bytes (IPv4) so they always fit;
/// a larger Unix datagram is truncated and counted in [`ListenerStats::truncated`].
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// A batch is handed on once it holds this many bytes, even while more datagrams are waiting:
/// small enough that the aggregator parses it while it is still in the cache, and that the
/// batches in flight (at most [`crate::topology`]'s input queue of them) stay a few MiB.
pub const BATCH_BYTES: usize = 256 << 10;

/// How often a receiving thread wakes up to look at its stop flag.
const STOP_POLL_MS: libc::c_int = 100;

/// Most bytes one wake-up reads before it looks at its stop flag again: under a flood the
/// socket never empties, and a stop request must still be seen. More than any receive buffer
/// holds, so the one drain after a stop request reads everything the kernel held then.
const DRAIN_LIMIT: u64 = 64 << 20;

/// True for the 1st, 2nd, 4th, 8th… occurrence: warnings about a recurring condition are
/// logged at these counts so a flood of bad input cannot flood the log.
pub fn warn_due(count: u64) -> bool {
    count.is_power_of_two()
}

/// The reusable receive area of one listener: [`SLOTS`] slots of [`MAX_DATAGRAM`] bytes and
/// the `mmsghdr`/`iovec` arrays pointing into them, allocated once.
struct Arena {
    // The headers hold raw pointers into `iovs` and `buf`; both are boxed slices that never
    // move or resize, so the pointers stay valid for the arena's lifetime.
    buf: Box<[u8]>,
    _iovs: Box<[libc::iovec]>,
    msgs: Box<[libc::mmsghdr]>,
}

impl Arena {
    fn new() -> Self {
        let mut buf = vec![0u8; SLOTS * MAX_DATAGRAM].into_boxed_slice();
        let mut iovs: Box<[libc::iovec]> = buf
            .chunks_exact_mut(MAX_DATAGRAM)
            .map(|slot| libc::iovec { iov_base: slot.as_mut_ptr().cast(), iov_len: MAX_DATAGRAM })
            .collect();
        let msgs = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: `mmsghdr` is a plain C struct for which all-zero bytes are valid
                // (null name, no control data, zero flags).
                let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
                msg.msg_hdr.msg_iov = std::ptr::from_mut(iov);
                msg.msg_hdr.msg_iovlen = 1;
                msg
            })
            .collect();
        Self { buf, _iovs: iovs, msgs }
    }

    /// Receives up to [`SLOTS`] waiting datagrams without blocking; `Ok(0)` when none is waiting.
    fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        loop {
            // SAFETY: `msgs` holds SLOTS initialised headers whose single iovec each points to
            // MAX_DATAGRAM writable bytes of `buf`, all owned by `self` and borrowed mutably here.
            let rc = unsafe {
                libc::recvmmsg(
                    fd,
                    self.msgs.as_mut_ptr(),
                    SLOTS as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if rc >= 0 {
                return Ok(rc as usize);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(0),
                io::ErrorKind::Interrupted => {}
                _ => return Err(err),
            }
        }
    }

    /// Datagram `i` of the last [`Arena::recv`], and whether the kernel truncated it.
    fn datagram(&self, i: usize) -> (&[u8], bool) {
        let msg = &self.msgs[i];
        let len = (msg.msg_len as usize).min(MAX_DATAGRAM);
        let start = i * MAX_DATAGRAM;
        (&self.buf[start..start + len], msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0)
    }
}

/// Where a receiving thread sends what it read, and what it counts.
pub(crate) struct Output<'a> {
    /// Index of the listener, stamped on each batch.
    pub listener: usize,
    /// The listener's counters.
    pub stats: &'a ListenerStats,
    /// Where batches come from.
    pub pool: &'a BatchPool,
    /// Where batches go.
    pub tx: &'a Sender<Input>,
}

/// Receives datagrams on `socket` until `stop` is set, then drains what the kernel still
/// holds and returns. Also returns, with `Ok`, when the receiving side of `tx` is gone.
///
/// Each wake-up reads with `recvmmsg` until the socket is empty, copying the datagrams into
/// pooled batches of up to about [`BATCH_BYTES`]. Between wake-ups the thread sleeps as
/// `pacer` says, or waits in `poll` for at most [`STOP_POLL_MS`], so a stop request is seen
/// within that time.
pub(crate) fn receive_datagrams(
    socket: &Socket,
    out: &Output<'_>,
    mut pacer: Pacer,
    stop: &AtomicBool,
) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    let mut arena = Arena::new();
    loop {
        // Read the flag before draining: whatever arrived before the stop request is read.
        let stopping = stop.load(Ordering::Acquire);
        let next = match drain(fd, &mut arena, out) {
            Ok(Some(read)) => pacer.next(Instant::now(), read.datagrams, read.bytes, read.full),
            Ok(None) => return Ok(()),
            Err(e) if is_transient(&e) => {
                tracing::warn!(listener = out.stats.name, error = %e, "Receive failed; retrying.");
                Next::Sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e),
        };
        if stopping {
            return Ok(());
        }
        match next {
            Next::Read => {}
            Next::Sleep(pause) => std::thread::sleep(pause),
            Next::Wait => {
                wait_readable(fd, STOP_POLL_MS)?;
            }
        }
    }
}

/// What one wake-up read.
struct Read {
    datagrams: usize,
    bytes: u64,
    /// The last `recvmmsg` filled every slot: the socket may still hold more.
    full: bool,
}

/// Errors after which receiving can go on (kernel memory pressure, a signal).
fn is_transient(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::ENOBUFS | libc::EINTR))
}

/// Reads until the socket is empty (or [`DRAIN_LIMIT`] bytes were read), sending full batches
/// on the way and the last one at the end. Returns what was read, or `None` when the
/// aggregator is gone.
fn drain(fd: RawFd, arena: &mut Arena, out: &Output<'_>) -> io::Result<Option<Read>> {
    let mut batch = out.pool.take(out.listener);
    let mut read = Read { datagrams: 0, bytes: 0, full: false };
    loop {
        let received = match arena.recv(fd) {
            Ok(n) => n,
            Err(e) => {
                // Hand on what was read before the error; nothing read is ever dropped.
                if !batch.is_empty() && out.tx.blocking_send(batch.into()).is_err() {
                    return Ok(None);
                }
                return Err(e);
            }
        };
        read.datagrams += received;
        let mut bytes = 0;
        for i in 0..received {
            let (datagram, truncated) = arena.datagram(i);
            bytes += datagram.len() as u64;
            if truncated {
                push_truncated(&mut batch, datagram, out.stats);
            } else {
                batch.push(datagram);
            }
        }
        out.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
        read.bytes += bytes;
        // Fewer than SLOTS means recvmmsg met an empty queue: this wake-up's work is done.
        // After DRAIN_LIMIT bytes the thread looks at its stop flag and paces again.
        let empty = received < SLOTS;
        let done = empty || read.bytes >= DRAIN_LIMIT;
        if (done || batch.data.len() >= BATCH_BYTES) && !batch.is_empty() {
            if out.tx.blocking_send(batch.into()).is_err() {
                return Ok(None);
            }
            batch = out.pool.take(out.listener);
        }
        if done {
            out.pool.give(batch);
            read.full = !empty;
            return Ok(Some(read));
        }
    }
}

/// Keeps the complete lines of a datagram the kernel cut at [`MAX_DATAGRAM`] bytes (everything
/// before its last newline) and counts the truncation; the cut line is dropped.
fn push_truncated(batch: &mut Batch, datagram: &[u8], stats: &ListenerStats) {
    if let Some(end) = datagram.iter().rposition(|&b| b == b'\n') {
        batch.push(&datagram[..end]);
    }
    let count = stats.truncated.fetch_add(1, Ordering::Relaxed) + 1;
    if warn_due(count) {
        tracing::warn!(
            listener = stats.name,
            max_bytes = MAX_DATAGRAM,
            truncated = count,
            "Received a datagram larger than the maximum; kept its complete lines and dropped the rest."
        );
    }
}

/// Waits until `fd` is readable or `timeout_ms` passed; a signal just ends the wait early.
fn wait_readable(fd: RawFd, timeout_ms: libc::c_int) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is one valid pollfd, and the count passed is 1.
    let rc = unsafe { libc::poll(&raw mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(rc > 0)
}
