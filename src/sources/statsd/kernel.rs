//! Kernel interfaces shared by the datagram listeners: batched receive with `recvmmsg`, the
//! receive-buffer check, the socket inode, and the UDP drop counter in `/proc/net/udp{,6}`.
//!
//! The receive loop runs on a dedicated OS thread, not on the async runtime: a listener that
//! waits for the aggregator blocks in [`Sender::blocking_send`] and leaves further datagrams
//! in the kernel buffer, which is the intended back-pressure.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::Socket;
use tokio::sync::mpsc::Sender;

use super::batch::{Batch, BatchPool};
use crate::telemetry::ListenerStats;

/// Datagrams received per `recvmmsg` call.
pub const SLOTS: usize = 64;

/// Bytes per datagram slot. UDP payloads are at most 65 507 bytes (IPv4) so they always fit;
/// a larger Unix datagram is truncated and counted in [`ListenerStats::truncated`].
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// A batch is handed on once it holds this many bytes, even while more datagrams are waiting.
const BATCH_BYTES: usize = 1 << 20;

/// How often a receiving thread wakes up to look at its stop flag.
const STOP_POLL_MS: libc::c_int = 100;

/// The size the kernel actually granted for a receive buffer, given the value `SO_RCVBUF`
/// reads back. Linux doubles the requested value to account for its bookkeeping overhead and
/// reports the doubled figure, so the usable size is half of it.
pub fn granted_receive_buffer(reported: usize) -> usize {
    if cfg!(target_os = "linux") { reported / 2 } else { reported }
}

/// `Some(granted)` when the kernel granted less receive buffer than `requested`, given the
/// value `SO_RCVBUF` reads back; `None` when the request was met.
pub fn receive_buffer_shortfall(requested: usize, reported: usize) -> Option<usize> {
    let granted = granted_receive_buffer(reported);
    (granted < requested).then_some(granted)
}

/// Sets `SO_RCVBUF` to `requested` bytes (0 keeps the kernel default), reads it back and warns
/// when the kernel capped it. Returns the granted size.
pub fn set_receive_buffer(socket: &Socket, requested: usize, listener: &str) -> io::Result<usize> {
    if requested > 0 {
        socket.set_recv_buffer_size(requested)?;
    }
    let reported = socket.recv_buffer_size()?;
    if requested > 0
        && let Some(granted) = receive_buffer_shortfall(requested, reported)
    {
        tracing::warn!(
            listener,
            requested,
            granted,
            "The kernel granted a smaller receive buffer than configured; raise net.core.rmem_max to at least \
             the configured size."
        );
    }
    Ok(granted_receive_buffer(reported))
}

/// The inode of an open socket (`st_ino` of `fstat`), the key of its row in `/proc/net/udp`.
pub fn socket_inode(fd: RawFd) -> io::Result<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is a valid out-pointer for one `struct stat`; `fstat` only writes to it.
    let rc = unsafe { libc::fstat(fd, stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fstat` succeeded, so it initialised the struct.
    Ok(unsafe { stat.assume_init() }.st_ino)
}

/// Datagrams the kernel dropped for the UDP socket with this inode because its receive buffer
/// was full (the `drops` column of `/proc/net/udp` and `/proc/net/udp6`). `None` when no such
/// socket exists in this network namespace or the files cannot be read.
pub fn udp_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok().and_then(|text| parse_udp_drops(&text, inode)))
}

/// The `drops` column of the row for `inode` in the text of `/proc/net/udp{,6}`.
///
/// Columns: `sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops`.
pub fn parse_udp_drops(text: &str, inode: u64) -> Option<u64> {
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let row_inode: u64 = fields.get(9)?.parse().ok()?;
        if row_inode != inode || fields.len() < 13 {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

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
    pub tx: &'a Sender<Batch>,
}

/// Receives datagrams on `socket` until `stop` is set, then drains what the kernel still
/// holds and returns. Also returns, with `Ok`, when the receiving side of `tx` is gone.
///
/// Each wake-up reads with `recvmmsg` until the socket is empty, copying the datagrams into
/// pooled batches of up to about [`BATCH_BYTES`]; between wake-ups it waits in `poll` for at
/// most [`STOP_POLL_MS`], so a stop request is seen within that time.
pub(crate) fn receive_datagrams(socket: &Socket, out: &Output<'_>, stop: &AtomicBool) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    let mut arena = Arena::new();
    loop {
        // Read the flag before draining: whatever arrived before the stop request is read.
        let stopping = stop.load(Ordering::Acquire);
        match drain(fd, &mut arena, out) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) if is_transient(&e) => {
                tracing::warn!(listener = out.stats.name, error = %e, "Receive failed; retrying.");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
        if stopping {
            return Ok(());
        }
        wait_readable(fd, STOP_POLL_MS)?;
    }
}

/// Errors after which receiving can go on (kernel memory pressure, a signal).
fn is_transient(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::ENOBUFS | libc::EINTR))
}

/// Reads until the socket is empty, sending full batches on the way and the last one at the
/// end. `Ok(false)` when the aggregator is gone.
fn drain(fd: RawFd, arena: &mut Arena, out: &Output<'_>) -> io::Result<bool> {
    let mut batch = out.pool.take(out.listener);
    loop {
        let received = match arena.recv(fd) {
            Ok(n) => n,
            Err(e) => {
                // Hand on what was read before the error; nothing read is ever dropped.
                if !batch.is_empty() && out.tx.blocking_send(batch).is_err() {
                    return Ok(false);
                }
                return Err(e);
            }
        };
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
        // Fewer than SLOTS means recvmmsg met an empty queue: this wake-up's work is done.
        let empty = received < SLOTS;
        if (empty || batch.data.len() >= BATCH_BYTES) && !batch.is_empty() {
            if out.tx.blocking_send(batch).is_err() {
                return Ok(false);
            }
            batch = out.pool.take(out.listener);
        }
        if empty {
            out.pool.give(batch);
            return Ok(true);
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
fn wait_readable(fd: RawFd, timeout_ms: libc::c_int) -> io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is one valid pollfd, and the count passed is 1.
    let rc = unsafe { libc::poll(&raw mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Helpers for the listener tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::time::{Duration, Instant};

    use tokio::sync::mpsc::Receiver;
    use tokio::sync::mpsc::error::TryRecvError;

    use super::Batch;

    /// How long a test waits for a batch before failing instead of hanging.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// The next batch, `None` once every sender is gone; panics after [`PATIENCE`].
    pub(crate) fn recv(rx: &mut Receiver<Batch>) -> Option<Batch> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match rx.try_recv() {
                Ok(batch) => return Some(batch),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "no batch within {PATIENCE:?}");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Every datagram until every sender is gone.
    pub(crate) fn collect(rx: &mut Receiver<Batch>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(batch) = recv(rx) {
            out.extend(batch.datagrams().map(<[u8]>::to_vec));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;

    use socket2::{Domain, Protocol, Type};

    use super::*;

    const PROC_NET_UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
                                timeout inode ref pointer drops
  412: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 93061 2 ffff8cf5c6a1e000 0
  519: 0100007F:A028 00000000:0000 07 00000000:00001200 00:00000000 00000000     0        0 93077 2 ffff8cf5c6a1e400 1729
";

    /// The drops column is read from the row whose inode matches, and only from it.
    #[test]
    fn parse_udp_drops_reads_the_row_of_the_inode() {
        assert_eq!(parse_udp_drops(PROC_NET_UDP, 93077), Some(1729));
        assert_eq!(parse_udp_drops(PROC_NET_UDP, 93061), Some(0));
        assert_eq!(parse_udp_drops(PROC_NET_UDP, 4242), None);
    }

    /// The kernel reports twice the usable size; a request is short only against half of it.
    #[test]
    fn receive_buffer_shortfall_compares_against_half_the_reported_size() {
        // Request met: Linux reports 2 × 262 144.
        assert_eq!(receive_buffer_shortfall(262_144, 524_288), None);
        // Capped at rmem_max = 212 992: reported 425 984, granted 212 992.
        assert_eq!(receive_buffer_shortfall(1 << 30, 425_984), Some(212_992));
        // The doubled figure alone would look like a met request; it must not.
        assert_eq!(receive_buffer_shortfall(300_000, 425_984), Some(212_992));
    }

    /// Warnings about a recurring condition fire at the 1st, 2nd, 4th, 8th… occurrence.
    #[test]
    fn warn_due_fires_at_powers_of_two() {
        let due: Vec<u64> = (1..=20).filter(|&n| warn_due(n)).collect();
        assert_eq!(due, [1, 2, 4, 8, 16]);
    }

    /// A flooded socket with a tiny buffer shows drops in /proc/net/udp, and every datagram
    /// sent was either queued or counted there.
    #[test]
    fn udp_drops_counts_what_a_full_receive_buffer_refused() {
        let receiver = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        receiver.set_recv_buffer_size(1).unwrap(); // The kernel rounds it up to its minimum.
        receiver.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        let receiver: UdpSocket = receiver.into();
        let addr = receiver.local_addr().unwrap();
        let inode = socket_inode(receiver.as_raw_fd()).unwrap();
        assert_eq!(udp_drops(inode), Some(0));

        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let payload = [b'x'; 1000];
        for _ in 0..500 {
            sender.send_to(&payload, addr).unwrap();
        }
        let first = udp_drops(inode).unwrap();
        assert!(first > 0, "no drops after flooding a tiny buffer");

        for _ in 0..500 {
            sender.send_to(&payload, addr).unwrap();
        }
        let second = udp_drops(inode).unwrap();
        assert!(second > first, "drops did not grow: {first} then {second}");

        receiver.set_nonblocking(true).unwrap();
        let mut queued = 0;
        let mut buf = [0u8; 2000];
        while receiver.recv(&mut buf).is_ok() {
            queued += 1;
        }
        assert_eq!(queued + second, 1000);
        assert_eq!(udp_drops(inode), Some(second));
    }
}
