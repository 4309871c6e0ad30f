//! The Unix datagram listener, and the socket-file handling it shares with the stream listener.
//!
//! Binding a path: a socket file nobody listens on (left by a crashed agent) is removed; a
//! socket someone answers on, or a file that is not a socket, is an error. A missing parent
//! directory is an error too (creating it is the service manager's job). The file gets `mode`
//! and is removed when the listener ends, if it is still the one this listener created.
//!
//! Receiving works as for UDP (see [`super::udp`]): a dedicated thread, `recvmmsg`, an
//! `Arc<AtomicBool>` stop flag, a drain of the kernel queue on stop. Datagrams up to
//! [`kernel::MAX_DATAGRAM`] (64 KiB) are accepted; a larger one is cut by the kernel, its complete
//! lines are kept and it is counted in [`ListenerStats::truncated`]. Unlike UDP, a full Unix
//! datagram queue makes senders wait (or get `EAGAIN`) instead of dropping silently. How many
//! datagrams it queues is set by `net.unix.max_dgram_qlen` (kernel default 10; systemd raises
//! it to 512) more than by the receive buffer.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::sync::mpsc::Sender;

use super::kernel::{self, Output, Pacer};
use crate::aggregator::input::{BatchPool, Input};
use crate::telemetry::ListenerStats;

/// A bound Unix datagram socket, not yet receiving.
#[derive(Debug)]
pub struct UnixListener {
    socket: Socket,
    path: PathBuf,
    /// The file this process created, removed when the listener ends; `None` for a socket
    /// inherited from the service manager, which owns its file.
    file: Option<SocketFile>,
    receive_buffer: usize,
}

/// Binds a Unix datagram socket at `path` with permissions `mode` (e.g. `0o660`) and a receive
/// buffer of `receive_buffer` bytes (0 keeps the kernel default).
pub fn bind(path: &Path, mode: u32, receive_buffer: usize) -> io::Result<UnixListener> {
    let label = format!("unix:{}", path.display());
    let (socket, file) = bind_path(path, Type::DGRAM, mode, |socket| {
        kernel::set_receive_buffer(socket, receive_buffer, &label).map(drop)
    })?;
    let receive_buffer = kernel::granted_receive_buffer(socket.recv_buffer_size()?);
    Ok(UnixListener { socket, path: path.to_owned(), file: Some(file), receive_buffer })
}

/// Adopts a Unix datagram socket already bound at `path` (inherited through socket
/// activation): applies the receive buffer and leaves the file, and its mode, to whoever
/// created it.
pub fn adopt(socket: Socket, path: &Path, receive_buffer: usize) -> io::Result<UnixListener> {
    let label = format!("unix:{}", path.display());
    kernel::set_receive_buffer(&socket, receive_buffer, &label)?;
    let receive_buffer = kernel::granted_receive_buffer(socket.recv_buffer_size()?);
    Ok(UnixListener { socket, path: path.to_owned(), file: None, receive_buffer })
}

impl UnixListener {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `listener` label for telemetry: `unix:PATH`.
    pub fn label(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    /// The receive buffer the kernel granted, in bytes.
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer
    }

    /// Starts receiving on a dedicated thread, with the same contract as
    /// [`super::udp::UdpListener::run`]; the socket file is removed when the thread ends.
    pub fn run(
        self,
        listener: usize,
        stats: Arc<ListenerStats>,
        pool: Arc<BatchPool>,
        tx: Sender<Input>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<JoinHandle<io::Result<()>>> {
        std::thread::Builder::new().name(format!("sluice-unix-{listener}")).spawn(move || {
            let UnixListener { socket, file, .. } = self;
            let out = Output { listener, stats: &stats, pool: &pool, tx: &tx };
            let result = kernel::receive_datagrams(&socket, &out, Pacer::off(), &stop);
            if let Err(e) = &result {
                tracing::error!(listener = stats.name, error = %e, "Unix listener stopped on a receive error.");
            }
            // The socket is no longer read: remove its file so clients fail fast. Returning
            // drops `tx`, which tells the aggregator this input has ended.
            drop(file);
            result
        })
    }
}

/// A socket file this process created; dropping it removes the file if it is still the same
/// file (a newer agent may have replaced it).
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
            && let Err(e) = fs::remove_file(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "Could not remove the socket file.");
        }
    }
}

/// Creates a Unix socket of type `ty`, lets `configure` set options, and binds it at `path`
/// after clearing a stale socket file; then applies `mode`.
pub(crate) fn bind_path(
    path: &Path,
    ty: Type,
    mode: u32,
    configure: impl FnOnce(&Socket) -> io::Result<()>,
) -> io::Result<(Socket, SocketFile)> {
    let context = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("cannot bind {}: directory {} does not exist", path.display(), parent.display()),
        ));
    }
    clear_stale(path, ty)?;
    let socket = Socket::new(Domain::UNIX, ty, None)?;
    configure(&socket)?;
    let addr = SockAddr::unix(path).map_err(|e| context(e, "invalid socket path"))?;
    socket.bind(&addr).map_err(|e| context(e, "cannot bind"))?;
    let meta = fs::symlink_metadata(path)?;
    // From here on the file is ours: dropping `file` on any error below removes it.
    let file = SocketFile { path: path.to_owned(), dev: meta.dev(), ino: meta.ino() };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| context(e, "cannot chmod"))?;
    Ok((socket, file))
}

/// Removes `path` if it is a socket nobody listens on; refuses a live socket or a non-socket.
fn clear_stale(path: &Path, ty: Type) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot inspect {}: {e}", path.display()))),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket; remove it or choose another path", path.display()),
        ));
    }
    let probe = Socket::new(Domain::UNIX, ty, None)?;
    probe.set_nonblocking(true)?;
    let live = |detail: &str| {
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another process is listening on {}{detail}", path.display()),
        ))
    };
    match probe.connect(&SockAddr::unix(path)?) {
        Ok(()) => live(""),
        // The kernel answers ECONNREFUSED when no socket is bound to the file: it is stale.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "Removing a stale socket file.");
            fs::remove_file(path)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot remove stale {}: {e}", path.display())))
        }
        // A stream listener with a full backlog: busy, but alive.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINPROGRESS)) => live(""),
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => live(" (with a different socket type)"),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot probe {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::sync::atomic::Ordering;

    use tokio::sync::mpsc;

    use super::*;
    use crate::sources::statsd::kernel::test_support::collect;

    fn start(
        listener: UnixListener,
        stop: &Arc<AtomicBool>,
    ) -> (Arc<ListenerStats>, mpsc::Receiver<Input>, JoinHandle<io::Result<()>>) {
        let stats = Arc::new(ListenerStats::new(listener.label()));
        // Room for every test's batches: a blocked listener would block the test's sender too,
        // since a full Unix datagram queue makes senders wait.
        let (tx, rx) = mpsc::channel(256);
        let handle = listener.run(1, Arc::clone(&stats), Arc::new(BatchPool::default()), tx, Arc::clone(stop)).unwrap();
        (stats, rx, handle)
    }

    /// A socket file left behind by a dead process is replaced, and the new socket receives.
    #[test]
    fn bind_removes_a_stale_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        drop(UnixDatagram::bind(&path).unwrap()); // Leaves the file, bound to nobody.
        assert!(path.exists());

        let listener = bind(&path, 0o600, 0).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"a:1|c", &path).unwrap();
        let stop = Arc::new(AtomicBool::new(true));
        let (stats, mut rx, handle) = start(listener, &stop);
        // Collect before joining: the thread may wait for room in the channel.
        let got = collect(&mut rx);
        handle.join().unwrap().unwrap();
        assert_eq!(got, [b"a:1|c".to_vec()]);
        assert_eq!(stats.bytes.load(Ordering::Relaxed), 5);
    }

    /// A socket another process is bound to is left alone and the bind fails, naming the path.
    #[test]
    fn bind_refuses_a_live_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let _live = UnixDatagram::bind(&path).unwrap();
        let err = bind(&path, 0o600, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(err.to_string(), format!("another process is listening on {}", path.display()));
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    }

    /// A live listener of the other socket type also counts as live.
    #[test]
    fn bind_refuses_a_live_socket_of_another_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let _live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let err = bind(&path, 0o600, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().starts_with(&format!("another process is listening on {}", path.display())), "{err}");
    }

    /// A regular file at the path is never deleted; the bind fails and says why.
    #[test]
    fn bind_refuses_a_file_that_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        fs::write(&path, b"precious").unwrap();
        let err = bind(&path, 0o600, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            err.to_string(),
            format!("{} exists and is not a socket; remove it or choose another path", path.display())
        );
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }

    /// A missing parent directory is reported, not created.
    #[test]
    fn bind_reports_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/statsd.sock");
        let err = bind(&path, 0o600, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!(
                "cannot bind {}: directory {} does not exist",
                path.display(),
                dir.path().join("missing").display()
            )
        );
        assert!(!dir.path().join("missing").exists());
    }

    /// The socket file gets exactly the configured permission bits.
    #[test]
    fn bind_applies_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let _listener = bind(&path, 0o660, 0).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o660);
        let path2 = dir.path().join("other.sock");
        let _listener2 = bind(&path2, 0o602, 0).unwrap();
        assert_eq!(fs::metadata(&path2).unwrap().permissions().mode() & 0o7777, 0o602);
    }

    /// Queued datagrams are drained on stop, and the socket file is removed when the listener ends.
    #[test]
    fn stop_drains_and_removes_the_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let listener = bind(&path, 0o600, 0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (_stats, mut rx, handle) = start(listener, &stop);
        let client = UnixDatagram::unbound().unwrap();
        let sent: Vec<Vec<u8>> = (0..50).map(|i| format!("u.{i}:{i}|g").into_bytes()).collect();
        for d in &sent {
            client.send_to(d, &path).unwrap();
        }
        stop.store(true, Ordering::Release);
        let got = collect(&mut rx);
        handle.join().unwrap().unwrap();
        assert_eq!(got, sent);
        assert!(!path.exists(), "socket file left behind");
    }

    /// Dropping a listener that never ran removes its socket file too.
    #[test]
    fn dropping_an_unused_listener_removes_the_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let listener = bind(&path, 0o600, 0).unwrap();
        assert!(path.exists());
        drop(listener);
        assert!(!path.exists());
    }

    /// A datagram over 64 KiB keeps its complete lines, loses the cut one, and is counted.
    #[test]
    fn oversized_datagram_keeps_complete_lines_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let listener = bind(&path, 0o600, 0).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.set_write_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        // 700 lines of 100 bytes = 70 000 bytes; the cut falls inside line 655 (0-based).
        let line = |i: usize| format!("{i:0>95}:1|c").into_bytes();
        let mut big = Vec::new();
        for i in 0..700 {
            big.extend_from_slice(&line(i));
            big.push(b'\n');
        }
        assert_eq!(big.len(), 70_000);
        client.send_to(&big, &path).unwrap();
        client.send_to(b"after:1|c", &path).unwrap();

        let stop = Arc::new(AtomicBool::new(true));
        let (stats, mut rx, handle) = start(listener, &stop);
        let got = collect(&mut rx);
        handle.join().unwrap().unwrap();
        assert_eq!(got.len(), 2);
        // 65 536 / 100 = 655 complete lines; the kept part ends before the 655th newline.
        assert_eq!(got[0], big[..655 * 100 - 1]);
        assert_eq!(got[1], b"after:1|c");
        assert_eq!(stats.truncated.load(Ordering::Relaxed), 1);
        assert_eq!(stats.bytes.load(Ordering::Relaxed), (kernel::MAX_DATAGRAM + 9) as u64);
    }
}
