//! The StatsD backend's task side: sends each datagram and classifies the outcome.
//!
//! What "delivered" means: datagrams carry no acknowledgement. A datagram counts as delivered
//! when the kernel accepted it and reported no error for it. Over UDP the socket is connected,
//! so the kernel reports the ICMP "port unreachable" an upstream host answers while nothing
//! listens: the error is read right after each send (`SO_ERROR`), and the send fails as
//! retriable so the same datagram goes again after backoff. On the loopback interface the ICMP
//! arrives before `send` returns, so no datagram is lost to a stopped upstream; across a
//! network the ICMP takes a round trip and the datagrams sent meanwhile are lost. Over a Unix
//! socket the kernel refuses a datagram at once when nobody listens (`ENOENT`,
//! `ECONNREFUSED`), retriable as well. A datagram lost after the upstream received it (a full
//! receive buffer, an upstream crash before its flush) cannot be seen from here.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::{UdpSocket, UnixDatagram};

use super::config::{StatsdSinkConfig, Target};
use super::encode::{Batch, Encoder};
use crate::backend::{Backend, Encoded, SendError};
use crate::model::Window;

/// How long one datagram may wait for room in the socket (a Unix receiver that does not read).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// `EMSGSIZE` (Linux): the datagram is larger than the socket or the route allows; resending
/// cannot help.
const EMSGSIZE: i32 = 90;

/// Why a StatsD sink cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid {key}: {message}")]
pub struct BuildError {
    /// The config key to fix.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Forwards windows as StatsD datagrams over UDP or a Unix datagram socket.
#[derive(Debug)]
pub struct Statsd {
    target: Target,
    encoder: Encoder,
    socket: Option<Socket>,
}

#[derive(Debug)]
enum Socket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl Statsd {
    /// A StatsD backend for a checked `config`. The socket is opened at the first send, so
    /// building needs no runtime and an absent upstream is not an error.
    pub fn new(config: &StatsdSinkConfig) -> Result<Self, BuildError> {
        config.check().map_err(|(key, message)| BuildError { key, message })?;
        let target = config.target().map_err(|(key, message)| BuildError { key, message })?;
        let encoder = Encoder {
            tag_format: config.tag_format,
            max_datagram_bytes: config.datagram_limit(),
            max_samples: config.max_samples_per_series,
            pack_values: config.pack_values,
            summaries_as_timers: config.summaries_as_timers,
        };
        Ok(Self { target, encoder, socket: None })
    }

    async fn socket(&mut self) -> io::Result<&Socket> {
        if self.socket.is_none() {
            let socket = match &self.target {
                Target::Udp(addr) => {
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
                Target::Unix(_) => Socket::Unix(UnixDatagram::unbound()?),
            };
            self.socket = Some(socket);
        }
        Ok(self.socket.as_ref().expect("socket just set"))
    }

    async fn send_datagram(&mut self, datagram: &[u8]) -> io::Result<()> {
        let path: Option<PathBuf> = match &self.target {
            Target::Unix(path) => Some(path.clone()),
            Target::Udp(_) => None,
        };
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
            Socket::Unix(socket) => {
                socket.send_to(datagram, path.expect("unix target")).await?;
            }
        }
        Ok(())
    }
}

impl Backend for Statsd {
    type Batch = Batch;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Batch>>, SendError> {
        // normalize → batch → encode in one pass: lines are built per series and packed into
        // datagrams of whole lines.
        Ok(self.encoder.encode(window))
    }

    async fn send(&mut self, batch: &Batch) -> Result<(), SendError> {
        let datagram = match batch {
            Batch::Datagram(bytes) => bytes,
            // Refused for good: the delivery task logs the reason and counts the series.
            Batch::Unsendable(reason) => return Err(SendError::Rejected(reason.clone())),
        };
        match tokio::time::timeout(SEND_TIMEOUT, self.send_datagram(datagram)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) if err.raw_os_error() == Some(EMSGSIZE) => {
                Err(SendError::Rejected(format!("{err}: lower max_datagram_bytes")))
            }
            // Connection refused, no such socket, network unreachable: the upstream may come
            // back, so the datagram is retried.
            Ok(Err(err)) => Err(SendError::Io(err)),
            Err(_) => Err(SendError::Timeout),
        }
    }
}
