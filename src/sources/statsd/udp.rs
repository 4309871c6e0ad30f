//! The UDP listener: bound at startup, then run on a dedicated OS thread that receives with
//! `recvmmsg`, paced by the load (see [`Pacer`]), and hands pooled batches to the aggregator.
//!
//! Shutdown: the thread checks an `Arc<AtomicBool>` stop flag at least every 100 ms. Once set,
//! it drains what the kernel already holds, sends the last batch and returns, dropping its
//! `Sender`. A plain flag rather than an async signal because the thread is not on the
//! runtime and wakes up on its own.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc::Sender;

use super::kernel::{self, Output, Pacer};
use crate::aggregator::input::{BatchPool, Input};
use crate::telemetry::ListenerStats;

/// A bound UDP socket, not yet receiving.
#[derive(Debug)]
pub struct UdpListener {
    socket: Socket,
    local_addr: SocketAddr,
    receive_buffer: usize,
    inode: u64,
}

/// Binds a UDP socket on `addr` with a receive buffer of `receive_buffer` bytes (0 keeps the
/// kernel default). Logs a warning when the kernel grants less than asked (`net.core.rmem_max`
/// caps it).
pub fn bind(addr: SocketAddr, receive_buffer: usize) -> io::Result<UdpListener> {
    let label = format!("udp:{addr}");
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Set before bind so no datagram ever meets the default-sized buffer.
    let granted = kernel::set_receive_buffer(&socket, receive_buffer, &label)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP listener on {addr}: {e}")))?;
    let local_addr = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other(format!("UDP listener on {addr} has no IP address")))?;
    let inode = kernel::socket_inode(socket.as_raw_fd())?;
    Ok(UdpListener { socket, local_addr, receive_buffer: granted, inode })
}

/// Adopts a UDP socket already bound (inherited through socket activation), applying the
/// receive buffer as [`bind`] does.
pub fn adopt(socket: Socket, receive_buffer: usize) -> io::Result<UdpListener> {
    let local_addr = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("an inherited UDP socket has no IP address"))?;
    let granted = kernel::set_receive_buffer(&socket, receive_buffer, &format!("udp:{local_addr}"))?;
    let inode = kernel::socket_inode(socket.as_raw_fd())?;
    Ok(UdpListener { socket, local_addr, receive_buffer: granted, inode })
}

impl UdpListener {
    /// The bound address (the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The `listener` label for telemetry: `udp:ADDR` with the bound address.
    pub fn label(&self) -> String {
        format!("udp:{}", self.local_addr)
    }

    /// The receive buffer the kernel granted, in bytes.
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer
    }

    /// The socket's inode, the key of its drop counter in `/proc/net/udp{,6}`.
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// Starts receiving on a dedicated thread; records the socket inode in `stats.udp_inode`.
    ///
    /// The thread sends batches stamped with `listener` to `tx` (waiting when the channel is
    /// full, so the kernel buffer absorbs bursts), and returns once `stop` is set and the
    /// kernel buffer is drained, or when the receiver of `tx` is dropped. Its result is an
    /// error only for a receive error it cannot recover from.
    pub fn run(
        self,
        listener: usize,
        stats: Arc<ListenerStats>,
        pool: Arc<BatchPool>,
        tx: Sender<Input>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<JoinHandle<io::Result<()>>> {
        stats.udp_inode.store(self.inode, Ordering::Relaxed);
        std::thread::Builder::new().name(format!("sluice-udp-{listener}")).spawn(move || {
            let out = Output { listener, stats: &stats, pool: &pool, tx: &tx };
            let pacer = Pacer::new(self.receive_buffer);
            let result = kernel::receive_datagrams(&self.socket, &out, pacer, &stop);
            if let Err(e) = &result {
                tracing::error!(listener = stats.name, error = %e, "UDP listener stopped on a receive error.");
            }
            // Returning drops `tx`: once every listener has, the aggregator sees end of input.
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    use tokio::sync::mpsc;

    use super::*;
    use crate::sources::statsd::kernel::test_support::{collect, recv};

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    /// Datagram `i` of a test stream: distinct content and lengths from 1 to over 1 000 bytes.
    fn datagram(i: usize) -> Vec<u8> {
        let mut d = format!("metric.{i}:{i}|c|#n:").into_bytes();
        d.resize(d.len() + i % 1000, b'a' + (i % 26) as u8);
        d
    }

    fn start(
        listener: UdpListener,
        stop: &Arc<AtomicBool>,
    ) -> (Arc<ListenerStats>, mpsc::Receiver<Input>, JoinHandle<io::Result<()>>) {
        let stats = Arc::new(ListenerStats::new(listener.label()));
        let (tx, rx) = mpsc::channel(16);
        let handle = listener.run(3, Arc::clone(&stats), Arc::new(BatchPool::default()), tx, Arc::clone(stop)).unwrap();
        (stats, rx, handle)
    }

    /// Every one of 1 000 datagrams, plus one of the largest UDP size, arrives intact, in order,
    /// with exact boundaries and byte count.
    #[test]
    fn batched_receive_delivers_every_datagram_intact() {
        let listener = bind(loopback(), 4 << 20).unwrap();
        let addr = listener.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let (stats, mut rx, handle) = start(listener, &stop);
        let sender = UdpSocket::bind(loopback()).unwrap();

        let mut sent: Vec<Vec<u8>> = (0..1000).map(datagram).collect();
        sent.push(vec![b'z'; 65_507]);
        let mut received: Vec<Vec<u8>> = Vec::new();
        // Send in chunks and catch up, so a slow test machine cannot overflow the buffer.
        for chunk in sent.chunks(100) {
            for d in chunk {
                sender.send_to(d, addr).unwrap();
            }
            let target = received.len() + chunk.len();
            while received.len() < target {
                let batch = recv(&mut rx).unwrap();
                assert_eq!(batch.listener, 3);
                assert_eq!(*batch.ends.last().unwrap(), batch.data.len());
                received.extend(batch.datagrams().map(<[u8]>::to_vec));
            }
        }
        assert_eq!(received.len(), 1001);
        assert!(received == sent, "datagrams differ");
        let total: usize = sent.iter().map(Vec::len).sum();
        assert_eq!(stats.bytes.load(Ordering::Relaxed), total as u64);
        assert_eq!(stats.truncated.load(Ordering::Relaxed), 0);

        stop.store(true, Ordering::Release);
        handle.join().unwrap().unwrap();
        assert!(recv(&mut rx).is_none(), "the sender was not dropped");
    }

    /// Datagrams already in the kernel buffer when stop is requested are all delivered before
    /// the thread exits.
    #[test]
    fn stop_drains_what_the_kernel_already_holds() {
        let listener = bind(loopback(), 1 << 20).unwrap();
        let addr = listener.local_addr();
        let sender = UdpSocket::bind(loopback()).unwrap();
        for i in 0..200 {
            sender.send_to(&datagram(i), addr).unwrap();
        }
        // Stop before the thread even starts: the queued datagrams must still come through.
        let stop = Arc::new(AtomicBool::new(true));
        let (_stats, mut rx, handle) = start(listener, &stop);
        // Collect before joining: the thread may wait for room in the channel.
        let received = collect(&mut rx);
        handle.join().unwrap().unwrap();
        let sent: Vec<Vec<u8>> = (0..200).map(datagram).collect();
        assert_eq!(received.len(), 200);
        assert!(received == sent, "datagrams differ");
    }

    /// A stop request is noticed within the poll interval while the socket is idle.
    #[test]
    fn stop_ends_an_idle_listener_promptly() {
        let listener = bind(loopback(), 0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (_stats, mut rx, handle) = start(listener, &stop);
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        stop.store(true, Ordering::Release);
        handle.join().unwrap().unwrap();
        assert!(asked.elapsed() < Duration::from_secs(1), "took {:?}", asked.elapsed());
        assert!(recv(&mut rx).is_none());
    }

    /// An absurd request is capped by the kernel at `net.core.rmem_max`, and the listener
    /// reports the capped size, not the doubled figure the kernel reads back.
    #[test]
    fn receive_buffer_reports_the_kernel_cap() {
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse().unwrap();
        let requested = 1 << 30;
        assert!(rmem_max < requested);
        let listener = bind(loopback(), requested).unwrap();
        assert_eq!(listener.receive_buffer(), rmem_max);
    }

    /// Running records the socket inode, and it is the one the kernel lists with its drops.
    #[test]
    fn run_records_the_inode_listed_in_proc_net_udp() {
        let listener = bind(loopback(), 0).unwrap();
        let inode = listener.inode();
        assert_eq!(kernel::udp_drops(inode), Some(0));
        let stop = Arc::new(AtomicBool::new(true));
        let (stats, _rx, handle) = start(listener, &stop);
        assert_eq!(stats.udp_inode.load(Ordering::Relaxed), inode);
        handle.join().unwrap().unwrap();
    }

    /// Binding an address already taken fails with the address in the message.
    #[test]
    fn bind_error_names_the_address() {
        let taken = UdpSocket::bind(loopback()).unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().starts_with(&format!("cannot bind UDP listener on {addr}: ")), "{err}");
    }
}
