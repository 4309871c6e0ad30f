//! [`StreamListener`]: binds, accepts, and runs one task per connection until told to stop.

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

use super::framer::{LineFramer, MAX_LINE};
use crate::aggregator::input::{Batch, BatchPool, Input};
use crate::sources::statsd::kernel::warn_due;
use crate::sources::statsd::unix::{SocketFile, bind_path};
use crate::telemetry::ListenerStats;

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
        tx: Sender<Input>,
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
    tx: Sender<Input>,
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
        self.tx.send(batch.into()).await.is_ok()
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
