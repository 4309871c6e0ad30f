//! The StatsD listeners in the source registry: one instance per configured socket.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use socket2::Type;
use tokio::sync::watch;

use super::{stream, udp, unix};
use crate::config::{Config, StatsdConfig};
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::ListenerStats;
use crate::topology::StartError;

/// A UDP socket: its address and `receive_buffer` in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct UdpSpec {
    addr: SocketAddr,
    receive_buffer: usize,
}

/// A Unix datagram socket: its file, `socket_mode` and `receive_buffer` in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct UnixSpec {
    path: PathBuf,
    mode: u32,
    receive_buffer: usize,
}

/// A Unix stream socket: its file and `socket_mode`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    path: PathBuf,
    mode: u32,
}

fn receive_buffer(statsd: &StatsdConfig) -> usize {
    usize::try_from(statsd.receive_buffer.0).unwrap_or(usize::MAX)
}

fn mode(statsd: &StatsdConfig) -> Result<u32, StartError> {
    statsd
        .socket_mode_bits()
        .ok_or_else(|| StartError::Invalid(format!("invalid socket_mode {:?}", statsd.socket_mode)))
}

fn path_error(key: &'static str, path: &Path, source: io::Error) -> StartError {
    StartError::Listener { key, target: path.display().to_string(), source }
}

impl Spec for UdpSpec {
    type Bound = udp::UdpListener;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        let Some(statsd) = &config.sources.statsd else { return Ok(Vec::new()) };
        let receive_buffer = receive_buffer(statsd);
        Ok(statsd.udp.iter().map(|&addr| Self { addr, receive_buffer }).collect())
    }

    fn describe(&self) -> String {
        format!("udp = \"{}\"", self.addr)
    }

    fn place(&self) -> Place<'_> {
        Place::Udp(self.addr)
    }

    fn bind(&self, activation: &mut Activation) -> Result<(udp::UdpListener, bool), StartError> {
        let inherited = activation.take_udp(self.addr);
        let adopted = inherited.is_some();
        let l = match inherited {
            Some(socket) => udp::adopt(socket, self.receive_buffer),
            None => udp::bind(self.addr, self.receive_buffer),
        }
        .map_err(|source| StartError::Listener { key: "udp", target: self.addr.to_string(), source })?;
        Ok((l, adopted))
    }
}

impl Spec for UnixSpec {
    type Bound = unix::UnixListener;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        let Some(statsd) = &config.sources.statsd else { return Ok(Vec::new()) };
        let (mode, receive_buffer) = (mode(statsd)?, receive_buffer(statsd));
        Ok(statsd.unix.iter().map(|path| Self { path: path.clone(), mode, receive_buffer }).collect())
    }

    fn describe(&self) -> String {
        format!("unix = \"{}\"", self.path.display())
    }

    fn place(&self) -> Place<'_> {
        Place::Path(&self.path)
    }

    fn bind(&self, activation: &mut Activation) -> Result<(unix::UnixListener, bool), StartError> {
        let inherited = activation.take_unix(&self.path, Type::DGRAM);
        let adopted = inherited.is_some();
        let l = match inherited {
            Some(socket) => unix::adopt(socket, &self.path, self.receive_buffer),
            None => unix::bind(&self.path, self.mode, self.receive_buffer),
        }
        .map_err(|source| path_error("unix", &self.path, source))?;
        Ok((l, adopted))
    }
}

impl Spec for StreamSpec {
    type Bound = stream::StreamListener;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        let Some(statsd) = &config.sources.statsd else { return Ok(Vec::new()) };
        let mode = mode(statsd)?;
        Ok(statsd.unix_stream.iter().map(|path| Self { path: path.clone(), mode }).collect())
    }

    fn describe(&self) -> String {
        format!("unix_stream = \"{}\"", self.path.display())
    }

    fn place(&self) -> Place<'_> {
        Place::Path(&self.path)
    }

    fn bind(&self, _: &mut Activation) -> Result<(stream::StreamListener, bool), StartError> {
        let l = stream::bind(&self.path, self.mode).map_err(|source| path_error("unix_stream", &self.path, source))?;
        Ok((l, false))
    }
}

impl Start for udp::UdpListener {
    fn label(&self) -> String {
        udp::UdpListener::label(self)
    }

    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = self.run(index, stats, Arc::clone(&to.pool), to.tx.clone(), Arc::clone(&stop))?;
        Ok(Handle::Thread(stop, thread))
    }
}

impl Start for unix::UnixListener {
    fn label(&self) -> String {
        unix::UnixListener::label(self)
    }

    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = self.run(index, stats, Arc::clone(&to.pool), to.tx.clone(), Arc::clone(&stop))?;
        Ok(Handle::Thread(stop, thread))
    }
}

impl Start for stream::StreamListener {
    fn label(&self) -> String {
        stream::StreamListener::label(self)
    }

    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(index, stats, Arc::clone(&to.pool), to.tx.clone(), stopped));
        Ok(Handle::Task(stop, task))
    }
}
