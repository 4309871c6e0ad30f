use std::io;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::framer::LineFramer;
use super::*;
use crate::aggregator::input::{Batch, BatchPool, Input};
use crate::telemetry::ListenerStats;

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
    rx: mpsc::Receiver<Input>,
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

async fn next(rx: &mut mpsc::Receiver<Input>) -> Vec<Vec<u8>> {
    let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap().into_batch();
    assert_eq!(batch.listener, 2);
    batch.datagrams().map(<[u8]>::to_vec).collect()
}

async fn rest(rx: &mut mpsc::Receiver<Input>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(input) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.unwrap() {
        let batch = input.into_batch();
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
