//! Socket facts from the kernel: the granted receive buffer, the socket inode, and the UDP
//! drop counter in `/proc/net/udp{,6}`.

use std::io;
use std::os::fd::RawFd;

use socket2::Socket;

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
