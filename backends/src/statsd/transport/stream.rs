//! Newline-terminated lines over a TCP or Unix stream connection, opened again after a failure.
//!
//! The guarantee, exactly. A batch is whole lines, each ending in `\n`, and counts as sent
//! (acknowledged to the delivery task) only once every byte of it was written into the
//! connection. Any failure — connect refused, a write error, a write that does not finish
//! within [`WRITE_TIMEOUT`], the upstream having closed the connection — drops the
//! connection and fails the batch as retriable; the delivery task waits its backoff and sends
//! the whole batch again on a new connection. So:
//!
//! - While the upstream is up and reads, nothing is lost: TCP delivers the bytes in order,
//!   and its flow control makes sluice wait instead of dropping (no pacing is needed).
//! - A stopped upstream loses nothing either when it closed the connection while idle, the
//!   usual case between flushes: before each batch the connection is checked for the
//!   upstream's end-of-stream, and a closed one is replaced before anything is written into
//!   it (a write into a connection the peer closed would "succeed" and be lost).
//! - A connection that breaks in the middle of a batch may have carried a prefix of it to
//!   the upstream; that prefix is sent again with the whole batch, so up to one batch
//!   (`max_datagram_bytes`, 16 KiB by default) of lines may be counted twice per broken
//!   connection. A line cut by the break is never counted: upstreams read up to the last
//!   newline and discard the partial line with the connection.
//! - Bytes the upstream's kernel accepted but the upstream never read (it exited right after
//!   sluice wrote them) are lost, and no sender can see it: the StatsD protocol has no
//!   acknowledgement. This is the same loss as an upstream that dies with unflushed
//!   aggregates.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixStream};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one batch may take to be written (an upstream that stopped reading).
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the connection goes.
#[derive(Debug)]
pub(crate) enum Peer {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix stream socket's path.
    Unix(PathBuf),
}

/// A stream sender: one connection, opened at the first send and after each failure.
#[derive(Debug)]
pub(crate) struct Stream {
    peer: Peer,
    connection: Option<Connection>,
}

#[derive(Debug)]
enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Connection {
    /// True when the upstream closed its end (or the connection failed). StatsD upstreams
    /// never write to the sender, so anything readable is end-of-stream or an error; bytes
    /// that do arrive are discarded.
    fn closed_by_peer(&self) -> bool {
        let mut buf = [0; 512];
        loop {
            let read = match self {
                Self::Tcp(s) => s.try_read(&mut buf),
                Self::Unix(s) => s.try_read(&mut buf),
            };
            match read {
                Ok(0) => return true,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.write_all(bytes).await,
            Self::Unix(s) => s.write_all(bytes).await,
        }
    }
}

impl Stream {
    /// A sender to `peer`; nothing is opened yet.
    pub(crate) fn new(peer: Peer) -> Self {
        Self { peer, connection: None }
    }

    async fn connect(&self) -> io::Result<Connection> {
        let connect = async {
            match &self.peer {
                Peer::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    // Batches are whole; waiting to coalesce them only adds latency.
                    stream.set_nodelay(true)?;
                    Ok(Connection::Tcp(stream))
                }
                Peer::Unix(path) => Ok(Connection::Unix(UnixStream::connect(path).await?)),
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))
    }

    /// Writes one batch of terminated lines; on any failure the connection is dropped, so
    /// the next attempt starts on a new one (see the module docs for what that guarantees).
    pub(crate) async fn send(&mut self, batch: &[u8]) -> io::Result<()> {
        if self.connection.as_ref().is_some_and(Connection::closed_by_peer) {
            tracing::info!(peer = ?self.peer, "The StatsD upstream closed the connection; reconnecting.");
            self.connection = None;
        }
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let connection = self.connection.insert(connection);
        let written = tokio::time::timeout(WRITE_TIMEOUT, connection.write_all(batch))
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")));
        if written.is_err() {
            // Part of the batch may be in the old connection: the whole batch goes again on
            // a new one.
            self.connection = None;
        }
        written
    }

    /// Flushes and closes the connection at shutdown.
    pub(crate) async fn close(&mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = match connection {
                Connection::Tcp(mut s) => s.shutdown().await,
                Connection::Unix(mut s) => s.shutdown().await,
            };
        }
    }
}
