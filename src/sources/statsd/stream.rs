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

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use socket2::Type;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::sync::mpsc::Sender;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::batch::{Batch, BatchPool};
use super::kernel::warn_due;
use super::unix::{SocketFile, bind_path};
use crate::telemetry::ListenerStats;

/// Longest line accepted, in bytes, not counting its newline.
pub const MAX_LINE: usize = 64 * 1024;

/// Pending connections the kernel queues before `accept`.
const BACKLOG: i32 = 1024;

/// After a stop request, a connection reads at most this much more before it ends, so a client
/// that never pauses cannot hold the shutdown.
const DRAIN_LIMIT: usize = 16 << 20;

/// A bound, listening Unix stream socket, not yet accepting.
#[derive(Debug)]
pub struct StreamListener {
    listener: std::os::unix::net::UnixListener,
    file: SocketFile,
}

/// Binds and listens on a Unix stream socket at `path` with permissions `mode`. Needs no async
/// runtime; [`StreamListener::run`] does.
pub fn bind(path: &Path, mode: u32) -> io::Result<StreamListener> {
    let (socket, file) = bind_path(path, Type::STREAM, mode, |_| Ok(()))?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    let listener = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
    Ok(StreamListener { listener, file })
}

impl StreamListener {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The `listener` label for telemetry: `unix-stream:PATH`.
    pub fn label(&self) -> String {
        format!("unix-stream:{}", self.file.path().display())
    }

    /// Accepts connections until `stop` reads `true` or its sender is dropped, then lets every
    /// connection drain and returns. Batches stamped with `listener` go to `tx`; a full channel
    /// makes the connections wait, and the clients with them.
    pub async fn run(
        self,
        listener: usize,
        stats: Arc<ListenerStats>,
        pool: Arc<BatchPool>,
        tx: Sender<Batch>,
        mut stop: watch::Receiver<bool>,
    ) -> io::Result<()> {
        let StreamListener { listener: std_listener, file } = self;
        let accept = tokio::net::UnixListener::from_std(std_listener)?;
        let out = Out { listener, stats, pool, tx };
        let mut connections = JoinSet::new();
        // Each connection watches its own clone; `stop` itself is borrowed by the select below.
        let connection_stop = stop.clone();
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                accepted = accept.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(connection(stream, out.clone(), connection_stop.clone()));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(listener = out.stats.name, error = %e, "Accept failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // Stop accepting. Clients already queued in the backlog have written what they meant to
        // send: take and drain them too, then close the socket so new clients are refused.
        match accept.into_std() {
            Ok(backlog) => loop {
                match backlog.accept() {
                    Ok((stream, _)) => {
                        let out = out.clone();
                        connections.spawn(async move { drain(stream, &mut LineFramer::new(), &out).await });
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break, // WouldBlock: the backlog is empty.
                }
            },
            Err(e) => tracing::warn!(listener = out.stats.name, error = %e, "Cannot drain the accept backlog."),
        }
        // The listening socket is closed by now; remove its file.
        drop(file);
        while connections.join_next().await.is_some() {}
        // Returning drops the last `tx` clone of this listener: the aggregator sees its end.
        Ok(())
    }
}

/// What a connection needs to hand on what it read.
#[derive(Clone)]
struct Out {
    listener: usize,
    stats: Arc<ListenerStats>,
    pool: Arc<BatchPool>,
    tx: Sender<Batch>,
}

impl Out {
    /// Frames `n` freshly read bytes and sends the complete lines. False when the aggregator
    /// is gone.
    async fn deliver(&self, framer: &mut LineFramer, n: usize) -> bool {
        self.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let mut batch = self.pool.take(self.listener);
        let discarded = framer.commit(n, &mut batch);
        self.count_discarded(discarded);
        self.send(batch).await
    }

    /// Delivers the unterminated last line at end of stream.
    async fn finish(&self, framer: &mut LineFramer) -> bool {
        let mut batch = self.pool.take(self.listener);
        framer.finish(&mut batch);
        self.send(batch).await
    }

    async fn send(&self, batch: Batch) -> bool {
        if batch.is_empty() {
            self.pool.give(batch);
            return true;
        }
        self.tx.send(batch).await.is_ok()
    }

    fn count_discarded(&self, discarded: u64) {
        if discarded == 0 {
            return;
        }
        let count = self.stats.truncated.fetch_add(discarded, Ordering::Relaxed) + discarded;
        if (count - discarded + 1..=count).any(warn_due) {
            tracing::warn!(
                listener = self.stats.name,
                max_bytes = MAX_LINE,
                discarded = count,
                "Discarded a line longer than the maximum."
            );
        }
    }
}

/// Resolves once `stop` reads `true` or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await: drop it here.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Reads one connection until end of stream, an error, or a stop request.
async fn connection(mut stream: UnixStream, out: Out, mut stop: watch::Receiver<bool>) {
    let mut framer = LineFramer::new();
    loop {
        let read = tokio::select! {
            biased;
            () = stopped(&mut stop) => None,
            read = stream.read(framer.spare()) => Some(read),
        };
        let delivered = match read {
            None => {
                // A real read is needed: tokio's `try_read` trusts its readiness cache, which can
                // say "nothing" although the kernel holds data the reactor has not reported yet.
                match stream.into_std() {
                    Ok(stream) => drain(stream, &mut framer, &out).await,
                    Err(e) => tracing::debug!(listener = out.stats.name, error = %e, "Cannot drain the connection."),
                }
                return;
            }
            Some(Ok(0)) => {
                out.finish(&mut framer).await;
                return;
            }
            Some(Ok(n)) => out.deliver(&mut framer, n).await,
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => true,
            Some(Err(e)) => {
                tracing::debug!(listener = out.stats.name, error = %e, "Connection read failed; closing it.");
                return;
            }
        };
        if !delivered {
            return;
        }
    }
}

/// After a stop request: reads what the kernel already holds for the connection, without
/// waiting for more.
async fn drain(stream: std::os::unix::net::UnixStream, framer: &mut LineFramer, out: &Out) {
    if let Err(e) = stream.set_nonblocking(true) {
        tracing::debug!(listener = out.stats.name, error = %e, "Cannot drain the connection.");
        return;
    }
    let mut total = 0;
    while total < DRAIN_LIMIT {
        match (&stream).read(framer.spare()) {
            Ok(0) => {
                out.finish(framer).await;
                return;
            }
            Ok(n) => {
                total += n;
                if !out.deliver(framer, n).await {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return, // WouldBlock: all read. Anything else: nothing more to read.
        }
    }
}

/// Splits a byte stream into chunks of complete lines, in a fixed buffer of one maximal line.
struct LineFramer {
    /// `buf[..filled]` is the unterminated tail of the stream; reads land after it.
    buf: Box<[u8]>,
    filled: usize,
    /// Inside a line already found too long: skip up to its newline.
    discarding: bool,
}

impl LineFramer {
    fn new() -> Self {
        // One maximal line plus its newline.
        Self { buf: vec![0; MAX_LINE + 1].into_boxed_slice(), filled: 0, discarding: false }
    }

    /// Where the next read goes; never empty.
    fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Takes `n` bytes just read into [`LineFramer::spare`]: pushes the complete lines (without
    /// the final newline) as one datagram and keeps the tail. Returns how many over-long lines
    /// it started discarding.
    fn commit(&mut self, n: usize, batch: &mut Batch) -> u64 {
        let start = self.filled;
        self.filled += n;
        // Complete lines begin at `from`; the bytes before `start` hold no newline.
        let mut from = 0;
        if self.discarding {
            let Some(i) = self.buf[start..self.filled].iter().position(|&b| b == b'\n') else {
                self.filled = 0;
                return 0;
            };
            from = start + i + 1;
            self.discarding = false;
        }
        let search = start.max(from);
        if let Some(i) = self.buf[search..self.filled].iter().rposition(|&b| b == b'\n') {
            let end = search + i;
            if end > from {
                batch.push(&self.buf[from..end]);
            }
            from = end + 1;
        }
        self.buf.copy_within(from..self.filled, 0);
        self.filled -= from;
        if self.filled == self.buf.len() {
            // A full buffer without a newline: the line is longer than MAX_LINE.
            self.filled = 0;
            self.discarding = true;
            return 1;
        }
        0
    }

    /// At end of stream: pushes the unterminated last line, if any.
    fn finish(&mut self, batch: &mut Batch) {
        if self.filled > 0 && !self.discarding {
            batch.push(&self.buf[..self.filled]);
        }
        self.filled = 0;
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;

    use super::*;

    /// Feeds `chunks` through a framer as if each were one read; returns the datagrams and the
    /// count of discarded lines.
    fn frame(chunks: &[&[u8]], eof: bool) -> (Vec<Vec<u8>>, u64) {
        let mut framer = LineFramer::new();
        let mut batch = Batch::default();
        let mut discarded = 0;
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() {
                let spare = framer.spare();
                let n = spare.len().min(rest.len());
                spare[..n].copy_from_slice(&rest[..n]);
                discarded += framer.commit(n, &mut batch);
                rest = &rest[n..];
            }
        }
        if eof {
            framer.finish(&mut batch);
        }
        (batch.datagrams().map(<[u8]>::to_vec).collect(), discarded)
    }

    /// A line cut across reads is delivered whole, with the lines completed by the same read.
    #[test]
    fn framer_reassembles_lines_split_across_reads() {
        let (got, discarded) = frame(&[b"a:1|c\nb:2", b"|c\nc:3|c\nd:", b"4|c\n"], false);
        assert_eq!(got, [b"a:1|c".to_vec(), b"b:2|c\nc:3|c".to_vec(), b"d:4|c".to_vec()]);
        assert_eq!(discarded, 0);
    }

    /// A line of exactly `MAX_LINE` bytes passes; one byte more is discarded up to its newline.
    #[test]
    fn framer_accepts_max_line_and_discards_longer() {
        let max = vec![b'y'; MAX_LINE];
        let mut input = max.clone();
        input.push(b'\n');
        input.extend(std::iter::repeat_n(b'z', MAX_LINE + 1));
        input.extend_from_slice(b"zzz\nok:1|c\n");
        let (got, discarded) = frame(&[&input], true);
        assert_eq!(got, [max, b"ok:1|c".to_vec()]);
        assert_eq!(discarded, 1);
    }

    /// An over-long line still open at end of stream is not delivered.
    #[test]
    fn framer_drops_an_over_long_line_at_eof() {
        let input = vec![b'x'; 3 * MAX_LINE];
        let (got, discarded) = frame(&[b"a:1|c\n", &input], true);
        assert_eq!(got, [b"a:1|c".to_vec()]);
        assert_eq!(discarded, 1);
    }

    /// Empty lines alone produce no datagram.
    #[test]
    fn framer_skips_a_chunk_of_only_a_newline() {
        let (got, _) = frame(&[b"\n", b"a:1|c\n"], true);
        assert_eq!(got, [b"a:1|c".to_vec()]);
    }

    struct Running {
        stats: Arc<ListenerStats>,
        rx: mpsc::Receiver<Batch>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<io::Result<()>>,
    }

    fn start(listener: StreamListener, capacity: usize) -> Running {
        let stats = Arc::new(ListenerStats::new(listener.label()));
        let (tx, rx) = mpsc::channel(capacity);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(listener.run(2, Arc::clone(&stats), Arc::new(BatchPool::default()), tx, stop_rx));
        Running { stats, rx, stop, task }
    }

    async fn next(rx: &mut mpsc::Receiver<Batch>) -> Vec<Vec<u8>> {
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch.listener, 2);
        batch.datagrams().map(<[u8]>::to_vec).collect()
    }

    async fn rest(rx: &mut mpsc::Receiver<Batch>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(batch) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.unwrap() {
            out.extend(batch.datagrams().map(<[u8]>::to_vec));
        }
        out
    }

    /// Over a real connection: a line split across two writes arrives whole, and the
    /// unterminated last line is delivered when the client closes.
    #[tokio::test]
    async fn connection_reassembles_split_lines_and_delivers_the_last_at_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let mut run = start(bind(&path, 0o600).unwrap(), 16);
        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"a:1|c\nb:2").await.unwrap();
        assert_eq!(next(&mut run.rx).await, [b"a:1|c".to_vec()]);
        client.write_all(b"|c\nlast:3|g").await.unwrap();
        assert_eq!(next(&mut run.rx).await, [b"b:2|c".to_vec()]);
        client.shutdown().await.unwrap();
        assert_eq!(next(&mut run.rx).await, [b"last:3|g".to_vec()]);
        assert_eq!(run.stats.bytes.load(Ordering::Relaxed), 20);

        run.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), run.task).await.unwrap().unwrap().unwrap();
        assert!(rest(&mut run.rx).await.is_empty());
        assert!(!path.exists(), "socket file left behind");
    }

    /// Over a real connection: a 70 000-byte line is discarded and counted, the next line kept.
    #[tokio::test]
    async fn connection_discards_and_counts_an_over_long_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let mut run = start(bind(&path, 0o600).unwrap(), 16);
        let mut client = UnixStream::connect(&path).await.unwrap();
        let mut input = vec![b'x'; 70_000];
        input.extend_from_slice(b"\nok:1|c\n");
        client.write_all(&input).await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(next(&mut run.rx).await, [b"ok:1|c".to_vec()]);
        drop(run.stop); // A dropped stop sender also stops the listener.
        tokio::time::timeout(Duration::from_secs(20), run.task).await.unwrap().unwrap().unwrap();
        assert_eq!(run.stats.truncated.load(Ordering::Relaxed), 1);
        assert_eq!(run.stats.bytes.load(Ordering::Relaxed), 70_008);
    }

    /// On stop, an open connection's buffered complete lines are delivered, the listener
    /// stops accepting, and its socket file is removed.
    #[tokio::test]
    async fn stop_delivers_buffered_lines_and_removes_the_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let listener = bind(&path, 0o660).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o660);
        let mut run = start(listener, 1);
        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"first:1|c\n").await.unwrap();
        while run.rx.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The channel is full: the connection blocks in send after its next read, and what is
        // written after that waits in the kernel until the stop request.
        client.write_all(b"second:1|c\n").await.unwrap();
        let mut lines = b"first:1|c\nsecond:1|c".to_vec();
        let mut more = Vec::new();
        for i in 0..100 {
            more.extend_from_slice(format!("s.{i}:{i}|c\n").as_bytes());
            lines.extend_from_slice(format!("\ns.{i}:{i}|c").as_bytes());
        }
        client.write_all(&more).await.unwrap();
        client.write_all(b"open:1|c").await.unwrap(); // Unterminated: not delivered on stop.
        run.stop.send(true).unwrap();
        let got: Vec<u8> = rest(&mut run.rx).await.join(&b'\n');
        assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(lines).unwrap());
        tokio::time::timeout(Duration::from_secs(20), run.task).await.unwrap().unwrap().unwrap();
        assert!(!path.exists(), "socket file left behind");
        assert!(UnixStream::connect(&path).await.is_err());
    }

    /// A client that connected and wrote before the stop, but was never accepted, is still read.
    #[tokio::test]
    async fn stop_drains_connections_still_in_the_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        // Single-threaded runtime: the listener task does not run before the first await.
        let mut run = start(bind(&path, 0o600).unwrap(), 16);
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        std::io::Write::write_all(&mut client, b"queued:1|c\nend:2|c").unwrap();
        drop(client);
        run.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), run.task).await.unwrap().unwrap().unwrap();
        assert_eq!(rest(&mut run.rx).await, [b"queued:1|c".to_vec(), b"end:2|c".to_vec()]);
    }

    /// The stream listener shares the datagram listener's refusal of a live socket.
    #[tokio::test]
    async fn bind_refuses_a_live_stream_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statsd.sock");
        let _first = bind(&path, 0o600).unwrap();
        let err = bind(&path, 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(err.to_string(), format!("another process is listening on {}", path.display()));
    }
}
