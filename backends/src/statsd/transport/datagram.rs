//! Datagrams over UDP or a Unix datagram socket.
//!
//! What "delivered" means: datagrams carry no acknowledgement. A datagram counts as delivered
//! when the kernel accepted it and reported no error for it. Over UDP the socket is connected,
//! so the kernel reports the ICMP "port unreachable" an upstream host answers while nothing
//! listens: the error is read right after each send (`SO_ERROR`), and the send fails as
//! retriable so the same datagram goes again after backoff. On the loopback interface the ICMP
//! arrives before `send` returns, so no datagram is lost to a stopped upstream; across a
//! network the ICMP takes a round trip and the datagrams sent meanwhile are lost. Over a Unix
//! socket the kernel refuses a datagram at once when nobody listens (`ENOENT`,
//! `ECONNREFUSED`), retriable as well. What the kernel refuses on the sending side (`ENOBUFS`,
//! `ECONNREFUSED`) is an error of that datagram: retried, counted in
//! `sluice_backend_errors_total{class="retriable"}` and logged by the delivery task. A full
//! send buffer (`EAGAIN`) is waited out, never an error. A datagram lost after the upstream's
//! kernel received it (a full receive buffer, an upstream crash before its flush) cannot be
//! seen from here: pacing ([`super::Pacer`]) is what keeps the receive buffer from filling.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use tokio::net::{UdpSocket, UnixDatagram};

/// Where datagrams go.
#[derive(Debug)]
pub(crate) enum Peer {
    /// A UDP address.
    Udp(SocketAddr),
    /// A Unix datagram socket's path.
    Unix(PathBuf),
}

/// A datagram sender, its socket opened at the first send.
#[derive(Debug)]
pub(crate) struct Datagrams {
    peer: Peer,
    socket: Option<Socket>,
}

#[derive(Debug)]
enum Socket {
    Udp(UdpSocket),
    /// Unbound, with the path it sends to.
    Unix(UnixDatagram, PathBuf),
}

impl Datagrams {
    /// A sender to `peer`; nothing is opened yet.
    pub(crate) fn new(peer: Peer) -> Self {
        Self { peer, socket: None }
    }

    async fn socket(&mut self) -> io::Result<&Socket> {
        if self.socket.is_none() {
            let socket = match &self.peer {
                Peer::Udp(addr) => {
                    let local: SocketAddr = if addr.is_ipv4() {
                        (Ipv4Addr::UNSPECIFIED, 0).into()
                    } else {
                        (Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    let socket = UdpSocket::bind(local).await?;
                    // Connected, so the kernel reports ICMP errors for this destination.
                    socket.connect(addr).await?;
                    Socket::Udp(socket)
                }
                Peer::Unix(path) => Socket::Unix(UnixDatagram::unbound()?, path.clone()),
            };
            self.socket = Some(socket);
        }
        Ok(self.socket.as_ref().expect("socket just set"))
    }

    /// Sends one datagram; an error means the kernel refused it or reported an earlier one.
    pub(crate) async fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        match self.socket().await? {
            Socket::Udp(socket) => {
                socket.send(datagram).await?;
                // An ICMP error for this datagram (or an earlier one) is pending here.
                if let Some(err) = socket.take_error()? {
                    return Err(err);
                }
            }
            // Addressed by path at every send: an upstream that restarts binds a new socket
            // at the same path, which a connected socket would never reach.
            Socket::Unix(socket, path) => {
                socket.send_to(datagram, path).await?;
            }
        }
        Ok(())
    }
}
