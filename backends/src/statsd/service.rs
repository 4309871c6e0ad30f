//! The StatsD backend's task side: paces and sends each batch and classifies the outcome.
//! What "delivered" means per transport is in `transport/`: `datagram.rs` and
//! `stream.rs`.

use std::io;
use std::time::Duration;

use super::config::{StatsdSinkConfig, Target};
use super::encode::{Batch, Encoder};
use super::transport::{Datagrams, Pacer, Stream, datagram, stream};
use crate::backend::{Backend, Encoded, SendError};
use crate::model::Window;
use crate::registry::BuildError;

/// How long one datagram may wait for room in the socket (a Unix receiver that does not read).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// `EMSGSIZE` (Linux): the datagram is larger than the socket or the route allows; resending
/// cannot help.
const EMSGSIZE: i32 = 90;

/// Forwards windows as StatsD lines over UDP, a Unix datagram socket, TCP or a Unix stream.
#[derive(Debug)]
pub struct Statsd {
    encoder: Encoder,
    link: Link,
    /// The part of a window's interval its datagrams are spread over (`pace`).
    pace: f64,
    pacer: Pacer,
}

#[derive(Debug)]
enum Link {
    Datagrams(Datagrams),
    Stream(Stream),
}

impl Statsd {
    /// A StatsD backend for a checked `config`. The socket is opened at the first send, so
    /// building needs no runtime and an absent upstream is not an error.
    pub fn new(config: &StatsdSinkConfig) -> Result<Self, BuildError> {
        config.check()?;
        let target = config.target()?;
        let encoder = Encoder {
            tag_format: config.tag_format,
            max_datagram_bytes: config.datagram_limit(),
            max_samples: config.max_samples_per_series,
            pack_values: config.pack_values,
            summaries_as_timers: config.summaries_as_timers,
            terminate_lines: target.is_stream(),
        };
        let link = match target {
            Target::Udp(addr) => Link::Datagrams(Datagrams::new(datagram::Peer::Udp(addr))),
            Target::Unix(path) => Link::Datagrams(Datagrams::new(datagram::Peer::Unix(path))),
            Target::Tcp(addr) => Link::Stream(Stream::new(stream::Peer::Tcp(addr))),
            Target::UnixStream(path) => Link::Stream(Stream::new(stream::Peer::Unix(path))),
        };
        Ok(Self { encoder, link, pace: config.pace, pacer: Pacer::default() })
    }
}

/// An I/O error as a delivery outcome.
fn classify(err: io::Error) -> SendError {
    if err.raw_os_error() == Some(EMSGSIZE) {
        return SendError::Rejected(format!("{err}: lower max_datagram_bytes"));
    }
    if err.kind() == io::ErrorKind::TimedOut {
        return SendError::Timeout;
    }
    // Connection refused, no buffer space, no such socket, network unreachable, a broken
    // connection: the upstream (or the kernel) may take it later, so the batch is retried.
    SendError::Io(err)
}

impl Backend for Statsd {
    type Batch = Batch;

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Batch>>, SendError> {
        // normalize → batch → encode in one pass: lines are built per series and packed into
        // datagrams (or writes) of whole lines.
        let batches = self.encoder.encode(window);
        // pace: the window's datagrams leave spread over part of its interval, so that the
        // upstream reads them as they come instead of overflowing on one burst. Below one
        // interval, so windows replayed after an outage catch up.
        if matches!(self.link, Link::Datagrams(_)) {
            let interval = Duration::from_millis(window.end_ms.saturating_sub(window.start_ms));
            self.pacer.start(batches.len(), interval.mul_f64(self.pace));
        }
        Ok(batches)
    }

    async fn send(&mut self, batch: &Batch) -> Result<(), SendError> {
        let bytes = match batch {
            Batch::Datagram(bytes) => bytes,
            // Refused for good: the delivery task logs the reason and counts the series.
            Batch::Unsendable(reason) => return Err(SendError::Rejected(reason.clone())),
        };
        // send → classify.
        match &mut self.link {
            Link::Datagrams(datagrams) => {
                self.pacer.wait().await;
                let sent = match tokio::time::timeout(SEND_TIMEOUT, datagrams.send(bytes)).await {
                    Ok(sent) => sent.map_err(classify),
                    Err(_) => Err(SendError::Timeout),
                };
                if sent.is_err() {
                    self.pacer.resume();
                }
                sent
            }
            // Bounded by the stream's own timeouts, which also drop a half-written connection.
            Link::Stream(stream) => stream.send(bytes).await.map_err(classify),
        }
    }

    async fn close(&mut self) {
        if let Link::Stream(stream) = &mut self.link {
            stream.close().await;
        }
    }
}
